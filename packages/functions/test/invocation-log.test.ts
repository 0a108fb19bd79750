/** One `Executing` and one `Executed` line per invocation, with its reason, duration and outcome, as `func start` prints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConsoleLogger, waitFor } from '@hubbub/kernel';
import { MemoryBus } from '../src/testing/index.ts';
import { serve } from './support.ts';

describe('invocation log lines', () => {
  it('says Executing and Executed (Succeeded or Failed, duration) for every invocation', async () => {
    const lines: Array<{ level: string; msg: string; function?: string; durationMs?: number }> = [];
    const logger = createConsoleLogger({ level: 'info', write: (l) => lines.push(JSON.parse(l)) });
    const bus = new MemoryBus({ maxDeliveryCount: 1 });
    await using _app = await serve({ app: 'bus-app', bus, logger });
    bus.enqueue('orders', { body: { id: 7 } });
    await waitFor(() => bus.deliveries[0]?.settled === 'completed');
    bus.enqueue('orders', { body: { id: 9, fail: true } });
    await waitFor(() => bus.deadLettered.length === 1);

    const invocations = lines.filter((l) => /^Execut(ing|ed) 'Functions\.processOrder'/.test(l.msg));
    assert.equal(invocations.length, 4, JSON.stringify(lines.map((l) => l.msg)));
    const [executing, succeeded, executing2, failed] = invocations;
    assert.match(
      executing!.msg,
      /^Executing 'Functions\.processOrder' \(Reason='New ServiceBus message detected on 'orders'\.', Id=[\w-]+\)$/,
    );
    assert.match(succeeded!.msg, /^Executed 'Functions\.processOrder' \(Succeeded, Id=[\w-]+, Duration=\d+ms\)$/);
    assert.equal(succeeded!.level, 'info');
    assert.equal(typeof succeeded!.durationMs, 'number');
    assert.match(executing2!.msg, /^Executing /);
    assert.match(failed!.msg, /^Executed 'Functions\.processOrder' \(Failed, Id=[\w-]+, Duration=\d+ms\)$/);
    assert.equal(failed!.level, 'warn', 'the trigger logs the error itself');
  });
});
