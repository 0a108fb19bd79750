/**
 * One clock timer for all of the broker's deadlines. Each part that keeps deadlines (message
 * locks, session locks, the schedule) owns its own heap of them; the alarm is armed for the
 * earliest, and when it rings it lets every part handle what is due, in the order the parts
 * were watched, then re-arms. One timer, whatever the number of locks and scheduled messages.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';

/** A part of the broker with deadlines. */
export interface Deadlines {
  /** The earliest deadline it holds (ms since epoch), or +Infinity. */
  next(): number;
  /** Handles every deadline due at `now`. */
  fire(now: number): void;
}

export class Alarm {
  readonly #clock: Clock;
  readonly #parts: Deadlines[] = [];
  #timer: TimerHandle | undefined;
  #at = Number.POSITIVE_INFINITY;
  #closed = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  watch(part: Deadlines): void {
    this.#parts.push(part);
  }

  /** Re-arms when `at` comes before the time the alarm is set for. */
  wakeBy(at: number): void {
    if (at < this.#at) this.arm();
  }

  /** Sets the timer for the earliest deadline of any part (or clears it when there is none). */
  arm(): void {
    if (this.#closed) return;
    let next = Number.POSITIVE_INFINITY;
    for (const part of this.#parts) next = Math.min(next, part.next());
    if (next === this.#at) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#at = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#at = Number.POSITIVE_INFINITY;
        this.#ring();
      },
      Math.max(0, next - this.#clock.now()),
    );
  }

  #ring(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    for (const part of this.#parts) part.fire(now);
    this.arm();
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
  }
}
