/**
 * One piece of work per key at a time: callers that ask while it runs share its promise, and the
 * key is free again as soon as it settles (a failure is shared, never remembered).
 * @module
 */

export class SingleFlight {
  readonly #running = new Map<string, Promise<unknown>>();

  /**
   * Runs `work` unless work for `key` is running, in which case its promise is returned. `work`
   * should be an async function; if it throws synchronously instead, nothing is remembered.
   */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running !== undefined) return running as Promise<T>;
    const promise = work();
    this.#running.set(key, promise);
    // One derived promise, handled both ways, so the release itself never rejects unhandled.
    // (Inline arrows: a named one would be re-wrapped by tsx's keep-names helper on every call.)
    promise.then(
      () => this.#release(key, promise),
      () => this.#release(key, promise),
    );
    return promise;
  }

  #release(key: string, promise: Promise<unknown>): void {
    if (this.#running.get(key) === promise) this.#running.delete(key);
  }

  /** Keys with work running. */
  get size(): number {
    return this.#running.size;
  }
}
