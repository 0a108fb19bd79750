/**
 * host.json `logging.logLevel`: the least level of a function's lines, by Azure's categories —
 * `Function.<name>` for its `Executing` / `Executed` lines and `Function.<name>.User` for what its
 * code logs — on the host's thread and on invocation worker threads alike.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createConsoleLogger, waitFor } from '@hubbub/kernel';
import { parseLogLevels, passes, thresholdOf } from '../src/log-levels.ts';
import { MemoryBus, serveApp } from '../src/testing/index.ts';
import { fixture, serve } from './support.ts';

describe('host.json logging.logLevel', () => {
  for (const workerThreads of [0, 1]) {
    it(`filters each function's lines by its categories (${workerThreads === 0 ? 'host thread' : 'worker thread'})`, async () => {
      const lines: Array<{ level: string; msg: string }> = [];
      const logger = createConsoleLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
      const bus = new MemoryBus({ maxDeliveryCount: 1 });
      await using _app = await serve({ app: 'log-levels-app', bus, logger, workerThreads });
      bus.enqueue('quiet', { body: { n: 1 } });
      bus.enqueue('user-only', { body: { n: 2 } });
      bus.enqueue('user-only', { body: { n: 3, fail: true } });
      await waitFor(() => bus.deliveries.length === 3 && bus.deliveries.every((d) => d.settled !== undefined));
      const messages = lines.map((l) => l.msg);
      const has = (pattern: RegExp) => messages.some((m) => pattern.test(m));
      const shown = JSON.stringify(messages, null, 1);

      // Function.quiet: Warning — no Executing/Executed lines, the code's warning but not its info.
      assert.ok(!has(/^Execut(ing|ed) 'Functions\.quiet'/), shown);
      assert.ok(has(/^quiet warn 1$/), shown);
      assert.ok(!has(/quiet info/), shown);
      // Function.userOnly.User: Error (the key in lower case) — its Executing/Executed lines at the
      // default Information, the code's error but not its info; a failure's line still written.
      assert.ok(has(/^Executing 'Functions\.userOnly'/), shown);
      assert.ok(has(/^Executed 'Functions\.userOnly' \(Succeeded/), shown);
      assert.ok(has(/^Executed 'Functions\.userOnly' \(Failed/), shown);
      assert.ok(has(/^userOnly error 2$/), shown);
      assert.ok(!has(/userOnly info/), shown);
    });
  }

  it('takes the most specific category, else default, case-insensitively', () => {
    const table = parseLogLevels({
      logLevel: { default: 'Warning', Function: 'information', 'Function.a': 'None', 'Function.a.User': 'Trace' },
    })!;
    assert.equal(thresholdOf(table, 'Function.a'), 'none');
    assert.equal(thresholdOf(table, 'Function.A.User'), 'debug');
    assert.equal(thresholdOf(table, 'Function.b.User'), 'info');
    assert.equal(thresholdOf(table, 'Host.Results'), 'warn');
    assert.equal(thresholdOf(table, 'Function.ab'), 'info', 'a prefix ends at a dot');
    assert.equal(thresholdOf(parseLogLevels({ logLevel: { 'Function.a': 'Error' } }), 'Function.b'), undefined);
    assert.equal(thresholdOf(undefined, 'Function.a'), undefined);
    assert.equal(thresholdOf(parseLogLevels({ logLevel: { x: 'Error' } }), 'constructor'), undefined);
    assert.equal(passes('warn', 'info'), false);
    assert.equal(passes('warn', 'error'), true);
    assert.equal(passes('none', 'error'), false);
    assert.equal(passes(undefined, 'debug'), true);
    assert.equal(parseLogLevels(undefined), undefined);
    assert.equal(parseLogLevels({}), undefined);
  });

  it('reads a hostile host.json section as data: __proto__ and constructor are categories, nothing is polluted', () => {
    const table = parseLogLevels(
      JSON.parse('{"logLevel":{"__proto__":"Error","constructor":"None","toString":"Debug"}}'),
    );
    assert.equal(thresholdOf(table, '__proto__'), 'error');
    assert.equal(thresholdOf(table, 'constructor'), 'none');
    assert.equal(thresholdOf(table, 'Function.a'), undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
    // The same table after a structured clone (as a worker thread gets it).
    const cloned = structuredClone(table);
    assert.equal(thresholdOf(cloned, 'toString'), 'debug');
    assert.equal(thresholdOf(cloned, 'hasOwnProperty'), undefined);
    const plain = structuredClone(parseLogLevels({ logLevel: { a: 'Error' } }));
    assert.equal(thresholdOf(plain, 'constructor'), undefined, "the clone's prototype is not a category");
    assert.equal(thresholdOf(plain, '__proto__'), undefined);
  });

  it('refuses a bad level, a bad section and an empty category with FUNCTIONS_INVALID_SETTING', async () => {
    const cases: Array<[unknown, string]> = [
      [{ logLevel: { 'Function.a': 'Loud' } }, 'logging.logLevel.Function.a'],
      [{ logLevel: { 'Function.a': 3 } }, 'logging.logLevel.Function.a'],
      [{ logLevel: { '': 'Error' } }, 'logging.logLevel.'],
      [{ logLevel: ['Error'] }, 'logging.logLevel'],
      ['Warning', 'logging'],
    ];
    for (const [logging, field] of cases) {
      assert.throws(
        () => parseLogLevels(logging),
        (err: { code?: string; detail?: { field?: string } }) =>
          err.code === 'FUNCTIONS_INVALID_SETTING' && err.detail?.field === field,
        JSON.stringify(logging),
      );
    }
    // The host does not start on such a host.json.
    const dir = mkdtempSync(join(tmpdir(), 'hubbub-log-levels-'));
    try {
      cpSync(fixture('log-levels-app'), dir, { recursive: true });
      writeFileSync(
        join(dir, 'host.json'),
        JSON.stringify({ version: '2.0', logging: { logLevel: { default: 'Loud' } } }),
      );
      await assert.rejects(serveApp({ appDir: dir, bus: new MemoryBus() }), { code: 'FUNCTIONS_INVALID_SETTING' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
