/**
 * Deadlines of one length (host.json `functionTimeout`) for the invocations running: kept in the
 * order they were set — the order they fall due, since each is the same length — with one timer
 * armed for the first, so that no timer is set and cleared per invocation. The timer does not keep
 * the process alive (an invocation left running at close must not).
 * @module
 */

/** An entry's due time: `performance.now()` past which it expires ({@link Deadlines.due}). */
export interface Due {
  readonly at: number;
}

export class Deadlines<K, V extends Due> {
  readonly #ms: number;
  readonly #expired: (key: K, value: V) => void;
  readonly #entries = new Map<K, V>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `expired` is called with each entry still set once its deadline has passed. */
  constructor(ms: number, expired: (key: K, value: V) => void) {
    this.#ms = ms;
    this.#expired = expired;
  }

  /** The `at` of an entry set now. */
  due(): number {
    return performance.now() + this.#ms;
  }

  /** Sets `value` (its `at` from {@link due}) under a new `key`. */
  set(key: K, value: V): void {
    this.#entries.set(key, value);
    if (this.#timer === undefined) this.#arm();
  }

  /** The entry no longer expires (it settled, or was taken back). */
  delete(key: K): void {
    this.#entries.delete(key);
  }

  #arm(): void {
    const first = this.#entries.values().next();
    if (first.done === true) return;
    this.#timer = setTimeout(this.#expire, Math.max(1, Math.ceil(first.value.at - performance.now())));
    this.#timer.unref();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const [key, value] of this.#entries) {
      if (value.at > now) break;
      this.#entries.delete(key);
      this.#expired(key, value);
    }
    if (this.#timer === undefined) this.#arm();
  };
}
