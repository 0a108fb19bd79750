/**
 * An application's components run as `hubbub <name>`: declared under hubbub.components in a
 * package.json of the project the command runs in, run in a process of their own.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ran, hubbub as run } from '@hubbub/test-kit';
import { discoverAppComponents } from '../src/app-components.ts';

// Inside the repository (git ignores test-artifacts/), so the CLI run from it finds tsx.
const artifacts = new URL('../../../test-artifacts/', import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });
const root = mkdtempSync(join(artifacts, 'app-components-'));
after(() => rmSync(root, { recursive: true, force: true }));

const write = (path: string, content: unknown) => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
};

// A project with workspaces: one app declares components, another declares broken ones.
write('package.json', { name: 'project', private: true, workspaces: ['apps/*', 'tools/one'] });
write('apps/shop/package.json', {
  name: '@x/shop',
  hubbub: {
    components: {
      worker: { summary: 'the worker', entry: 'worker.mjs', args: ['--role', 'worker'], node: ['--no-warnings'] },
      waiter: { entry: 'waiter.mjs' },
      unbuilt: { entry: 'dist/missing.js' },
    },
  },
});
write('apps/shop/worker.mjs', `process.stdout.write(JSON.stringify(process.argv.slice(2)) + '\\n'); process.exit(3);`);
// Counts the SIGINTs it hears for 400 ms after the first, then exits with that count.
write(
  'apps/shop/waiter.mjs',
  `let n = 0; process.on('SIGINT', () => { if (n++ === 0) setTimeout(() => process.exit(10 + n), 400); });
   process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`,
);
write('apps/spare/package.json', {
  name: '@x/spare',
  hubbub: {
    components: {
      'Bad Name': { entry: 'a.js' },
      escape: { entry: '../shop/worker.mjs' },
      noentry: { args: [] },
      badargs: { entry: 'a.js', args: 'x' },
      worker: { entry: 'a.js' },
    },
  },
});
write('tools/one/package.json', { name: 'one', hubbub: { components: [] } });

const hubbub = (args: string[], cwd = root) => run(args, { HUBBUB_BUS_URL: '', HUBBUB_BUS_KEY: '' }, cwd);

describe('application components', () => {
  it('finds the declarations of every workspace from anywhere in the project, skipping bad ones with a reason', () => {
    for (const cwd of [root, join(root, 'apps/shop'), join(root, 'apps/spare')]) {
      const { components, skipped } = discoverAppComponents(cwd);
      assert.deepEqual(
        components.map((c) => [c.name, c.from]),
        [
          ['worker', '@x/shop'],
          ['waiter', '@x/shop'],
          ['unbuilt', '@x/shop'],
        ],
      );
      const reasons = skipped.join('\n');
      assert.match(reasons, /'Bad Name' a name is lower-case/);
      assert.match(reasons, /'escape' entry must be inside its package/);
      assert.match(reasons, /'noentry' needs an entry/);
      assert.match(reasons, /'badargs' args must be strings/);
      assert.match(reasons, /'worker' is also declared by @x\/shop/);
      assert.match(reasons, /one: hubbub.components must be an object/);
    }
    assert.deepEqual(discoverAppComponents(tmpdir()).components, []);
  });

  it('runs one in its own process with its node flags, its args and the user’s, returning its exit code', async () => {
    const out = await ran(hubbub(['worker', '--port', '0']));
    assert.equal(out.code, 3, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), ['--role', 'worker', '--port', '0']);
    const help = await ran(hubbub(['help'], join(root, 'apps/shop')));
    assert.match(help.stdout, /This project's components[^\n]*\n {2}worker +the worker\n/);
    assert.match(help.stdout, /skipped: @x\/spare: component 'escape'/);
  });

  it('hands a SIGINT to the component once, and says when it is not built', async () => {
    const waiting = hubbub(['waiter']);
    const deadline = Date.now() + 30_000;
    while (!waiting.stdout().includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    waiting.child.kill('SIGINT');
    assert.equal(await waiting.exited, 11, `one SIGINT heard: ${waiting.stderr()}`);
    const unbuilt = await ran(hubbub(['unbuilt']));
    assert.equal(unbuilt.code, 1);
    assert.match(
      unbuilt.stderr,
      /unbuilt \(@x\/shop\) is not built: .*dist\/missing\.js is missing.*\[CLI_APP_NOT_BUILT\]/,
    );
    const unknown = await ran(hubbub(['nothing']));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /the commands are .*\bwaiter\b.*\[CLI_UNKNOWN_COMMAND\]/);
  });
});
