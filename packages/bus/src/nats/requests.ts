/**
 * Requests on the hot path — JetStream publishes (the server answers with a PubAck) and
 * acknowledgements (`+ACK`, `-NAK`, `+WPI` with a reply, so a settlement resolves once the server
 * has applied it) — over one reply subscription, many in flight. The official client's request
 * arms a timer and builds a promise chain per call; here a reply is a map lookup, and one sweep a
 * second times out what was not answered.
 * @module
 */
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

interface Waiter {
  readonly resolve: (m: Msg) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
}

export class RequestTimeoutError extends Error {
  constructor(subject: string) {
    super(`No answer to a request on ${subject}.`);
    this.name = 'RequestTimeoutError';
  }
}

export class Requests {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #waiting = new Map<string, Waiter>();
  readonly #timeoutMs: number;
  readonly #sweep: NodeJS.Timeout;
  #next = 0;

  constructor(nc: NatsConnection, prefix: string, timeoutMs = 10_000) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
    this.#sub = nc.subscribe(`${prefix}.*`, {
      callback: (err, m) => {
        if (err !== null) return;
        const token = m.subject.slice(prefix.length + 1);
        const w = this.#waiting.get(token);
        if (w === undefined) return;
        this.#waiting.delete(token);
        w.resolve(m);
      },
    });
    this.#sweep = setInterval(() => this.#expire(), 1_000);
    this.#sweep.unref();
  }

  /** Publishes `data` to `subject` and resolves with the answer. */
  request(subject: string, data: Uint8Array | string, msgId?: string): Promise<Msg> {
    const token = (this.#next++).toString(36);
    const reply = `${this.#prefix}.${token}`;
    return new Promise<Msg>((resolve, reject) => {
      this.#waiting.set(token, { resolve, reject, deadline: Date.now() + this.#timeoutMs });
      if (msgId === undefined) {
        this.#nc.publish(subject, data, { reply });
      } else {
        const h = headers();
        h.set('Nats-Msg-Id', msgId);
        this.#nc.publish(subject, data, { reply, headers: h });
      }
    });
  }

  #expire(): void {
    const now = Date.now();
    for (const [token, w] of this.#waiting) {
      if (w.deadline > now) continue;
      this.#waiting.delete(token);
      w.reject(new RequestTimeoutError(token));
    }
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#sub.unsubscribe();
    for (const w of this.#waiting.values()) w.reject(new Error('The connection closed.'));
    this.#waiting.clear();
  }
}
