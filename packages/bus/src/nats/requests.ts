/**
 * Requests on the hot path — JetStream publishes (the server answers with a PubAck) and
 * acknowledgements (`+ACK`, `-NAK`, `+WPI` with a reply, so a settlement resolves once the server
 * has applied it) — over one reply subscription, many in flight. The official client's request
 * arms a timer and builds a promise chain per call; here a reply is a map lookup, and one sweep a
 * second times out what was not answered. Requests made in one turn of the event loop are
 * published together at its end (`setImmediate`), so the client writes them to the socket in one
 * write rather than one per settlement.
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
  #corked: Array<{ subject: string; data: Uint8Array | string; reply: string; msgId: string | undefined }> = [];

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
      if (this.#corked.length === 0) setImmediate(() => this.#uncork());
      this.#corked.push({ subject, data, reply, msgId });
    });
  }

  #uncork(): void {
    const corked = this.#corked;
    this.#corked = [];
    for (const r of corked) {
      try {
        if (r.msgId === undefined) {
          this.#nc.publish(r.subject, r.data, { reply: r.reply });
        } else {
          const h = headers();
          h.set('Nats-Msg-Id', r.msgId);
          this.#nc.publish(r.subject, r.data, { reply: r.reply, headers: h });
        }
      } catch (err) {
        const token = r.reply.slice(this.#prefix.length + 1);
        const w = this.#waiting.get(token);
        this.#waiting.delete(token);
        w?.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
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
