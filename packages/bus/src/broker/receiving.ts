/**
 * Receiving from the in-process broker: taking the next available messages of a queue (or of one
 * session) in sequence order, expiring those past their time to live on the way, locking them
 * (peek-lock) or removing them (receive-and-delete), and waiting when there is none. Also peek
 * and receiving deferred messages by sequence number. The waiting receivers are the queue's
 * (`QueueState.waiters`), woken when a message becomes available.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';
import { BusError, closedError, entityDeleted, sessionLockLost } from '../errors.ts';
import type { Catalog } from './catalog.ts';
import type { BrokerContext } from './context.ts';
import type { MessageLocks } from './locks.ts';
import type { Delivery, PeekRange, ReceiveMode, ReceiveOptions } from './port.ts';
import type { Entry, QueueState, SessionQueue } from './queue-state.ts';
import type { SessionLocks } from './sessions.ts';

/** A receive waiting this long (the largest timer delay) waits until a message, an abort or close: no timer. */
const NEVER = 2_147_483_647;

export class Receiving {
  readonly #ctx: BrokerContext;
  readonly #catalog: Catalog;
  readonly #clock: Clock;
  readonly #locks: MessageLocks;
  readonly #sessions: SessionLocks;

  constructor(ctx: BrokerContext, locks: MessageLocks, sessions: SessionLocks) {
    this.#ctx = ctx;
    this.#catalog = ctx.catalog;
    this.#clock = ctx.clock;
    this.#locks = locks;
    this.#sessions = sessions;
  }

