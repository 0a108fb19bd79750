import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { Broker } from './broker.ts';
import { createBus } from './client.ts';
import type { BusEngine, EngineOp, EngineState } from './engine.ts';
import { BusError } from './errors.ts';
import { MemoryEngine } from './memory-engine.ts';

/** A memory engine whose writes can be made to fail. */
class FlakyEngine implements BusEngine {
  readonly kind = 'flaky';
  readonly inner = new MemoryEngine();
  failing = false;
  open(): Promise<EngineState> {
    return this.inner.open();
  }
  write(ops: readonly EngineOp[]): Promise<void> {
    if (this.failing) return Promise.reject(new BusError('BUS_ENGINE_FAILURE', 'disk on fire'));
    return this.inner.write(ops);
  }
  compact(): Promise<void> {
    return this.inner.compact();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('broker', () => {
  it('a failed write rejects the send, shows nothing and forgets the messageId', async () => {
    const engine = new FlakyEngine();
    await using bus = await createBus({
      engine,
      entities: { queues: [{ name: 'q', requiresDuplicateDetection: true }] },
    });
    const sender = bus.createSender('q');
    engine.failing = true;
    await assert.rejects(sender.send({ body: 1, messageId: 'm' }), { code: 'BUS_ENGINE_FAILURE' });
    assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 0);
    engine.failing = false;
    await sender.send({ body: 2, messageId: 'm' });
    const [m] = await bus.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 0 });
    assert.equal(m?.body, 2);
  });

  it('a failed background write is reported as an error event, not thrown', async () => {
    const engine = new FlakyEngine();
    const clock = new ManualClock();
    await using bus = await createBus({ engine, clock, entities: { queues: [{ name: 'q', lockDuration: 1_000 }] } });
    const errors: string[] = [];
    bus.events.on('error', (err) => errors.push(err.code));
    await bus.createSender('q').send({ body: 1 });
    await bus.createReceiver('q').receiveMessages(1);
    engine.failing = true;
    clock.advance(1_000); // lock expiry writes the new delivery count
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(errors, ['BUS_ENGINE_FAILURE']);
  });

  it('validates receive options at the broker door', async () => {
    const broker = await Broker.open({ engine: new MemoryEngine() });
    await broker.catalog.createQueue('q');
    assert.throws(() => broker.receive('q', { maxMessages: 0, mode: 'peekLock', maxWaitTimeMs: 0 }), {
      code: 'BUS_INVALID_OPTION',
    });
    assert.throws(() => broker.receive('q', { maxMessages: 1, mode: 'sometimes' as 'peekLock', maxWaitTimeMs: 0 }), {
      code: 'BUS_INVALID_OPTION',
    });
    assert.throws(() => broker.renewLock('q', 'no-such-token'), { code: 'BUS_LOCK_LOST' });
    await assert.rejects(broker.complete('q', 'no-such-token'), { code: 'BUS_LOCK_LOST' });
    await broker.close();
  });

  it('emits typed events for sends, dead letters, expiry and lock expiry', async () => {
    const clock = new ManualClock();
    await using bus = await createBus({
      clock,
      entities: { queues: [{ name: 'q', lockDuration: 1_000, maxDeliveryCount: 1 }] },
    });
    const seen: string[] = [];
    bus.events.on('sent', (e) => seen.push(`sent ${e.entity} ${e.count}`));
    bus.events.on('lockExpired', (e) => seen.push(`lockExpired ${e.sequenceNumber}`));
    bus.events.on('deadLettered', (e) => seen.push(`deadLettered ${e.entity} ${e.reason}`));
    bus.events.on('expired', (e) => seen.push(`expired ${e.sequenceNumber}`));
    await bus.createSender('q').send([{ body: 1 }, { body: 2, timeToLive: 10 }]);
    clock.advance(10);
    await bus.createReceiver('q').receiveMessages(5, { maxWaitTimeMs: 0 });
    clock.advance(1_000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [
      'sent q 2',
      'expired 2',
      'lockExpired 1',
      'deadLettered q/$DeadLetterQueue MaxDeliveryCountExceeded',
    ]);
  });
});
