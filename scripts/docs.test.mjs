// The docs hold: docs/errors.md lists each code once, links stay inside the repository, and the
// `npx hubbub …` client commands of the READMEs run as written against `npm start` (on a free
// port, in a temporary data directory, found through its running.json like a user's would be).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

function markdownFiles() {
  const out = ['README.md', 'bench/RESULTS.md'];
  const walk = (dir) => {
    for (const name of readdirSync(join(root, dir))) {
      const path = join(dir, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) out.push(path);
    }
  };
  walk('docs');
  for (const base of ['packages', 'apps', 'examples']) {
    for (const name of readdirSync(join(root, base))) {
      if (existsSync(join(root, base, name, 'README.md'))) out.push(join(base, name, 'README.md'));
    }
  }
  return out;
}

/** `npx hubbub …` lines of the ```sh blocks, continuation lines joined and comments dropped. */
function shellCommands(file) {
  const text = readFileSync(join(root, file), 'utf8');
  const commands = [];
  for (const [, block] of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block.replace(/\\\n\s*/g, '');
    for (const line of joined.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command.startsWith('npx hubbub ')) commands.push(command);
    }
  }
  return commands;
}

/** The commands that talk to a running system or print something, not those that run a server. */
const client = /^npx hubbub (send|ls|peek|receive|dlq|token|keys|help|--version)\b/;

describe('the docs', () => {
  it('docs/errors.md lists every code once', () => {
    const codes = [...readFileSync(join(root, 'docs/errors.md'), 'utf8').matchAll(/^\| `([A-Z0-9_]+)`/gm)].map(
      (m) => m[1],
    );
    const twice = codes.filter((c, i) => codes.indexOf(c) !== i);
    assert.deepEqual(twice, []);
  });

  it('link only to files inside the repository, and those exist', () => {
    const outside = [];
    for (const file of markdownFiles()) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const path = resolve(root, dirname(file), target.split('#')[0]);
        if (relative(root, path).startsWith('..') || !existsSync(path)) outside.push(`${file} → ${target}`);
      }
      for (const [mention] of text.matchAll(/\.\.\/shared\/\S+|shared\/research\/\S+/g))
        outside.push(`${file}: ${mention}`);
    }
    assert.deepEqual(outside, []);
  });

  it('the READMEs’ npx hubbub client commands run as written against npm start', { timeout: 300_000 }, async () => {
    const commands = [
      'README.md',
      'packages/cli/README.md',
      'apps/delivery/README.md',
      'examples/seed-live-location/README.md',
    ]
      .flatMap(shellCommands)
      .filter((c) => client.test(c));
    assert.ok(commands.some((c) => c.startsWith('npx hubbub send ')) && commands.some((c) => c === 'npx hubbub ls'));
    await run(join(root, 'node_modules/.bin/tsc'), ['-b', 'packages/cli', 'apps/delivery'], {
      cwd: root,
      timeout: 240_000,
    });
    const data = mkdtempSync(join(tmpdir(), 'hubbub-docs-'));
    const env = { ...process.env, HUBBUB_DATA_DIR: data, HUBBUB_LOG_LEVEL: 'warn' };
    for (const name of ['HUBBUB_BUS_URL', 'HUBBUB_BUS_KEY', 'HUBBUB_SIGNALR_CONNECTION_STRING', 'PORT', 'HUBBUB_PORT'])
      delete env[name];
    // npm start, as package.json runs it, on a free port.
    const start = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start;
    const [command, ...args] = start.split(' ');
    assert.equal(command, 'node');
    const server = spawn(process.execPath, [...args, '--port', '0', '--no-simulate'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      let err = '';
      server.stdout.on('data', (d) => {
        out += d;
      });
      server.stderr.on('data', (d) => {
        err += d;
      });
      await new Promise((ok, fail) => {
        const timer = setInterval(() => {
          if (existsSync(join(data, 'running.json')) && out.includes('Press Ctrl-C')) ok(clearInterval(timer));
        }, 100);
        server.on('exit', (code) => fail(new Error(`npm start exited with ${code}: ${err}`)));
      });
      for (const command of commands) {
        const result = await run('sh', ['-c', command], { cwd: root, env, timeout: 60_000 }).catch((err) => err);
        assert.equal(result.code ?? 0, 0, `${command}\n${result.stdout}${result.stderr}`);
      }
    } finally {
      server.kill('SIGINT');
      await new Promise((ok) => server.on('close', ok));
      rmSync(data, { recursive: true, force: true });
    }
  });
});
