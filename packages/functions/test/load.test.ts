import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createFunctionsHost } from '../src/index.ts';
import { fixture } from './support.ts';

async function startFails(app: string, settings: Record<string, string> = {}) {
  const host = createFunctionsHost({ appDir: fixture(app), settings, strict: true });
  try {
    await host.start();
  } catch (err) {
    return err as { code: string; detail?: Record<string, unknown>; message: string };
  } finally {
    await host.close();
  }
  assert.fail(`${app} started`);
}

describe('loading failures (strict)', () => {
  const cases: [string, string][] = [
    ['broken-no-main', 'FUNCTIONS_APP_LOAD_FAILED'],
    ['broken-no-match', 'FUNCTIONS_APP_LOAD_FAILED'],
    ['broken-throws', 'FUNCTIONS_APP_LOAD_FAILED'],
    ['does-not-exist', 'FUNCTIONS_APP_LOAD_FAILED'],
    ['broken-unknown-binding', 'FUNCTIONS_UNKNOWN_BINDING'],
    ['broken-unknown-trigger', 'FUNCTIONS_UNKNOWN_BINDING'],
    ['broken-missing-setting', 'FUNCTIONS_INVALID_SETTING'],
    ['broken-route', 'FUNCTIONS_INVALID_BINDING'],
    ['broken-schedule', 'FUNCTIONS_INVALID_SCHEDULE'],
    ['broken-settings', 'FUNCTIONS_INVALID_SETTING'],
    ['broken-prefetch', 'FUNCTIONS_INVALID_SETTING'],
  ];
  for (const [app, code] of cases) {
    it(`${app} fails with ${code}`, async () => {
      const err = await startFails(app);
      assert.equal(err.code, code, err.message);
    });
  }

  it('reports a package.json that is not JSON', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-functions-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'package.json'), '{ "name": ');
    const host = createFunctionsHost({ appDir: dir });
    await assert.rejects(host.start(), { code: 'FUNCTIONS_APP_LOAD_FAILED' });
  });

  it('names the function and binding of an unknown binding type', async () => {
    const err = await startFails('broken-unknown-binding');
    assert.equal(err.detail?.function, 'saveDoc');
    assert.equal(err.detail?.type, 'sql');
    assert.match(String(err.detail?.binding), /^sqlOutput/);
  });

  it('names the missing setting, and starts once it is given', async () => {
    const err = await startFails('broken-missing-setting');
    assert.equal(err.detail?.setting, 'OrdersQueue');
    const connection = await startFails('broken-missing-setting', { OrdersQueue: 'orders' });
    assert.equal(connection.code, 'FUNCTIONS_INVALID_SETTING');
    assert.equal(connection.detail?.setting, 'ServiceBusConnection');
    const noBus = await startFails('broken-missing-setting', {
      OrdersQueue: 'orders',
      ServiceBusConnection: 'Endpoint=sb://127.0.0.1;SharedAccessKeyName=k;SharedAccessKey=v',
    });
    assert.equal(noBus.code, 'FUNCTIONS_BINDING_UNAVAILABLE');
    assert.equal(noBus.detail?.setting, 'ServiceBusConnection');
  });

  it('validates options at construction', () => {
    assert.throws(() => createFunctionsHost({ appDir: '' }), { code: 'FUNCTIONS_INVALID_SETTING' });
    assert.throws(() => createFunctionsHost({ appDir: 'x', drainTimeoutMs: 1.5 }), {
      code: 'FUNCTIONS_INVALID_SETTING',
    });
    assert.throws(() => createFunctionsHost({ appDir: 'x', maxRequestBodyBytes: -1 }), {
      code: 'FUNCTIONS_INVALID_SETTING',
    });
    assert.throws(() => createFunctionsHost({ appDir: 'x', settings: { a: {} as unknown as string } }), {
      code: 'FUNCTIONS_INVALID_SETTING',
    });
  });

  it('refuses to start twice', async () => {
    const host = createFunctionsHost({ appDir: fixture('esm-app') });
    await host.start();
    await assert.rejects(host.start(), { code: 'FUNCTIONS_CLOSED' });
    await host.close();
  });
});
