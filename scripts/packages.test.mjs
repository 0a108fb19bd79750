// The packages as a user outside this repository gets them: each workspace package is packed
// (`npm pack`) and its tarball holds its compiled code, declarations and bin, and no tests. The
// README's "Using the hub from your own code" snippet then installs with `npm install --offline`
// (@hubbub/hub's tarball with those of the @hubbub packages it needs, and their third-party
// packages packed from this repository's node_modules: no registry) into a scratch project in the
// system's temporary directory, type-checks with tsc and runs with plain node (the official
// SignalR client calls it).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as signalR from '@microsoft/signalr';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);
/** Every workspace package but the private test helpers. */
const packages = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  .workspaces.filter((w) => w.startsWith('packages/') && w !== 'packages/test-kit')
  .map((w) => w.slice('packages/'.length));
const npm = (args, cwd, timeout = 240_000) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout, maxBuffer: 16 << 20 });

/** The first ```ts block under the README heading. */
function readmeSnippet(heading) {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`## ${heading}`));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match, `README has a TypeScript block under "${heading}"`);
  return match[1];
}

/** The packages and, transitively, the @hubbub packages they depend on. */
function withHubbubDependencies(names) {
  const out = new Set();
  const add = (name) => {
    if (out.has(name)) return;
    out.add(name);
    const { dependencies = {} } = manifestOf(join(root, 'packages', name));
    for (const dep of Object.keys(dependencies)) if (dep.startsWith('@hubbub/')) add(dep.slice('@hubbub/'.length));
  };
  for (const name of names) add(name);
  return [...out];
}

/** The node_modules directory `name` resolves to from `from`, as Node resolves it. */
function resolveFrom(from, name) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

const manifestOf = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/**
 * Packs the third-party closure of the packages (from this repository's node_modules) and
 * returns the consumer's `dependencies` (our tarballs, TypeScript, @types/node) and `overrides`
 * (every other name → its tarball; a second version of a name under the package that needs it).
 */
