/**
 * Keeps the messages a function is handling locked, as the Azure extension does with
 * maxAutoLockRenewalDuration.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';
import type { BusReceivedMessage } from './port.ts';

/**
 * Renews the locks of the messages being handled at half their remaining time, as the Azure
 * extension does with maxAutoLockRenewalDuration, until they are settled or the renewal budget
 * ends. One timer for every message in flight (armed for the earliest renewal due) instead of one
 * per message: with a fixed lock duration a new message is due after every one already held, so
 * holding one costs a map entry.
 */
export class LockRenewer {
  readonly #clock: Clock;
  readonly #budgetMs: number;
  readonly #lost: (message: BusReceivedMessage, error: unknown) => void;
  readonly #held = new Map<BusReceivedMessage, { readonly started: number; renewAt: number; renewing: boolean }>();
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(options: {
    clock: Clock;
    maxAutoLockRenewalMs: number;
    /** A renewal failed: the lock runs out on its own (the bus may deliver the message again). */
    lost: (message: BusReceivedMessage, error: unknown) => void;
  }) {
    this.#clock = options.clock;
    this.#budgetMs = options.maxAutoLockRenewalMs;
    this.#lost = options.lost;
  }

  /** Messages held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Keeps `messages` locked until {@link release}. */
  hold(messages: readonly BusReceivedMessage[]): void {
    const now = this.#clock.now();
    for (const message of messages) {
      if (message.renewLock === undefined || message.lockedUntil === undefined) continue;
      const entry = { started: now, renewAt: halfway(now, message.lockedUntil), renewing: false };
      this.#held.set(message, entry);
      this.#arm(entry.renewAt);
    }
  }

  /**
   * Stops renewing `messages`. The timer stays armed when none is left (the next message would arm
   * it again at once): when it fires with nothing held it is not armed again.
   */
  release(messages: readonly BusReceivedMessage[]): void {
    for (const message of messages) this.#held.delete(message);
  }

  /** Stops the timer (the listener closed). */
  close(): void {
    this.#held.clear();
    this.#disarm();
  }

  #arm(at: number): void {
    if (at >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#due(), Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #due(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [message, entry] of this.#held) {
      if (entry.renewing) continue;
      if (now - entry.started >= this.#budgetMs) {
        this.#held.delete(message); // the budget is spent: the lock runs out on its own
        continue;
      }
      if (entry.renewAt > now) {
        next = Math.min(next, entry.renewAt);
        continue;
      }
      entry.renewing = true;
      message.renewLock!().then(
        (until) => {
          entry.renewing = false;
          if (this.#held.get(message) !== entry) return;
          entry.renewAt = halfway(this.#clock.now(), until);
          this.#arm(entry.renewAt);
        },
        (err: unknown) => {
          this.#held.delete(message);
          this.#lost(message, err);
        },
      );
    }
    if (next < Number.POSITIVE_INFINITY) this.#arm(next);
  }
}

const halfway = (now: number, lockedUntil: Date): number => now + Math.max(0, (lockedUntil.getTime() - now) / 2);
