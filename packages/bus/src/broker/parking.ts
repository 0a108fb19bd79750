/**
 * Parking: the broker's side of a backlog kept on disk (`EngineBacklog`, the file engine's). Past
 * `memoryMessagesPerQueue` messages held, a queue's further active messages are written `parked`
 * and not held; the queue counts them (`QueueState.parked`, `parkedBytes`), and they are taken back,
 * oldest first, when few are left available or a receive asks for more than is held. Session queues
 * never park (a session receiver would have to page through the whole backlog for its messages).
 * @module
 */
import type { TypedEmitter } from '@hubbub/kernel';
import type { BusEngine, EngineOp, StoredMessage } from '../engine/port.ts';
import type { Catalog } from './catalog.ts';
import type { BusEvents, Delivery, PeekRange } from './port.ts';
import { type QueueState, storedSize } from './queue-state.ts';

export class Parking {
  readonly #catalog: Catalog;
  readonly #engine: BusEngine;
  readonly #events: TypedEmitter<BusEvents>;
  readonly #closed: () => boolean;
  readonly #background: (work: Promise<void>) => void;

  constructor(
    catalog: Catalog,
    engine: BusEngine,
    events: TypedEmitter<BusEvents>,
    closed: () => boolean,
    background: (work: Promise<void>) => void,
  ) {
    this.#catalog = catalog;
    this.#engine = engine;
    this.#events = events;
    this.#closed = closed;
    this.#background = background;
  }

  /** After open: the parked messages the engine reported, and a first refill of each queue. */
  restore(parked: ReadonlyArray<{ entity: string; count: number; bytes: number }> | undefined): void {
    for (const p of parked ?? []) {
      const queue = this.#catalog.queueStates.get(p.entity);
      if (queue === undefined) continue;
      queue.parked = p.count;
      queue.parkedBytes = p.bytes;
      this.#background(this.refill(queue));
    }
  }

  /**
   * Marks the appends that go to the engine's backlog instead of memory: active messages of a queue
   * (no sessions) that holds `memoryMessagesPerQueue` already, or has parked ones (which must stay
   * behind it in sequence). Returns them in order, or undefined when none (or the engine has no
   * backlog). Arrays, not sets: a single-message send in flight holds as little as possible.
   */
  park(ops: EngineOp[], inserts: readonly StoredMessage[]): StoredMessage[] | undefined {
    const backlog = this.#engine.backlog;
    if (backlog === undefined) return undefined;
    const limit = backlog.memoryMessagesPerQueue;
    let parked: StoredMessage[] | undefined;
    /** Appends of this batch that stay in memory, per queue (allocated only for batches). */
    let shown: Map<QueueState, number> | undefined;
    let insertSet: Set<StoredMessage> | undefined;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.op !== 'append' || op.message.state !== 'active' || op.message.sessionId !== undefined) continue;
      const queue = this.#catalog.queueStates.get(op.message.entity);
      if (queue === undefined || queue.settings.requiresSession) continue;
      const pending = shown?.get(queue) ?? 0;
      if (queue.parked === 0 && queue.messages.size + pending < limit) {
        if (ops.length > 1) {
          if (shown === undefined) shown = new Map();
          shown.set(queue, pending + 1);
        }
        continue;
      }
      if (inserts.length <= SMALL) {
        if (!inserts.includes(op.message)) continue;
      } else {
        if (insertSet === undefined) insertSet = new Set(inserts);
        if (!insertSet.has(op.message)) continue;
      }
      ops[i] = { op: 'append', message: op.message, parked: true };
      queue.parked++;
      queue.parkedBytes += storedSize(op.message);
      if (parked === undefined) parked = [];
      parked.push(op.message);
    }
    return parked;
  }

  /** Their write failed: they are not parked after all. */
  withdraw(parked: readonly StoredMessage[]): void {
    for (const m of parked) {
      const queue = this.#catalog.queueStates.get(m.entity);
      if (queue === undefined) continue;
      queue.parked--;
      queue.parkedBytes = Math.max(0, queue.parkedBytes - storedSize(m));
    }
  }

  /** They are durable: dead-letter events as for held ones, and a refill for waiting receivers. */
  durable(parked: readonly StoredMessage[]): void {
    for (const m of parked) {
      const queue = this.#catalog.queueStates.get(m.entity);
      if (queue === undefined) continue;
      if (queue.isDeadLetter) {
        this.#events.emit('deadLettered', {
          entity: queue.path,
          sequenceNumber: BigInt(m.seq),
          reason: m.deadLetterReason ?? '',
        });
      }
      if (queue.waiters.size > 0) this.#background(this.refill(queue));
    }
  }

  /**
   * Takes parked messages back from the engine's backlog while the queue has fewer than half its
   * `memoryMessagesPerQueue` available, a batch at a time, oldest first — or at least `want` now
   * (a receive asking for more than is held).
   */
  refill(queue: QueueState, want = 0): Promise<void> {
    const backlog = this.#engine.backlog;
    if (backlog === undefined || queue.parked === 0 || this.#closed()) return Promise.resolve();
    if (queue.refilling !== undefined) {
      return want === 0 ? queue.refilling : queue.refilling.then(() => this.refill(queue, want));
    }
    const limit = backlog.memoryMessagesPerQueue;
    if (want === 0 && queue.available.size >= Math.max(1, limit >> 1)) return Promise.resolve();
    const batch = Math.max(1, Math.min(1024, Math.max(want, Math.ceil(limit / 2))));
    const run = backlog.take(queue.key, batch).then(
      (messages) => {
        queue.refilling = undefined;
        if (this.#closed() || this.#catalog.queueStates.get(queue.key) !== queue) return;
        for (const m of messages) {
          queue.parked--;
          queue.parkedBytes = queue.parked === 0 ? 0 : Math.max(0, queue.parkedBytes - storedSize(m));
          queue.insert(m);
        }
        if (messages.length > 0) this.#background(this.refill(queue));
      },
      (err: unknown) => {
        queue.refilling = undefined;
        throw err;
      },
    );
    queue.refilling = run;
    return run;
  }

  /**
   * Peek over held and parked messages: parked ones read first, held ones after (`held()`), so a
   * message a refill takes back meanwhile is in the second; merged in sequence order.
   */
  async peek(queue: QueueState, range: PeekRange, held: () => Delivery[]): Promise<Delivery[]> {
    const backlog = this.#engine.backlog;
    if (backlog === undefined || (queue.parked === 0 && queue.refilling === undefined)) return held();
    const from = Number(range.fromSequenceNumber ?? 1n);
    const cold = await backlog.peek(queue.key, from, range.maxMessageCount);
    const hot = held();
    const seen = new Set(hot.map((d) => d.msg.seq));
    for (const msg of cold) {
      if (!seen.has(msg.seq)) hot.push({ msg, path: queue.path, lockToken: undefined, lockedUntil: undefined });
    }
    return hot.sort((a, b) => a.msg.seq - b.msg.seq).slice(0, range.maxMessageCount);
  }
}

/** Up to this many inserts, membership is a linear search rather than a set built for it. */
const SMALL = 16;
