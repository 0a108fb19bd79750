/**
 * Receiving from JetStream: pulling from an entity's (or a session's) consumer, checking time to
 * live and delivery count on receipt, locking what is handed out, waiting on the bus's clock while
 * pulling from the server meanwhile, keeping deliveries that arrive after a receive gave up for
 * the next one; receiving deferred messages by sequence number, and peek.
 * @module
 */
import type { Msg } from '@nats-io/transport-node';
import type { Delivery, PeekRange, ReceiveMode, ReceiveOptions } from '../broker/port.ts';
import type { QueueState } from '../broker/queue-state.ts';
import type { StoredMessage } from '../engine/port.ts';
import { DEAD_LETTER_SUFFIX } from '../entities.ts';
import { BusError, closedError, sessionLockLost } from '../errors.ts';
import { decodePayload } from './codec.ts';
import { type NatsContext, type SessionView, type Source, sourceKey } from './context.ts';
import { engineFailure } from './entities.ts';
import type { Held } from './locks.ts';
import { PULL_CLOSED, PULL_UNANSWERED, type Puller } from './pull.ts';
import { maxDeliveryText, parseAckReply, type Settling } from './settling.ts';
import { invalidOption } from './url.ts';

/** A receive waiting this long waits until a message, an abort or close: no timer. */
const NEVER = 2_147_483_647;
/** How long one pull request is held by the server while a receive waits (real time). */
const PULL_EXPIRES_MS = 1_000;
/** Most stream messages a peek looks at. */
const PEEK_SCAN_LIMIT = 10_000;

interface Waiting {
  readonly key: string;
  readonly fail: (err: BusError) => void;
}

export const ownerKey = (key: string): string =>
  key.endsWith(DEAD_LETTER_SUFFIX) ? key.slice(0, -DEAD_LETTER_SUFFIX.length) : key;

export class Receiving {
  readonly #b: NatsContext;
  readonly #sessions: SessionView;
  readonly #s: Settling;
  readonly #puller: Puller;
  readonly #orphans = new Map<string, Held[]>();
  readonly #waiting = new Set<Waiting>();

  constructor(broker: NatsContext, sessions: SessionView, settling: Settling, puller: Puller) {
    this.#b = broker;
    this.#sessions = sessions;
    this.#s = settling;
    this.#puller = puller;
  }

