/**
 * Pull requests to JetStream consumers, each on an inbox of its own. A request asks a consumer for
 * up to `batch` messages, at once (`no_wait`) or waiting up to `expires`; it ends when the batch
 * is full or the server answers with a status (404 no messages, 408 timeout, 409 …). A message
 * that arrives for a request nobody waits on any more (its receive timed out on the bus's clock)
 * is handed to `orphan`: it is locked to this node, so the broker keeps it for the next receive.
 * A request the server never answers (its consumer does not exist) ends after a grace period.
 * (Delivered messages keep their stream subject, so requests cannot share one wildcard inbox.)
 * @module
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';

export interface PullRequest {
  readonly stream: string;
  readonly consumer: string;
  readonly batch: number;
  /** Real milliseconds the server holds the request; 0 = answer at once. */
  readonly expiresMs: number;
}

/** Status a pull ends with when the connection closes (the server's are HTTP-like codes). */
export const PULL_CLOSED = -1;
/** Status a pull ends with when the server never answered (no such consumer, say). */
export const PULL_UNANSWERED = -2;
/** How long past its expiry a pull may go unanswered before it is given up. */
const GRACE_MS = 5_000;

interface Pending {
  readonly sub: Subscription;
  timer: NodeJS.Timeout | undefined;
  got: number;
  onMessage: ((m: Msg) => void) | undefined;
  onEnd: ((status: number) => void) | undefined;
}

export class Puller {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #pending = new Set<Pending>();
  readonly #orphan: (m: Msg, stream: string, consumer: string) => void;
  #next = 0;

  constructor(nc: NatsConnection, prefix: string, orphan: (m: Msg, stream: string, consumer: string) => void) {
    this.#nc = nc;
    this.#prefix = prefix;
    this.#orphan = orphan;
  }

  /** Starts a pull; `onMessage` per message, then `onEnd` once with the status (0 = batch full). Returns a cancel. */
  pull(req: PullRequest, onMessage: (m: Msg) => void, onEnd: (status: number) => void): () => void {
    const inbox = `${this.#prefix}.${(this.#next++).toString(36)}`;
    const end = (p: Pending, status: number): void => {
      this.#pending.delete(p);
      clearTimeout(p.timer);
      p.sub.unsubscribe();
      const cb = p.onEnd;
      p.onEnd = undefined;
      p.onMessage = undefined;
      cb?.(status);
    };
    const sub = this.#nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err !== null) return end(p, PULL_CLOSED);
        const code = m.headers?.code ?? 0;
        if (code !== 0 || !m.reply) {
          if (code === 100) return; // heartbeat
          return end(p, code);
        }
        if (p.onMessage === undefined) this.#orphan(m, req.stream, req.consumer);
        else p.onMessage(m);
        if (++p.got >= req.batch) end(p, 0);
      },
    });
    const p: Pending = { sub, timer: undefined, got: 0, onMessage, onEnd };
    p.timer = setTimeout(() => end(p, PULL_UNANSWERED), req.expiresMs + GRACE_MS);
    p.timer.unref();
    this.#pending.add(p);
    const body =
      req.expiresMs > 0
        ? { batch: req.batch, expires: req.expiresMs * 1_000_000 }
        : { batch: req.batch, no_wait: true };
    this.#nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${req.stream}.${req.consumer}`, JSON.stringify(body), { reply: inbox });
    return () => {
      p.onMessage = undefined;
      p.onEnd = undefined;
    };
  }

  close(): void {
    for (const p of [...this.#pending]) {
      this.#pending.delete(p);
      clearTimeout(p.timer);
      p.sub.unsubscribe();
      p.onEnd?.(PULL_CLOSED);
    }
  }
}
