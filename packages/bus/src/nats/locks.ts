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
  /** The expiry bucket the lock waits in. */
  bucket: Bucket | undefined;
}

/** Locks that expire at the same instant (a receive's batch), under one timer. */
interface Bucket {
  readonly until: number;
  readonly held: Set<Held>;
  readonly timer: TimerHandle;
}

export const nodeOf = (token: string): string => String(token).slice(0, 8);

export class LockTable {
  readonly node: string;
  readonly #clock: Clock;
  readonly #held = new Map<string, Held>();
  readonly #buckets = new Map<number, Bucket>();
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

  hold(h: Omit<Held, 'token' | 'bucket'>): Held {
    const held: Held = {
      token: this.token(),
      key: h.key,
      stream: h.stream,
      consumer: h.consumer,
      reply: h.reply,
      streamSeq: h.streamSeq,
      msg: h.msg,
      until: h.until,
      session: h.session,
      bucket: undefined,
    };
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
    this.#disarm(h);
    return h;
  }

  extend(h: Held, until: number): void {
    this.#disarm(h);
    h.until = until;
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
    let bucket = this.#buckets.get(h.until);
    if (bucket === undefined) {
      const until = h.until;
      const held = new Set<Held>();
      const timer = this.#clock.setTimeout(() => this.#expire(until), Math.max(0, until - this.#clock.now()));
      bucket = { until, held, timer };
      this.#buckets.set(until, bucket);
    }
    bucket.held.add(h);
    h.bucket = bucket;
  }

  #disarm(h: Held): void {
    const bucket = h.bucket;
    if (bucket === undefined) return;
    h.bucket = undefined;
    bucket.held.delete(h);
    if (bucket.held.size === 0) {
      bucket.timer.cancel();
      this.#buckets.delete(bucket.until);
    }
  }

  #expire(until: number): void {
    const bucket = this.#buckets.get(until);
    if (bucket === undefined) return;
    this.#buckets.delete(until);
    for (const h of bucket.held) {
      h.bucket = undefined;
      if (this.#held.get(h.token) !== h) continue;
      this.#held.delete(h.token);
      this.#onExpire(h);
    }
  }

  clear(): void {
    for (const b of this.#buckets.values()) b.timer.cancel();
    this.#buckets.clear();
    this.#held.clear();
  }
}
