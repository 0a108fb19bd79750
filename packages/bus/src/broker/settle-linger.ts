/**
 * Completions that ride on the next write. A steady stream of sends each completed soon after
 * (the courier-location path: one send a millisecond) costs two log flushes per message — the
 * send's, then the complete's a fraction of a millisecond later — and each flush costs a
 * threadpool thread's wake-up, the disk write, and the main thread's wake-up for its
 * acknowledgement. Here a complete's write is held while writes are flowing (one was made within
 * the last `lingerMs`) and goes ahead of the next one (the next send, usually) in the same engine
 * write: one flush for both. If no write comes within `lingerMs`, it is written on its own.
 *
 * What does not change: a complete resolves only once its write is durable (later, by up to
 * `lingerMs`); a crash before that redelivers the message (at-least-once). The held ops are
 * written first in the next write's frame, which is atomic, so the log keeps the order the broker
 * made its changes in. With no write in the last `lingerMs` (a consumer draining a backlog nobody
 * sends to) a complete is written at once, as without lingering.
 *
 * The wait is I/O scheduling, not a deadline of the bus's semantics (lock expiry, TTL): it reads
 * the monotonic clock and uses a plain timer, which keeps the process alive while a complete waits
 * (as its disk write would), like the hub's write delay.
 * @module
 */
import type { BusEngine, EngineBacklog, EngineOp, EngineState } from '../engine/port.ts';

interface Held {
  readonly ops: EngineOp[];
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** The broker's engine, with {@link settle} for completes; every other write carries what is held. */
export class LingeringEngine implements BusEngine {
  readonly kind: string;
  readonly backlog?: EngineBacklog;
  readonly #engine: BusEngine;
  readonly #lingerMs: number;
  #held: Held | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;

  constructor(engine: BusEngine, lingerMs: number) {
    this.#engine = engine;
    this.#lingerMs = lingerMs;
    this.kind = engine.kind;
    if (engine.backlog !== undefined) this.backlog = engine.backlog;
  }

  open(): Promise<EngineState> {
    return this.#engine.open();
  }

  /** Writes `ops`, with any held settlement ahead of them in the same (atomic) write. */
  write(ops: readonly EngineOp[]): Promise<void> {
    if (this.#lingerMs > 0) this.#lastWriteAt = performance.now();
    const held = this.#take();
    if (held === undefined) return this.#engine.write(ops);
    for (const op of ops) held.ops.push(op);
    const durable = this.#engine.write(held.ops);
    durable.then(held.resolve, held.reject);
    return durable;
  }

  /**
   * Writes a complete's ops: with the next write when one was made within `lingerMs` (at the
   * latest `lingerMs` from now), at once otherwise. Resolves once they are durable.
   */
  settle(ops: readonly EngineOp[]): Promise<void> {
    // Something held: join it (even past the wait), so the log keeps the order of the broker's changes.
    let held = this.#held;
    if (held === undefined) {
      if (this.#lingerMs <= 0 || performance.now() - this.#lastWriteAt > this.#lingerMs) return this.#engine.write(ops);
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      held = { ops: [], promise, resolve, reject };
      this.#held = held;
      this.#timer = setTimeout(this.#flush, this.#lingerMs);
    }
    for (const op of ops) held.ops.push(op);
    return held.promise;
  }

  /** Writes what is held now, on its own. */
  readonly #flush = (): void => {
    const held = this.#take();
    if (held !== undefined) this.#engine.write(held.ops).then(held.resolve, held.reject);
  };

  #take(): Held | undefined {
    const held = this.#held;
    if (held === undefined) return undefined;
    this.#held = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return held;
  }

  compact(): Promise<void> {
    return this.#engine.compact();
  }

  /** Writes what is held, then closes the engine (which finishes its writes first). */
  close(): Promise<void> {
    this.#flush();
    return this.#engine.close();
  }
}
