/**
 * The invocations running now, so `close()` can wait for them — up to a time limit on the clock.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';

export class InFlight {
  readonly #running = new Set<Promise<unknown>>();

  get size(): number {
    return this.#running.size;
  }

  /** Counts `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#running.add(work);
    const done = () => void this.#running.delete(work);
    work.then(done, done);
    return work;
  }

  /** Waits for what runs now and for `also`; false when `timeoutMs` passed first. */
  async drain(also: readonly Promise<unknown>[], clock: Clock, timeoutMs: number): Promise<boolean> {
    const drained = Promise.allSettled([...also, ...this.#running]).then(() => true);
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = clock.setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([drained, timedOut]);
    } finally {
      timer?.cancel();
    }
  }
}
