/**
 * Message locks held by this node. A peek-lock is a JetStream delivery not yet acknowledged; this
 * table maps its lock token to the delivery's ack subject (stream sequence, consumer, delivery
 * count) and expires it on the bus's clock — the node naks it then, so it is redelivered with the
 * count kept; the consumer's ack wait (a little longer) is the backstop when the node is gone.
 * Lock tokens are GUIDs whose first eight hex digits name the node, so a settlement arriving at
 * another node is forwarded to the holder over NATS request/reply (`<ns>.lock.<node>`), and a
 * token whose node is gone is a lost lock, as on Service Bus.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';
import type { StoredMessage } from '../engine/port.ts';

export interface Held {
  readonly token: string;
  /** Receivable key (`q`, `t/subscriptions/s`, `q/$deadletterqueue`). */
  readonly key: string;
  readonly stream: string;
  readonly consumer: string;
  /** The delivery's ack subject; undefined for a deferred message (settled by stream sequence). */
  readonly reply: string | undefined;
  readonly streamSeq: number;
  msg: StoredMessage;
  until: number;
  /** Session lock token the message was received under. */
  readonly session: string | undefined;
  timer: TimerHandle | undefined;
}

export const nodeOf = (token: string): string => String(token).slice(0, 8);

export class LockTable {
  readonly node: string;
  readonly #clock: Clock;
  readonly #held = new Map<string, Held>();
  readonly #onExpire: (h: Held) => void;
  #counter = 0;

  constructor(node: string, clock: Clock, onExpire: (h: Held) => void) {
    this.node = node;
    this.#clock = clock;
    this.#onExpire = onExpire;
  }

  /** A fresh GUID-shaped token naming this node. */
  token(): string {
    const n = (++this.#counter).toString(16).padStart(22, '0');
    return `${this.node}-${n.slice(0, 4)}-4${n.slice(4, 7)}-8${n.slice(7, 10)}-${n.slice(10, 22)}`;
  }

  hold(h: Omit<Held, 'token' | 'timer'>): Held {
    const held: Held = { ...h, token: this.token(), timer: undefined };
    this.#held.set(held.token, held);
    this.#arm(held);
    return held;
  }

  get(token: string): Held | undefined {
    return this.#held.get(token);
  }

  /** Takes the lock out of the table (it is being settled); undefined when not held here. */
  take(token: string): Held | undefined {
    const h = this.#held.get(token);
    if (h === undefined) return undefined;
    this.#held.delete(token);
    h.timer?.cancel();
    return h;
  }

  extend(h: Held, until: number): void {
    h.until = until;
    h.timer?.cancel();
    this.#arm(h);
  }

  /** Locks held under a session lock. */
  ofSession(sessionToken: string): Held[] {
    return [...this.#held.values()].filter((h) => h.session === sessionToken);
  }

  all(): Held[] {
    return [...this.#held.values()];
  }

  #arm(h: Held): void {
    h.timer = this.#clock.setTimeout(
      () => {
        if (this.#held.get(h.token) !== h) return;
        this.#held.delete(h.token);
        this.#onExpire(h);
      },
      Math.max(0, h.until - this.#clock.now()),
    );
  }

  clear(): void {
    for (const h of this.#held.values()) h.timer?.cancel();
    this.#held.clear();
  }
}