async function localTarballs(scratch, tarballs, wanted) {
  const thirdParty = join(scratch, 'third-party');
  mkdirSync(thirdParty);
  const found = new Map(); // directory → { name, version, parents }
  const walk = (dir) => {
    const m = manifestOf(dir);
    for (const dep of Object.keys({ ...m.dependencies, ...m.optionalDependencies })) {
      if (dep.startsWith('@hubbub/')) continue;
      const at = resolveFrom(dir, dep);
      if (at === undefined) continue; // an optional dependency not installed here
      const known = found.get(at);
      if (known !== undefined) {
        known.parents.add(m.name);
        continue;
      }
      found.set(at, { name: dep, version: manifestOf(at).version, parents: new Set([m.name]) });
      walk(at);
    }
  };
  for (const p of wanted) walk(join(root, 'packages', p));
  for (const dir of ['typescript', '@types/node']) {
    const at = join(root, 'node_modules', dir);
    found.set(at, { name: dir, version: manifestOf(at).version, parents: new Set(['consumer']) });
    walk(at);
  }
  await npm(['pack', '--ignore-scripts', '--pack-destination', thirdParty, ...found.keys()], root);
  const tarballOf = ({ name, version }) =>
    `file:${join(thirdParty, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`)}`;
  const dependencies = {};
  const overrides = {};
  for (const p of wanted) dependencies[`@hubbub/${p}`] = `file:${join(tarballs, `hubbub-${p}-0.1.0.tgz`)}`;
  const topLevel = new Map();
  for (const [dir, entry] of found) {
    if (dir === join(root, 'node_modules', entry.name)) topLevel.set(entry.name, entry);
  }
  for (const [name, entry] of topLevel) {
    if (name === 'typescript' || name === '@types/node') dependencies[name] = tarballOf(entry);
    else overrides[name] = tarballOf(entry);
  }
  for (const [dir, entry] of found) {
    if (topLevel.get(entry.name) !== undefined && dir === join(root, 'node_modules', entry.name)) continue;
    for (const parent of entry.parents) overrides[parent] = { '.': overrides[parent], [entry.name]: tarballOf(entry) };
  }
  for (const [name, spec] of Object.entries(dependencies)) if (name.startsWith('@hubbub/')) overrides[name] = spec;
  return { dependencies, overrides };
}

describe('packed packages in a project outside the repository', { timeout: 600_000 }, () => {
  let scratch;
  let tarballs;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'hubbub-consumer-'));
    tarballs = join(scratch, 'tarballs');
    mkdirSync(tarballs);
    // The compiled code is what ships: build it (a no-op when it is current).
    await run(join(root, 'node_modules/.bin/tsc'), ['-b', ...packages.map((p) => `packages/${p}`)], {
      cwd: root,
      timeout: 240_000,
    });
    await npm(['pack', '--pack-destination', tarballs, ...packages.map((p) => `--workspace=packages/${p}`)], root);
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('each tarball holds README, compiled code and declarations for every export, and no tests or tsconfig', async () => {
    for (const name of packages) {
      const tarball = join(tarballs, `hubbub-${name}-0.1.0.tgz`);
      const { stdout } = await run('tar', ['-tzf', tarball]);
      const files = stdout
        .split('\n')
        .filter((f) => f !== '' && !f.endsWith('/'))
        .map((f) => f.replace(/^package\//, ''));
      assert.ok(files.includes('README.md'), `${name}: README.md`);
      const offending = files.filter(
        (f) => /\.test\.|\.bench\.|(^|\/)(test|bench)\/|tsconfig|\.tsbuildinfo$|\.ts$/.test(f) && !f.endsWith('.d.ts'),
      );
      assert.deepEqual(offending, [], `${name}: ships only what runs`);
      const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
      assert.equal(manifest.private, undefined, `${name}: publishable`);
      assert.equal(manifest.license, 'MIT', `${name}: licensed`);
      for (const [path, target] of Object.entries(manifest.exports ?? {})) {
        if (typeof target === 'string') continue;
        for (const file of [target.types, target.default]) {
          assert.ok(files.includes(file.replace(/^\.\//, '')), `${name}: export ${path} → ${file} is in the tarball`);
        }
      }
      if (manifest.bin !== undefined) {
        for (const file of Object.values(manifest.bin)) assert.ok(files.includes(file), `${name}: bin ${file}`);
      }
    }
  });

  it('install offline; the README snippet type-checks with tsc and runs with plain node', async () => {
    const project = join(scratch, 'app');
    mkdirSync(project);
    // No registry: every third-party package the tarballs need (and the consumer's compiler and
    // Node types) is packed from this repository's node_modules, and the consumer's overrides
    // point each name at its tarball (nested versions under their parent).
    // What the snippet imports, with the @hubbub packages it depends on (the full closure of every
    // package would take minutes to pack and install; their tarballs are checked above).
    const { dependencies, overrides } = await localTarballs(scratch, tarballs, withHubbubDependencies(['hub']));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies, overrides }, null, 2),
    );
    await npm(['install', '--offline'], project);

    const snippet = readmeSnippet('Using the hub from your own code');
    const listen = 'await server.listen({ port: 5000 });';
    assert.ok(snippet.includes(listen), 'the snippet listens on port 5000');
    // Port 0 instead of 5000 (a test must not take a fixed port), and say where it listens.
    writeFileSync(
      join(project, 'main.ts'),
      snippet.replace(listen, 'console.log(JSON.stringify(await server.listen({ port: 0 })));'),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'es2022', module: 'nodenext', strict: true, skipLibCheck: false, outDir: 'out' },
        files: ['main.ts'],
      }),
    );
    await run(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', project], {
      cwd: project,
      timeout: 120_000,
    }).catch((err) => assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`));

    const child = spawn(process.execPath, [join(project, 'out/main.js')], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const { url } = await new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        child.stderr.on('data', (d) => {
          err += d;
        });
        child.stdout.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line !== undefined) resolve(JSON.parse(line));
        });
        child.on('exit', (code) => reject(new Error(`the snippet exited with ${code}: ${err}`)));
      });
      const connection = new signalR.HubConnectionBuilder()
        .withUrl(`${url}/hubs/chat`)
        .configureLogging(signalR.LogLevel.None)
        .build();
      const got = new Promise((resolve) => connection.on('message', resolve));
      await connection.start();
      await connection.invoke('send', 'hello');
      assert.equal(await got, 'hello');
      await connection.stop();
    } finally {
      child.kill();
    }
  });
});
