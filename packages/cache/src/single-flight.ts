/**
 * One piece of work per key at a time: callers that ask while it runs share its promise, and the
 * key is free again as soon as it settles (a failure is shared, never remembered).
 * @module
 */

export class SingleFlight {
  readonly #running = new Map<string, Promise<unknown>>();

  /** Runs `work` unless work for `key` is running, in which case its promise is returned. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running !== undefined) return running as Promise<T>;
    const promise: Promise<T> = Promise.resolve()
      .then(work)
      .finally(() => {
        if (this.#running.get(key) === promise) this.#running.delete(key);
      });
    this.#running.set(key, promise);
    return promise;
  }

  /** Keys with work running. */
  get size(): number {
    return this.#running.size;
  }
}
