/**
 * The host survives its app's stray errors and hanging handlers: a rejection nobody awaits is
 * logged and the worker runs on; an uncaught exception (a throw in a timer callback) is logged with
 * the function's name and its worker is replaced, the next request going to a live one; host.json
 * `functionTimeout` fails an invocation that runs too long with FUNCTIONS_TIMEOUT (HTTP 500, the
 * message abandoned and delivered again) and frees its slot, replacing the worker that ran it.
 * (A stray error on the host's own thread is the process owner's: see packages/system.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Logger, waitFor } from '@hubbub/kernel';
import { FunctionsError } from '../src/errors.ts';
import { DEFAULT_FUNCTION_TIMEOUT_MS, functionTimeoutMs } from '../src/host-config.ts';
import { MemoryBus } from '../src/testing/index.ts';
import { serve } from './support.ts';

interface Line {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields, message });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

const json = async (res: Response) => (await res.json()) as { threadId?: number; code?: string };

describe('stray errors on a worker thread', () => {
  it('logs an unhandled rejection with the function name and keeps the worker', async () => {
    const lines: Line[] = [];
    await using app = await serve({
      app: 'stray-app',
      bus: new MemoryBus(),
      workerThreads: 1,
      logger: recordingLogger(lines),
    });
    const before = await json(await fetch(`${app.base}/api/where`));
    const res = await fetch(`${app.base}/api/strayReject`);
    assert.equal(res.status, 200);
    await waitFor(() => lines.some((l) => l.message.startsWith('Unhandled promise rejection')));
    const line = lines.find((l) => l.message.startsWith('Unhandled promise rejection'))!;
    assert.equal(line.level, 'error');
    assert.equal(line.fields.function, 'strayReject');
    assert.equal((line.fields.err as { message: string }).message, 'stray rejection');
    const after = await json(await fetch(`${app.base}/api/where`));
    assert.equal(after.threadId, before.threadId, 'the same worker answers');
  });

  it('replaces a worker whose app threw from a timer; the next request is answered by a live one', async () => {
    const lines: Line[] = [];
    await using app = await serve({
      app: 'stray-app',
      bus: new MemoryBus(),
      workerThreads: 1,
      logger: recordingLogger(lines),
    });
    const before = await json(await fetch(`${app.base}/api/where`));
    assert.equal(await (await fetch(`${app.base}/api/strayThrow`)).text(), 'scheduled');
    // The throw happens on the worker's own timer: once the host knows of it (it logs it), the very
    // next request must not go to the dead worker — no waiting for the replacement to be ready.
    // (Sent before the worker's timer has fired, a request is rightly answered by the live worker.)
    await waitFor(() => lines.some((l) => l.message.startsWith('Uncaught exception in the function app')));
    const res = await fetch(`${app.base}/api/where`);
    assert.equal(res.status, 200);
    assert.notEqual((await json(res)).threadId, before.threadId, 'a new worker answers');
    const line = lines.find((l) => l.message.startsWith('Uncaught exception in the function app'));
    assert.ok(line, 'the uncaught exception is logged');
    assert.equal((line.fields.err as { message: string }).message, 'stray timer throw');
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${app.base}/api/where`)).status, 200);
  });

  it('runs requests that reached a worker before it threw, but were never started, on its replacement', async () => {
    const lines: Line[] = [];
    await using app = await serve({
      app: 'stray-app',
      bus: new MemoryBus(),
      workerThreads: 1,
      logger: recordingLogger(lines),
    });
    const before = await json(await fetch(`${app.base}/api/where`));
    assert.equal(await (await fetch(`${app.base}/api/strayThrowBusy`)).text(), 'scheduled');
    // Sent while the worker is busy (500 ms, from its next timer turn) before it throws: queued there, never started.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const queued = await Promise.all(Array.from({ length: 5 }, () => fetch(`${app.base}/api/where`)));
    assert.deepEqual(
      queued.map((r) => r.status),
      Array(5).fill(200),
    );
    for (const res of queued) assert.notEqual((await json(res)).threadId, before.threadId, 'the replacement ran it');
    assert.ok(lines.some((l) => l.message.startsWith('Uncaught exception in the function app')));
  });

  it('sends what a dying worker never started to a live one: requests arriving around the throw all succeed', async () => {
    await using app = await serve({ app: 'stray-app', bus: new MemoryBus(), workerThreads: 2 });
    for (let round = 0; round < 3; round++) {
      const throwing = fetch(`${app.base}/api/strayThrow`);
      const around = Array.from({ length: 20 }, () => fetch(`${app.base}/api/where`));
      assert.equal((await throwing).status, 200);
      assert.deepEqual(
        (await Promise.all(around)).map((r) => r.status),
        Array(20).fill(200),
      );
      const after = await Promise.all(Array.from({ length: 10 }, () => fetch(`${app.base}/api/where`)));
      assert.deepEqual(
        after.map((r) => r.status),
        Array(10).fill(200),
      );
    }
  });
});

describe('functionTimeout', () => {
  for (const workerThreads of [0, 1]) {
    const where = workerThreads === 0 ? 'on the host thread' : 'on a worker thread';

    it(`answers a never-settling HTTP function with 500 FUNCTIONS_TIMEOUT ${where}`, async () => {
      await using app = await serve({ app: 'stray-app', bus: new MemoryBus(), workerThreads });
      const before = await json(await fetch(`${app.base}/api/where`));
      const res = await fetch(`${app.base}/api/hang`);
      assert.equal(res.status, 500);
      assert.equal((await json(res)).code, 'FUNCTIONS_TIMEOUT');
      const after = await fetch(`${app.base}/api/where`);
      assert.equal(after.status, 200);
      if (workerThreads > 0) assert.notEqual((await json(after)).threadId, before.threadId, 'the worker was replaced');
    });

    it(`abandons a never-settling bus invocation and frees its slot ${where}`, async () => {
      const bus = new MemoryBus({ maxDeliveryCount: 3 });
      await using app = await serve({ app: 'stray-app', bus, workerThreads });
      const failed: string[] = [];
      app.host.on('invocation:failed', (err) => failed.push(err.code));
      bus.enqueue('work', { body: { id: 1, hang: true } });
      await waitFor(() => bus.deliveries.some((d) => d.settled === 'completed'), { timeoutMs: 20_000 });
      assert.deepEqual(failed, ['FUNCTIONS_TIMEOUT']);
      const [done] = bus.take('done') as { body: { id: number; deliveryCount: number } }[];
      assert.equal(done?.body.id, 1);
      assert.equal(done?.body.deliveryCount, 2);
    });
  }

  it('parses functionTimeout: hh:mm:ss, "-1" or null for none, 30 minutes when absent', () => {
    assert.equal(functionTimeoutMs(undefined), DEFAULT_FUNCTION_TIMEOUT_MS);
    assert.equal(DEFAULT_FUNCTION_TIMEOUT_MS, 30 * 60_000);
    assert.equal(functionTimeoutMs('00:05:00'), 300_000);
    assert.equal(functionTimeoutMs('00:00:01'), 1000);
    assert.equal(functionTimeoutMs('1.00:00:00'), 86_400_000);
    assert.equal(functionTimeoutMs('-1'), undefined);
    assert.equal(functionTimeoutMs(null), undefined);
  });

  it('refuses a bad functionTimeout with FUNCTIONS_INVALID_SETTING', () => {
    for (const value of ['abc', '5', 300, '00:00:00', '00:00:00.500', '24:00:01', '2.00:00:00', '-2', true, {}]) {
      assert.throws(
        () => functionTimeoutMs(value),
        (err: unknown) =>
          err instanceof FunctionsError &&
          err.code === 'FUNCTIONS_INVALID_SETTING' &&
          (err.detail as { field?: string }).field === 'functionTimeout',
        String(value),
      );
    }
  });
});