  /** Fails the receives waiting on `key` (every one when undefined). */
  fail(key: string | undefined, err: BusError): void {
    for (const w of [...this.#waiting]) if (key === undefined || w.key === key) w.fail(err);
    if (key === undefined) this.#orphans.clear();
  }

  async receive(path: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.#b.check();
    const queue = this.#b.entities.catalog.receivable(path);
    if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) {
      throw invalidOption('maxMessages', 'must be a positive integer');
    }
    if (options.mode !== 'peekLock' && options.mode !== 'receiveAndDelete') {
      throw invalidOption('mode', "must be 'peekLock' or 'receiveAndDelete'");
    }
    let source: Source;
    let session: string | undefined;
    const n = this.#b.names(queue.isDeadLetter ? ownerKey(queue.key) : queue.key);
    if (options.session !== undefined) {
      session = options.session;
      source = { stream: n.stream, consumer: this.#sessions.consumerOf(queue, session) };
    } else if (queue.settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${queue.path} requires sessions: accept a session to receive.`, {
        detail: { entity: queue.path },
      });
    } else {
      source = queue.isDeadLetter ? { stream: n.side, consumer: 'dlq' } : { stream: n.stream, consumer: 'm' };
    }
    // The wait is measured from the call, on the bus's clock (which may move while this awaits).
    const deadline = this.#b.clock.now() + Math.min(options.maxWaitTimeMs, NEVER);
    await this.#s.quiet(source);
    const out: Held[] = this.#takeOrphans(source, options.maxMessages);
    if (out.length < options.maxMessages) {
      await this.#pullNow(source, queue, session, options.maxMessages - out.length, out);
    }
    if (out.length === 0 && options.maxWaitTimeMs > 0) {
      const wait = options.maxWaitTimeMs >= NEVER ? NEVER : deadline - this.#b.clock.now();
      if (wait > 0) await this.#wait(source, queue, session, { ...options, maxWaitTimeMs: wait }, out);
    }
    return this.#hand(queue, out, options.mode);
  }

  /** Waits for the first message on the bus's clock, pulling from the server meanwhile. */
  #wait(source: Source, queue: QueueState, session: string | undefined, o: ReceiveOptions, out: Held[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      let cancel: (() => void) | undefined;
      const finish = (err?: BusError): void => {
        if (finished) return;
        finished = true;
        cancel?.();
        timer?.cancel();
        this.#waiting.delete(waiting);
        o.signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const waiting: Waiting = { key: queue.key, fail: finish };
      const onAbort = (): void => {
        const reason: unknown = o.signal?.reason;
        finish(reason instanceof BusError ? reason : undefined);
      };
      const timer = o.maxWaitTimeMs < NEVER ? this.#b.clock.setTimeout(() => finish(), o.maxWaitTimeMs) : undefined;
      this.#waiting.add(waiting);
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const loop = (): void => {
        if (finished) return;
        if (session !== undefined && !this.#sessions.holds(session)) {
          finish(sessionLockLost(queue.path, this.#sessions.idOf(session) ?? ''));
          return;
        }
        const got: Msg[] = [];
        cancel = this.#puller.pull(
          { ...source, batch: 1, expiresMs: PULL_EXPIRES_MS },
          (m) => got.push(m),
          (status) => {
            cancel = undefined;
            void (async () => {
              for (const m of got) {
                const h = await this.#admit(source, queue, session, m);
                if (h === undefined) continue;
                if (finished) this.#keepOrphan(source, h);
                else out.push(h);
              }
              if (finished) return;
              if (out.length > 0) {
                await this.#pullNow(source, queue, session, o.maxMessages - out.length, out);
                finish();
              } else if (status === PULL_CLOSED) {
                finish(closedError('bus'));
              } else if (status === 408 || status === 0) {
                loop();
              } else {
                // 409 (the consumer is being replaced: a session changing hands), 404, no answer at
                // all (the consumer is not there yet): look again shortly, until the wait ends.
                setTimeout(loop, 100).unref();
              }
            })().catch((err: unknown) => finish(engineFailure(`receiving from ${queue.path}`, err)));
          },
        );
      };
      loop();
    });
  }

  /** Pulls what is there now (no wait) into `out`. */
  #pullNow(source: Source, queue: QueueState, session: string | undefined, want: number, out: Held[]): Promise<void> {
    if (want <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const got: Msg[] = [];
      this.#puller.pull(
        { ...source, batch: want, expiresMs: 0 },
        (m) => got.push(m),
        (status) => {
          void (async () => {
            if (status === PULL_CLOSED) throw closedError('bus');
            if (status === PULL_UNANSWERED)
              throw engineFailure(`receiving from ${queue.path}: its consumer did not answer`, undefined);
            let admitted = 0;
            for (const m of got) {
              const h = await this.#admit(source, queue, session, m);
              if (h !== undefined) {
                out.push(h);
                admitted++;
              }
            }
            // Messages dropped on the way (expired, dead-lettered) leave room: look again.
            if (admitted < got.length && status === 0) {
              await this.#pullNow(source, queue, session, got.length - admitted, out);
            }
          })().then(resolve, reject);
        },
      );
    });
  }

  /** A delivery from the server: expired or past its delivery count it moves on, else it is locked here. */
  async #admit(source: Source, queue: QueueState, session: string | undefined, m: Msg): Promise<Held | undefined> {
    const reply = m.reply!;
    const { dc, sseq } = parseAckReply(reply);
    let stored: StoredMessage;
    try {
      stored = decodePayload(m.data, queue.key, 'active', sseq);
    } catch (err) {
      // Not a bus message (published to the stream by something else): terminated, and said so.
      this.#b.nc.publish(reply, '+TERM');
      this.#b.events.emit('error', engineFailure(`reading message ${sseq} of ${queue.path}`, err));
      return undefined;
    }
    const msg: StoredMessage = { ...stored, deliveryCount: (stored.deliveryCount ?? 0) + dc - 1 };
    const now = this.#b.clock.now();
    if (!queue.isDeadLetter) {
      if (msg.expiresAt !== undefined && msg.expiresAt <= now) {
        this.#b.events.emit('expired', { entity: queue.path, sequenceNumber: BigInt(msg.seq) });
        if (queue.settings.deadLetteringOnMessageExpiration) {
          await this.#s.deadLetter(queue, reply, msg, 'TTLExpiredException', 'The message expired.');
        } else {
          await this.#s.ack(reply);
        }
        return undefined;
      }
      if (msg.deliveryCount >= queue.settings.maxDeliveryCount) {
        await this.#s.deadLetter(queue, reply, msg, 'MaxDeliveryCountExceeded', maxDeliveryText(queue));
        return undefined;
      }
    }
    const until = session !== undefined ? this.#sessions.until(session) : now + queue.settings.lockDuration;
    return this.#b.locks.hold({ key: queue.key, ...source, reply, streamSeq: sseq, msg, until, session });
  }

  async #hand(queue: QueueState, held: Held[], mode: ReceiveMode): Promise<Delivery[]> {
    if (mode === 'receiveAndDelete') {
      for (const h of held) this.#b.locks.take(h.token);
      await Promise.all(held.map((h) => this.#s.ack(h.reply!)));
      return held.map((h) => ({ msg: h.msg, path: queue.path, lockToken: undefined, lockedUntil: undefined }));
    }
    return held.map((h) => ({ msg: h.msg, path: queue.path, lockToken: h.token, lockedUntil: h.until }));
  }

  orphan(source: Source, m: Msg): void {
    const queue = this.#queueOfSource(source);
    if (queue === undefined || this.#b.closed) {
      if (m.reply) this.#b.nc.publish(m.reply, '-NAK');
      return;
    }
    const session = source.consumer.startsWith('s_')
      ? this.#sessions.tokenOfConsumer(queue, source.consumer)
      : undefined;
    this.#s.track(
      source,
      this.#admit(source, queue, session, m).then((h) => {
        if (h !== undefined) this.#keepOrphan(source, h);
      }),
    );
  }

  #keepOrphan(source: Source, h: Held): void {
    const k = sourceKey(source);
    const list = this.#orphans.get(k) ?? [];
    list.push(h);
    this.#orphans.set(k, list);
  }

  #takeOrphans(source: Source, max: number): Held[] {
    const list = this.#orphans.get(sourceKey(source));
    if (list === undefined) return [];
    const live = list.filter((h) => this.#b.locks.get(h.token) === h);
    const out = live.splice(0, max);
    if (live.length === 0) this.#orphans.delete(sourceKey(source));
    else this.#orphans.set(sourceKey(source), live);
    for (const h of out) this.#b.locks.extend(h, this.#b.clock.now() + this.#lockDurationOf(h));
    return out;
  }

  #queueOfSource(source: Source): QueueState | undefined {
    for (const q of this.#b.entities.catalog.queueStates.values()) {
      const n = this.#b.names(q.isDeadLetter ? ownerKey(q.key) : q.key);
      if (q.isDeadLetter ? n.side === source.stream : n.stream === source.stream) return q;
    }
    return undefined;
  }

  #lockDurationOf(h: Held): number {
    return this.#b.entities.catalog.queueStates.get(h.key)?.settings.lockDuration ?? 60_000;
  }

  async receiveDeferred(
    path: string,
    sequenceNumbers: readonly bigint[],
    mode: ReceiveMode,
    sessionToken?: string,
  ): Promise<Delivery[]> {
    this.#b.check();
    const queue = this.#b.entities.catalog.receivable(path);
    if (sessionToken !== undefined && !this.#sessions.holds(sessionToken)) {
      throw sessionLockLost(queue.path, this.#sessions.idOf(sessionToken) ?? '');
    }
    const n = this.#b.names(queue.key);
    const found: Array<{ msg: StoredMessage; streamSeq: number }> = [];
    for (const s of sequenceNumbers) {
      const seq = Number(s);
      const got = await this.#b.getMessage(n.side, { last_by_subj: n.deferred(seq) });
      if (got === undefined) {
        throw new BusError('BUS_MESSAGE_NOT_FOUND', `No deferred message ${s} in ${queue.path}.`, {
          detail: { entity: queue.path, sequenceNumber: String(s) },
        });
      }
      found.push({ msg: decodePayload(got.data, queue.key, 'deferred', seq), streamSeq: got.seq });
    }
    const now = this.#b.clock.now();
    const out: Delivery[] = [];
    for (const f of found) {
      if (mode === 'receiveAndDelete') {
        await this.#b.jsm.streams.deleteMessage(n.side, f.streamSeq, false).catch(() => false);
        out.push({ msg: f.msg, path: queue.path, lockToken: undefined, lockedUntil: undefined });
        continue;
      }
      const until = sessionToken !== undefined ? this.#sessions.until(sessionToken) : now + queue.settings.lockDuration;
      const h = this.#b.locks.hold({
        key: queue.key,
        stream: n.side,
        consumer: '',
        reply: undefined,
        streamSeq: f.streamSeq,
        msg: f.msg,
        until,
        session: sessionToken,
      });
      out.push({ msg: f.msg, path: queue.path, lockToken: h.token, lockedUntil: h.until });
    }
    return out;
  }

  async peek(path: string, range: PeekRange): Promise<Delivery[]> {
    this.#b.check();
    const queue = this.#b.entities.catalog.receivable(path);
    const from = range.fromSequenceNumber ?? 1n;
    const owner = queue.isDeadLetter ? ownerKey(queue.key) : queue.key;
    const n = this.#b.names(owner);
    const sideBase = n.sideAll.slice(0, -2);
    const scans: Array<{ stream: string; filter: string }> = queue.isDeadLetter
      ? [{ stream: n.side, filter: n.deadLetter }]
      : [
          { stream: n.stream, filter: range.sessionId === undefined ? n.all : n.session(range.sessionId) },
          { stream: n.side, filter: `${sideBase}.d.*` },
        ];
    const found: StoredMessage[] = [];
    for (const scan of scans) {
      let cursor = 1;
      for (let seen = 0; seen < PEEK_SCAN_LIMIT; seen++) {
        const got = await this.#b.getMessage(scan.stream, { seq: cursor, next_by_subj: scan.filter });
        if (got === undefined) break;
        cursor = got.seq + 1;
        const kind = got.subject.split('.')[2];
        if (kind === 't') continue;
        const state = kind === 'sch' ? 'scheduled' : kind === 'd' ? 'deferred' : 'active';
        let msg: StoredMessage;
        try {
          msg = decodePayload(got.data, queue.key, state, got.seq);
        } catch (err) {
          // Not a bus message (published to the stream by something else): passed over, and said so.
          this.#b.events.emit('error', engineFailure(`peeking message ${got.seq} of ${queue.path}`, err));
          continue;
        }
        if (BigInt(msg.seq) < from) continue;
        if (range.sessionId !== undefined && msg.sessionId !== range.sessionId) continue;
        found.push(msg);
      }
    }
    found.sort((a, b) => a.seq - b.seq);
    return found.slice(0, range.maxMessageCount).map((msg) => ({
      msg,
      path: queue.path,
      lockToken: undefined,
      lockedUntil: undefined,
    }));
  }
}
