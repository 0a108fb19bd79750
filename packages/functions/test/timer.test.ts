import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { serve } from './support.ts';

type Call = {
  name: string;
  isPastDue?: boolean;
  next?: string;
  retryCount?: number;
  error?: string;
  adjustForDST?: boolean;
};

describe('timer trigger', () => {
  const start = Date.parse('2026-01-01T00:00:01Z');

  async function calls(base: string): Promise<Call[]> {
    return (await (await fetch(`${base}/api/calls`)).json()) as Call[];
  }

  it('fires on its NCRONTAB schedule (from a %setting%), runs on startup, and reports the next occurrence', async () => {
    const clock = new ManualClock(start);
    await using app = await serve({ app: 'timer-app', clock });
    await waitFor(async () => (await calls(app.base)).some((c) => c.name === 'startup'));
    assert.equal(app.host.nextTimerRun('tick'), Date.parse('2026-01-01T00:00:05Z'));
    clock.advance(4_000);
    const ticks = await waitFor(async () => {
      const list = (await calls(app.base)).filter((c) => c.name === 'tick');
      return list.length === 1 ? list : undefined;
    });
    assert.deepEqual(ticks[0], { name: 'tick', isPastDue: false, next: '2026-01-01T00:00:10.000Z', fn: 'tick' });
    const startup = (await calls(app.base)).find((c) => c.name === 'startup');
    assert.deepEqual(startup, { name: 'startup', isPastDue: false, adjustForDST: true });
    await waitFor(() => app.host.nextTimerRun('tick') === Date.parse('2026-01-01T00:00:10Z'));
    clock.advance(5_000);
    await waitFor(async () => (await calls(app.base)).filter((c) => c.name === 'tick').length === 2);
  });

  it('fires a missed occurrence once, as past due, when the previous run overran it', async () => {
    const clock = new ManualClock(start);
    await using app = await serve({ app: 'timer-app', clock });
    clock.advance(59_000); // 00:01:00 — slow starts and blocks
    await waitFor(async () => (await calls(app.base)).filter((c) => c.name === 'slow').length === 1);
    clock.advance(125_000); // 00:03:05 — two occurrences pass while it runs
    await fetch(`${app.base}/api/release`, { method: 'POST' });
    const slow = await waitFor(async () => {
      const list = (await calls(app.base)).filter((c) => c.name === 'slow');
      return list.length === 2 ? list : undefined;
    });
    assert.deepEqual(slow, [
      { name: 'slow', isPastDue: false },
      { name: 'slow', isPastDue: true },
    ]);
  });

  it('retries a failing timer function under its retry options with retryContext', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:59:59Z'));
    await using app = await serve({ app: 'timer-app', clock });
    const retrying: { function: string; retryCount: number; error: string }[] = [];
    app.host.on('invocation:retrying', (err, info) =>
      retrying.push({ function: info.function, retryCount: info.retryCount, error: (err as Error).message }),
    );
    clock.advance(1_000);
    const flaky = async () => (await calls(app.base)).filter((c) => c.name === 'flaky');
    await waitFor(async () => (await flaky()).length === 1);
    clock.advance(10_000);
    await waitFor(async () => (await flaky()).length === 2);
    clock.advance(10_000);
    await waitFor(async () => (await flaky()).length === 3);
    assert.deepEqual(await flaky(), [
      { name: 'flaky', retryCount: 0 },
      { name: 'flaky', retryCount: 1, error: 'attempt 1 failed' },
      { name: 'flaky', retryCount: 2, error: 'attempt 2 failed' },
    ]);
    assert.deepEqual(retrying, [
      { function: 'flaky', retryCount: 1, error: 'attempt 1 failed' },
      { function: 'flaky', retryCount: 2, error: 'attempt 2 failed' },
    ]);
    await fetch(`${app.base}/api/release`, { method: 'POST' }); // 'slow' also fired at 01:00:00 and waits
  });

  it('reports a failing timer function and keeps its schedule', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:29:59Z'));
    await using app = await serve({ app: 'timer-app', clock });
    const failed: Record<string, unknown>[] = [];
    app.host.on('invocation:failed', (err, info) =>
      failed.push({
        code: err.code,
        cause: (err.cause as Error).message,
        function: info.function,
        trigger: info.trigger,
      }),
    );
    clock.advance(1_000); // 00:30:00 — 'broken' throws ('slow' starts too, and waits)
    await waitFor(() => failed.length === 1);
    assert.deepEqual(failed, [
      { code: 'FUNCTIONS_INVOCATION_FAILED', cause: 'broken timer', function: 'broken', trigger: 'timerTrigger' },
    ]);
    await waitFor(() => app.host.nextTimerRun('broken') === Date.parse('2026-01-02T00:30:00Z'));
    await fetch(`${app.base}/api/release`, { method: 'POST' });
  });

  it('close() stops waiting for a hung invocation after drainTimeoutMs', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:59Z'));
    const app = await serve({ app: 'timer-app', clock, drainTimeoutMs: 5_000 });
    const timeouts: unknown[] = [];
    app.host.on('drain:timeout', (info) => timeouts.push(info));
    clock.advance(1_000); // 00:01:00 — 'slow' starts and never finishes
    await waitFor(async () => (await calls(app.base)).some((c) => c.name === 'slow'));
    app.server.closeAllConnections();
    app.server.close();
    let done = false;
    const closing = app.host.close().then(() => {
      done = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false);
    clock.advance(5_000);
    await closing;
    assert.equal(done, true);
    assert.deepEqual(timeouts, [{ running: 1, drainTimeoutMs: 5_000 }]);
  });
});
