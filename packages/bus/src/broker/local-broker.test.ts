import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { createBus, openBus } from '../client.ts';
import { MemoryEngine } from '../engine/memory/engine.ts';
import type { BusEngine, EngineOp, EngineState } from '../engine/port.ts';
import { BusError } from '../errors.ts';
import { createLocalBroker, LocalBroker } from './local-broker.ts';

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

/** A memory engine whose writes wait, in order, until released: a slow disk. */
class GatedEngine implements BusEngine {
  readonly kind = 'gated';
  readonly inner = new MemoryEngine();
  gated = false;
  /** The op kinds written, in order. */
  readonly written: string[] = [];
  readonly #held: Array<() => void> = [];
  open(): Promise<EngineState> {
    return this.inner.open();
  }
  write(ops: readonly EngineOp[]): Promise<void> {
    this.written.push(...ops.map((op) => op.op));
    if (!this.gated) return this.inner.write(ops);
    return new Promise((resolve, reject) => this.#held.push(() => this.inner.write(ops).then(resolve, reject)));
  }
  get held(): number {
    return this.#held.length;
  }
  release(): void {
    this.gated = false;
    for (const write of this.#held.splice(0)) write();
  }
  compact(): Promise<void> {
    return this.inner.compact();
  }
  close(): Promise<void> {
    this.release(); // a failed test must not leave writes hanging
    return this.inner.close();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('visibility', () => {
  it("'accepted' (the default) delivers while the send is being written; acknowledgements wait for the disk", async () => {
    const engine = new GatedEngine();
    // settleLingerMs 0: the complete is written at once (settle-linger.test.ts covers the wait).
    await using bus = await openBus({ engine, settleLingerMs: 0, entities: { queues: [{ name: 'q' }] } });
    engine.gated = true;
    engine.written.length = 0;
    const acks: string[] = [];
    const sent = bus
      .createSender('q')
      .send({ body: 'hello' })
      .then(() => acks.push('send'));
    const [m] = await bus.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 1_000 });
    assert.equal(m?.body, 'hello');
    const completed = m!.complete().then(() => acks.push('complete'));
    await turn();
    assert.deepEqual(acks, [], 'nothing is acknowledged before it is durable');
    assert.equal(engine.held, 2);
    assert.deepEqual(engine.written, ['append', 'remove'], 'the completion is written after the message');
    engine.release();
    await Promise.all([sent, completed]);
    assert.deepEqual(acks.sort(), ['complete', 'send']);
  });

  it("'durable' delivers only once the send is durable", async () => {
    const engine = new GatedEngine();
    await using bus = await openBus({ engine, visibility: 'durable', entities: { queues: [{ name: 'q' }] } });
    engine.gated = true;
    const sent = bus.createSender('q').send({ body: 'hello' });
    const receiver = bus.createReceiver('q');
    await turn();
    assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeMs: 0 }), []);
    engine.release();
    await sent;
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 0 });
    assert.equal(m?.body, 'hello');
  });

  it("'accepted': a message whose write fails is taken back; a receiver that got it cannot settle it", async () => {
    const engine = new FlakyEngine();
    await using bus = await openBus({ engine, entities: { queues: [{ name: 'q' }] } });
    const receiver = bus.createReceiver('q');
    const waiting = receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
    engine.failing = true;
    await assert.rejects(bus.createSender('q').send({ body: 'doomed' }), { code: 'BUS_ENGINE_FAILURE' });
    const [m] = await waiting; // it was delivered while its write was on its way
    assert.equal(m?.body, 'doomed');
    await assert.rejects(m!.complete(), { code: 'BUS_LOCK_LOST' });
    assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 0);
  });

  it('refuses an unknown visibility with BUS_INVALID_OPTION', async () => {
    assert.throws(() => createBus({ visibility: 'eventually' as 'durable' }), { code: 'BUS_INVALID_OPTION' });
  });
});

describe('broker', () => {
  it('a failed write rejects the send, shows nothing and forgets the messageId', async () => {
    const engine = new FlakyEngine();
    await using bus = await openBus({
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
    await using bus = await openBus({ engine, clock, entities: { queues: [{ name: 'q', lockDuration: 1_000 }] } });
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
    const broker = await LocalBroker.open({ engine: new MemoryEngine() });
    await broker.admin.createQueue('q');
    assert.throws(() => broker.receive('q', { maxMessages: 0, mode: 'peekLock', maxWaitTimeMs: 0 }), {
      code: 'BUS_INVALID_OPTION',
    });
    assert.throws(() => broker.receive('q', { maxMessages: 1, mode: 'sometimes' as 'peekLock', maxWaitTimeMs: 0 }), {
      code: 'BUS_INVALID_OPTION',
    });
    await assert.rejects(broker.renewLock('q', 'no-such-token'), { code: 'BUS_LOCK_LOST' });
    await assert.rejects(broker.settle('q', 'no-such-token', { kind: 'complete' }), { code: 'BUS_LOCK_LOST' });
    await assert.rejects(broker.settle('q', 'no-such-token', { kind: 'keep' } as never), {
      code: 'BUS_INVALID_OPTION',
    });
    await broker.close();
  });

  it('emits typed events for sends, dead letters, expiry and lock expiry', async () => {
    const clock = new ManualClock();
    await using bus = await openBus({
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

describe('createBus({ broker })', () => {
  it('runs on the broker it is given: entities through its admin, operations through it, closed with it', async () => {
    const broker = await createLocalBroker({ engine: new MemoryEngine() });
    const bus = await openBus({ broker, entities: { queues: [{ name: 'q' }] } });
    assert.equal(bus.broker, broker);
    assert.equal(await broker.admin.queueExists('q'), true);
    await bus.createSender('q').send({ body: 'via the port' });
    const [d] = await broker.receive('q', { maxMessages: 1, mode: 'receiveAndDelete', maxWaitTimeMs: 0 });
    assert.equal(new TextDecoder().decode(d?.msg.body), 'via the port');
    await bus.close();
    assert.equal(broker.closed, true);
  });
});

describe('quota', () => {
  it('a queue or subscription forwarding to a full entity is refused with BUS_QUOTA_EXCEEDED; nothing lands past the quota', async () => {
    await using bus = await openBus({ url: 'memory://' });
    await bus.admin.createQueue('full', { maxSizeInMegabytes: 1 });
    await bus.admin.createQueue('door', { forwardTo: 'full' });
    await bus.admin.createTopic('t');
    await bus.admin.createSubscription('t', 's', { forwardTo: 'full' });
    const big = 'x'.repeat(200 * 1024);
    for (let i = 0; i < 5; i++) await bus.createSender('full').send({ body: big });
    for (const entity of ['door', 't']) {
      await assert.rejects(bus.createSender(entity).send({ body: big }), (err: BusError) => {
        assert.equal(err.code, 'BUS_QUOTA_EXCEEDED');
        assert.equal(err.detail?.entity, 'full');
        return true;
      });
    }
    assert.equal((await bus.admin.getRuntimeProperties('full')).activeMessageCount, 5);
    assert.equal((await bus.admin.getRuntimeProperties('door')).totalMessageCount, 0);
    await bus.createSender('door').send({ body: 'small' }); // what still fits goes through
    assert.equal((await bus.admin.getRuntimeProperties('full')).activeMessageCount, 6);
  });
});
