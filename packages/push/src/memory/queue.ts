/**
 * The reference {@link PushQueue}: jobs in process memory, scheduled on the injected clock, handed
 * out under a lock until completed or abandoned. **Not durable**: jobs are lost when the process
 * ends. For tests and standalone use; the composition root puts the push service on Hubbub's bus
 * (queue `push-deliveries`) instead.
 * @module
 */
import { type Clock, systemClock, type TimerHandle } from '@hubbub/kernel';
import type { EnqueueOptions, LockedJob, PushJobBody, PushQueue } from '../queue.ts';

export interface MemoryPushQueueOptions {
  /** Reads scheduled times. @default systemClock */
  clock?: Clock;
  /** Job keys remembered for duplicate detection (the oldest are forgotten first). @default 100_000 */
  keyHistory?: number;
}

interface Entry {
  readonly id: string;
  readonly body: PushJobBody;
  deliveryCount: number;
}

export class MemoryPushQueue implements PushQueue {
  readonly kind = 'memory';
  readonly #clock: Clock;
  readonly #ready: Entry[] = [];
  readonly #scheduled = new Map<string, { entry: Entry; timer: TimerHandle }>();
  readonly #locked = new Map<string, Entry>();
  readonly #keys = new Map<string, string>();
  readonly #keyHistory: number;
  #seq = 0;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  constructor(options: MemoryPushQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#keyHistory = options.keyHistory ?? 100_000;
  }

  async open(): Promise<void> {}

  async enqueue(body: PushJobBody, options: EnqueueOptions = {}): Promise<string> {
    const seen = options.key === undefined ? undefined : this.#keys.get(options.key);
    if (seen !== undefined) return seen;
    // A JSON round trip, as a queue that stores bytes would make: a job that is not plain JSON fails here.
    const entry: Entry = { id: `job-${++this.#seq}`, body: JSON.parse(JSON.stringify(body)), deliveryCount: 0 };
    if (options.key !== undefined) {
      this.#keys.set(options.key, entry.id);
      if (this.#keys.size > this.#keyHistory) this.#keys.delete(this.#keys.keys().next().value!);
    }
    const delay = options.scheduledAt === undefined ? 0 : options.scheduledAt - this.#clock.now();
    if (delay <= 0) this.#push(entry);
    else {
      const timer = this.#clock.setTimeout(() => {
        this.#scheduled.delete(entry.id);
        this.#push(entry);
      }, delay);
      this.#scheduled.set(entry.id, { entry, timer });
    }
    return entry.id;
  }

  async cancel(id: string): Promise<boolean> {
    const scheduled = this.#scheduled.get(id);
    if (scheduled !== undefined) {
      scheduled.timer.cancel();
      this.#scheduled.delete(id);
      return true;
    }
    const at = this.#ready.findIndex((e) => e.id === id);
    if (at < 0) return false;
    this.#ready.splice(at, 1);
    return true;
  }

  async *receive(signal: AbortSignal): AsyncIterable<LockedJob> {
    let wake: () => void = () => {};
    const onAbort = () => wake();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted && !this.#closed) {
        const entry = this.#ready.shift();
        if (entry === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            this.#waiters.add(resolve);
          });
          this.#waiters.delete(wake);
          continue;
        }
        entry.deliveryCount++;
        this.#locked.set(entry.id, entry);
        yield this.#lockedJob(entry);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const { timer } of this.#scheduled.values()) timer.cancel();
    for (const wake of this.#waiters) wake();
  }

  /** Jobs waiting: due, scheduled, and handed out but not settled (for tests). */
  get counts(): { ready: number; scheduled: number; locked: number } {
    return { ready: this.#ready.length, scheduled: this.#scheduled.size, locked: this.#locked.size };
  }

  #push(entry: Entry): void {
    this.#ready.push(entry);
    for (const wake of this.#waiters) wake();
  }

  #lockedJob(entry: Entry): LockedJob {
    let settled = false;
    const settle = () => {
      if (settled) throw new Error(`job ${entry.id} is already settled`);
      settled = true;
      this.#locked.delete(entry.id);
    };
    return {
      body: entry.body,
      deliveryCount: entry.deliveryCount,
      complete: async () => settle(),
      abandon: async () => {
        settle();
        if (!this.#closed) this.#push(entry);
      },
    };
  }
}

export function createMemoryPushQueue(options: MemoryPushQueueOptions = {}): MemoryPushQueue {
  return new MemoryPushQueue(options);
}
