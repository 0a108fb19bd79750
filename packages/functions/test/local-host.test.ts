/**
 * Core Tools' local behaviour: the app directory is the working directory of the app's code (a
 * relative file read works) and the previous one comes back on close; `AzureWebJobs.<name>.Disabled`
 * from local.settings.json and from the environment, also in the form a shell keeps
 * (`AzureWebJobs_<name>_Disabled`).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { type Logger, silentLogger } from '@hubbub/kernel';
import { fixture, serve } from './support.ts';

describe('the app directory as working directory', () => {
  it('serves a page the app reads by a relative path, and restores the working directory on close', async () => {
    const before = process.cwd();
    const app = await serve({ app: 'serverless-chat-auth' });
    try {
      assert.equal(process.cwd(), fixture('serverless-chat-auth'));
      const res = await fetch(`${app.base}/api/index`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html');
      assert.equal(
        await res.text(),
        await readFile(join(fixture('serverless-chat-auth'), 'content/index.html'), 'utf8'),
      );
    } finally {
      await app[Symbol.asyncDispose]();
    }
    assert.equal(process.cwd(), before);
  });

  it('runs where it is in a worker thread, which cannot change directory, and says so', async () => {
    // tsx's loader is registered in the thread itself (Node 20 runs no --import in workers).
    const script = new URL('./worker-host.ts', import.meta.url).href;
    const worker = new Worker(
      `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(script)}); })`,
      { eval: true, execArgv: ['--conditions=source'] },
    );
    const [result] = (await once(worker, 'message')) as [{ warnings: string[]; functions: number }];
    await worker.terminate();
    assert.equal(result.functions, 3);
    assert.ok(
      result.warnings.some((w) => w.includes('cannot change it')),
      JSON.stringify(result.warnings),
    );
  });

  it('leaves the working directory alone with appWorkingDirectory: false', async () => {
    const before = process.cwd();
    await using app = await serve({ app: 'serverless-chat-auth', appWorkingDirectory: false });
    assert.equal(process.cwd(), before);
    assert.equal((await fetch(`${app.base}/api/index`)).status, 500);
  });
});

describe('AzureWebJobs.<name>.Disabled', () => {
  it('comes from local.settings.json and the environment, dotted or with underscores', async () => {
    await using app = await serve({
      app: 'disabled-app',
      settings: { 'AzureWebJobs.byEnvironment.Disabled': '1', AzureWebJobs_BYSHELLSAFENAME_Disabled: 'True' },
    });
    assert.deepEqual(
      app.host.functions.map((f) => f.name),
      ['alive', 'enabledByFile'],
    );
    assert.equal((await fetch(`${app.base}/api/byFile`)).status, 404);
    assert.equal(await (await fetch(`${app.base}/api/alive`)).text(), 'alive');
  });
});

describe('only (func start --functions)', () => {
  it('loads only the functions named, case-insensitively, still leaving disabled ones out', async () => {
    const warnings: unknown[] = [];
    const logger: Logger = { ...silentLogger, warn: (fields) => warnings.push(fields), child: () => logger };
    await using app = await serve({
      app: 'disabled-app',
      only: ['ALIVE', 'byFile', 'enabledbyfile', 'nosuch'],
      logger,
    });
    assert.deepEqual(
      app.host.functions.map((f) => f.name),
      ['alive', 'enabledByFile'],
    );
    assert.equal((await fetch(`${app.base}/api/byEnvironment`)).status, 404);
    assert.deepEqual(warnings, [{ function: 'nosuch' }]);
  });
});