  /** Receives up to `maxMessages`, waiting up to `maxWaitTimeMs` for the first one. */
  receive(path: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.#ctx.check();
    const queue = this.#catalog.receivable(path);
    if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) {
      throw new BusError('BUS_INVALID_OPTION', 'maxMessages: must be a positive integer', {
        detail: { option: 'maxMessages' },
      });
    }
    if (options.mode !== 'peekLock' && options.mode !== 'receiveAndDelete') {
      throw new BusError('BUS_INVALID_OPTION', "mode: must be 'peekLock' or 'receiveAndDelete'", {
        detail: { option: 'mode' },
      });
    }
    let session: SessionQueue | undefined;
    if (options.session !== undefined) {
      session = this.#sessions.locked(queue, options.session);
    } else if (queue.settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${queue.path} requires sessions: accept a session to receive.`, {
        detail: { entity: queue.path },
      });
    }
    const taken = this.#take(queue, session, options.maxMessages, options.mode);
    if (taken.length < options.maxMessages && queue.parked > 0 && session === undefined) {
      // The rest are parked on disk: bring them back first (a short read, not a wait).
      return this.#ctx.refill(queue, options.maxMessages - taken.length).then(() => {
        this.#ctx.check();
        taken.push(...this.#take(queue, session, options.maxMessages - taken.length, options.mode));
        if (taken.length > 0 || options.maxWaitTimeMs <= 0) return this.#finish(queue, taken, options.mode);
        return this.#wait(queue, session, options);
      });
    }
    if (taken.length > 0 || options.maxWaitTimeMs <= 0) return this.#finish(queue, taken, options.mode);
    return this.#wait(queue, session, options);
  }

  /** Waits for a message to become available, up to `maxWaitTimeMs`. */
  #wait(queue: QueueState, session: SessionQueue | undefined, options: ReceiveOptions): Promise<Delivery[]> {
    return new Promise<Delivery[]>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const done = (): void => {
        queue.waiters.delete(waiter);
        timer?.cancel();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const waiter = {
        session,
        wake: (): boolean => {
          if (this.#ctx.closed() || !this.#catalog.queueStates.has(queue.key)) {
            done();
            reject(this.#ctx.closed() ? closedError('bus') : entityDeleted(queue.path));
            return true;
          }
          if (session !== undefined && session.lockToken !== options.session) {
            done();
            reject(sessionLockLost(queue.path, session.id));
            return true;
          }
          const got = this.#take(queue, session, options.maxMessages, options.mode);
          if (got.length === 0) return false;
          done();
          this.#finish(queue, got, options.mode).then(resolve, reject);
          return true;
        },
      };
      const onAbort = (): void => {
        done();
        const reason: unknown = options.signal?.reason;
        if (reason instanceof BusError) reject(reason);
        else resolve([]);
      };
      queue.waiters.add(waiter);
      if (options.maxWaitTimeMs < NEVER) {
        timer = this.#clock.setTimeout(() => {
          done();
          resolve([]);
        }, options.maxWaitTimeMs);
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #take(queue: QueueState, session: SessionQueue | undefined, max: number, mode: ReceiveMode): Entry[] {
    const heap = session?.available ?? queue.available;
    const out: Entry[] = [];
    const now = this.#clock.now();
    while (out.length < max) {
      const e = queue.next(heap);
      if (e === undefined) break;
      if (e.msg.expiresAt !== undefined && e.msg.expiresAt <= now && !queue.isDeadLetter) {
        this.#expire(queue, e);
        continue;
      }
      if (mode === 'peekLock') this.#locks.lock(queue, e, session, now);
      else queue.remove(e.msg.seq);
      out.push(e);
    }
    if (queue.parked > 0 && queue.refilling === undefined) this.#ctx.background(this.#ctx.refill(queue));
    return out;
  }

  async #finish(queue: QueueState, taken: Entry[], mode: ReceiveMode): Promise<Delivery[]> {
    if (mode === 'receiveAndDelete' && taken.length > 0) {
      await this.#ctx.engine.write(taken.map((e) => ({ op: 'remove', entity: queue.key, seq: e.msg.seq }) as const));
    }
    return taken.map((e) => ({
      msg: e.msg,
      path: queue.path,
      lockToken: e.lockToken,
      lockedUntil: e.lockToken === undefined ? undefined : e.lockedUntil,
    }));
  }

  #expire(queue: QueueState, e: Entry): void {
    queue.remove(e.msg.seq);
    this.#ctx.events.emit('expired', { entity: queue.path, sequenceNumber: BigInt(e.msg.seq) });
    if (queue.settings.deadLetteringOnMessageExpiration) {
      this.#ctx.background(this.#ctx.deadLetter(queue, e.msg, 'TTLExpiredException', 'The message expired.'));
    } else {
      this.#ctx.background(this.#ctx.engine.write([{ op: 'remove', entity: queue.key, seq: e.msg.seq }]));
    }
  }

  /** Messages in sequence order from `fromSequenceNumber`, without locking (includes locked, deferred, scheduled). */
  peek(path: string, options: PeekRange): Delivery[] {
    this.#ctx.check();
    const queue = this.#catalog.receivable(path);
    const from = Number(options.fromSequenceNumber ?? 1n);
    const seqs: number[] = [];
    for (const [seq, e] of queue.messages) {
      if (seq >= from && (options.sessionId === undefined || e.msg.sessionId === options.sessionId)) seqs.push(seq);
    }
    seqs.sort((a, b) => a - b);
    return seqs.slice(0, options.maxMessageCount).map((seq) => {
      const e = queue.messages.get(seq)!;
      return { msg: e.msg, path: queue.path, lockToken: undefined, lockedUntil: undefined };
    });
  }

  /** Receives deferred messages by sequence number (BUS_MESSAGE_NOT_FOUND when one is not deferred). */
  async receiveDeferred(
    path: string,
    sequenceNumbers: readonly bigint[],
    mode: ReceiveMode,
    sessionToken?: string,
  ): Promise<Delivery[]> {
    this.#ctx.check();
    const queue = this.#catalog.receivable(path);
    const session = sessionToken === undefined ? undefined : this.#sessions.locked(queue, sessionToken);
    const entries: Entry[] = [];
    for (const n of new Set(sequenceNumbers)) {
      const e = queue.messages.get(Number(n));
      if (
        e === undefined ||
        e.msg.state !== 'deferred' ||
        e.lockToken !== undefined ||
        (queue.settings.requiresSession && e.msg.sessionId !== session?.id)
      ) {
        throw new BusError('BUS_MESSAGE_NOT_FOUND', `No deferred message with sequence number ${n} in ${queue.path}.`, {
          detail: { entity: queue.path, sequenceNumber: String(n) },
        });
      }
      entries.push(e);
    }
    const now = this.#clock.now();
    for (const e of entries) {
      if (mode === 'peekLock') this.#locks.lock(queue, e, session, now);
      else queue.remove(e.msg.seq);
    }
    return this.#finish(queue, entries, mode);
  }
}
