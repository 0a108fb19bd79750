/**
 * Core Tools' way with a partly unsupported app: a function whose binding cannot load is reported
 * (`function:skipped`, naming the function and binding) and left out, the rest runs; `strict`
 * fails the start instead. Function keys are checked unless `enforceKeys: false`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFunctionsHost, type FunctionsError } from '../src/index.ts';
import { serveApp } from '../src/testing/index.ts';
import { fixture } from './support.ts';

describe('a function whose binding cannot load', () => {
  it('is reported and skipped while the rest of the app runs', async () => {
    const skipped: { name: string; code: string; detail: Record<string, unknown> }[] = [];
    const host = createFunctionsHost({ appDir: fixture('partly-supported') });
    host.on('function:skipped', (err: FunctionsError, info) =>
      skipped.push({ name: info.function, code: err.code, detail: { ...err.detail } }),
    );
    await host.start();
    try {
      assert.deepEqual(
        host.functions.map((f) => f.name),
        ['hello', 'goodbye'],
      );
      assert.deepEqual(
        skipped.map((s) => [s.name, s.code]),
        [
          ['saveToSql', 'FUNCTIONS_UNKNOWN_BINDING'],
          ['fromEventHub', 'FUNCTIONS_UNKNOWN_BINDING'],
          ['needsSetting', 'FUNCTIONS_INVALID_SETTING'],
        ],
      );
      assert.equal(skipped[0]?.detail.type, 'sql');
      assert.equal(skipped[1]?.detail.type, 'eventHubTrigger');
      assert.equal(skipped[2]?.detail.setting, 'MissingQueue');
    } finally {
      await host.close();
    }
  });

  it('fails the start under strict, naming the first', async () => {
    const host = createFunctionsHost({ appDir: fixture('partly-supported'), strict: true });
    await assert.rejects(host.start(), (err: FunctionsError) => {
      assert.equal(err.code, 'FUNCTIONS_UNKNOWN_BINDING');
      assert.equal(err.detail?.function, 'saveToSql');
      return true;
    });
    await host.close();
  });
});

describe('function keys', () => {
  it('are checked by default and not with enforceKeys: false (Core Tools without --enforce-keys)', async () => {
    await using enforced = await serveApp({ appDir: fixture('partly-supported') });
    assert.equal((await fetch(`${enforced.base}/api/goodbye`)).status, 401);
    const withKey = await fetch(`${enforced.base}/api/goodbye`, {
      headers: { 'x-functions-key': enforced.host.keys.host[0]! },
    });
    assert.equal(await withKey.text(), 'goodbye');
    await using local = await serveApp({ appDir: fixture('partly-supported'), enforceKeys: false });
    const open = await fetch(`${local.base}/api/goodbye`);
    assert.equal(open.status, 200);
    assert.equal(await open.text(), 'goodbye');
  });
});
