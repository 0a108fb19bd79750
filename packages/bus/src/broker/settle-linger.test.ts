import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBus } from '../client.ts';
import { MemoryEngine } from '../engine/memory/engine.ts';
import type { BusEngine, EngineOp, EngineState } from '../engine/port.ts';

/** A memory engine that records the op kinds of each write call (one call is one flush on disk). */
class RecordingEngine implements BusEngine {
  readonly kind = 'recording';
  readonly inner = new MemoryEngine();
  readonly writes: string[][] = [];
  open(): Promise<EngineState> {
    return this.inner.open();
  }
  write(ops: readonly EngineOp[]): Promise<void> {
    this.writes.push(ops.map((op) => op.op));
    return this.inner.write(ops);
  }
  compact(): Promise<void> {
    return this.inner.compact();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function start(settleLingerMs: number) {
  const engine = new RecordingEngine();
  const bus = await openBus({ engine, settleLingerMs, entities: { queues: [{ name: 'q' }] } });
  return { engine, bus, sender: bus.createSender('q'), receiver: bus.createReceiver('q') };
}

describe('settle linger', () => {
  it('writes a complete with the next send: one write for both, acknowledged once it is durable', async () => {
    const { engine, bus, sender, receiver } = await start(1_000);
    await using _ = bus;
    await sender.send({ body: 1 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
    engine.writes.length = 0;
    let completed = false;
    const done = m!.complete().then(() => {
      completed = true;
    });
    await turn();
    assert.deepEqual(engine.writes, [], 'held: a send was written just now');
    assert.equal(completed, false, 'not acknowledged before it is written');
    await sender.send({ body: 2 });
    await done;
    assert.deepEqual(engine.writes, [['remove', 'append']], 'the complete goes first, in the same write');
  });

  it('writes a held complete on its own after settleLingerMs when no write comes', async () => {
    const { engine, bus, sender, receiver } = await start(5);
    await using _ = bus;
    await sender.send({ body: 1 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
    engine.writes.length = 0;
    await m!.complete();
    assert.deepEqual(engine.writes, [['remove']]);
  });

  it('writes a complete at once when no write was made within settleLingerMs', async () => {
    const { engine, bus, sender, receiver } = await start(2);
    await using _ = bus;
    await sender.send({ body: 1 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
    const since = performance.now();
    while (performance.now() - since <= 3) await new Promise((r) => setTimeout(r, 1));
    engine.writes.length = 0;
    void m!.complete();
    assert.deepEqual(engine.writes, [['remove']], 'written in the same turn');
  });

  it('writes held completes when the bus closes', async () => {
    const { engine, bus, sender, receiver } = await start(1_000);
    await sender.send({ body: 1 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
    engine.writes.length = 0;
    const done = m!.complete();
    await turn();
    await bus.close();
    await done;
    assert.deepEqual(engine.writes, [['remove']]);
  });

  it('writes each complete at once with settleLingerMs 0', async () => {
    const { engine, bus, sender, receiver } = await start(0);
    await using _ = bus;
    await sender.send({ body: 1 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
    engine.writes.length = 0;
    void m!.complete();
    assert.deepEqual(engine.writes, [['remove']]);
  });
});
