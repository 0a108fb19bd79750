/**
 * Service Bus semantics, implemented once for every engine: routing (topics, rules,
 * auto-forwarding), duplicate detection, TTL, scheduling, peek-lock and its settlements,
 * dead-lettering, deferral and sessions. State changes go through {@link BusEngine.write} before
 * they become visible (a send resolves after its messages are durable); locks and waiters are memory.
 * Routing lives in `routing.ts`; this file is long because locks, sessions and timers share the
 * same private maps, and splitting a class's private state across modules would hide that.
 * @module
 */
import { type Clock, type IdSource, randomIds, systemClock, type TimerHandle, TypedEmitter } from '@hubbub/kernel';
import type { BusEngine, EngineOp, StoredMessage } from '../engine/port.ts';
import { BusError, closedError, lockLost } from '../errors.ts';
import type { PropertyValue, ServiceBusMessage } from '../message.ts';
import { type EncodedMessage, encodeMessage } from '../message-codec.ts';
import { Catalog, type QueueEntry, type TopicEntry } from './catalog.ts';
import { Heap } from './heap.ts';
import { type Entry, isStale, type QueueState, type SessionQueue } from './queue-state.ts';
import { Router } from './routing.ts';

export type ReceiveMode = 'peekLock' | 'receiveAndDelete';

/** A message handed to a receiver: the stored message plus its lock. */
export interface Delivery {
  readonly msg: StoredMessage;
  /** Receiving entity path (`q`, `t/subscriptions/s`, `q/$deadletterqueue`). */
  readonly path: string;
  readonly lockToken: string | undefined;
  readonly lockedUntil: number | undefined;
}

/** What a session lock gives back. */
export interface SessionLock {
  readonly sessionId: string;
  readonly lockToken: string;
  readonly lockedUntil: number;
}

export type BusEvents = {
  /** Messages were accepted (durable) by a queue or topic. */
  sent: (e: { entity: string; count: number }) => void;
  /** A message moved to a dead-letter queue. */
  deadLettered: (e: { entity: string; sequenceNumber: bigint; reason: string }) => void;
  /** A message expired (dropped, or dead-lettered when the entity says so). */
  expired: (e: { entity: string; sequenceNumber: bigint }) => void;
  /** A peek-lock expired before settlement; the message is available again. */
  lockExpired: (e: { entity: string; sequenceNumber: bigint }) => void;
  /** A background write (lock expiry, schedule, TTL) failed. */
  error: (err: BusError) => void;
};

export interface BrokerOptions {
  engine: BusEngine;
  /** @default systemClock */
  clock?: Clock;
  /** Lock tokens and generated message ids. @default randomIds */
  ids?: IdSource;
  /** When a sent message becomes receivable; see {@link Visibility}. @default 'accepted' */
  visibility?: Visibility;
}

/**
 * When a sent message becomes receivable. Either way its sender is acknowledged only once it is
 * durable, and a settlement is acknowledged only once it is durable, which (the log being one
 * sequence) implies the message it settles is too.
 *
 * - `accepted`: as soon as the broker has accepted and sequenced it, while its write is on its way
 *   to disk (as NATS JetStream and RabbitMQ classic queues deliver). A slow disk then delays
 *   acknowledgements, not deliveries. If the process dies before the write lands, a receiver may
 *   have seen a message that is gone after restart; its sender was never acknowledged and sends
 *   it again (at-least-once, as always).
 * - `durable`: only once it is durable: a receiver never sees a message a crash could take back.
 */
export type Visibility = 'accepted' | 'durable';

export interface ReceiveOptions {
  maxMessages: number;
  mode: ReceiveMode;
  /** Wait this long for the first message. 0 = return at once. */
  maxWaitTimeMs: number;
  /** Receive from this locked session only. */
  session?: string | undefined;
  signal?: AbortSignal | undefined;
}

interface Timed {
  at: number;
  key: string;
  seq: number;
  token: string | undefined;
}

const earliest = (a: Timed, b: Timed): boolean => a.at < b.at;
/** A receive waiting this long (the largest timer delay) waits until a message, an abort or close: no timer. */
const NEVER = 2_147_483_647;

export class Broker {
  readonly events = new TypedEmitter<BusEvents>();
  readonly catalog: Catalog;
  readonly #engine: BusEngine;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #router: Router;
  readonly #locks = new Map<string, { queue: QueueState; entry: Entry }>();
  readonly #sessionLocks = new Map<string, { queue: QueueState; session: SessionQueue }>();
  /** Message lock tokens released with their session (settling them reports SESSION_LOCK_LOST). */
  readonly #lostWithSession = new Map<string, string>();
  /** Lock expiries (token set), session lock expiries (key + token) and schedules (no token). */
  readonly #lockTimes = new Heap<Timed>(earliest);
  readonly #sessionTimes = new Heap<Timed>(earliest);
  readonly #scheduleTimes = new Heap<Timed>(earliest);
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #closed = false;
  readonly #visibility: Visibility;

  private constructor(options: BrokerOptions) {
    this.#engine = options.engine;
    this.#visibility = options.visibility ?? 'accepted';
    if (this.#visibility !== 'accepted' && this.#visibility !== 'durable') {
      throw new BusError(
        'BUS_INVALID_OPTION',
        `visibility: must be 'accepted' or 'durable', got '${String(options.visibility)}'`,
        {
          detail: { option: 'visibility' },
        },
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? randomIds;
    this.catalog = new Catalog(this.#engine, this.#clock, {
      onQueueRemoved: (queue) => this.#queueRemoved(queue),
      onScheduled: (key, seq, at) => this.#schedule(key, seq, at),
    });
    this.#router = new Router(this.catalog);
  }

  static async open(options: BrokerOptions): Promise<Broker> {
    const broker = new Broker(options);
    const state = await options.engine.open();
    broker.catalog.restore(state);
    broker.#arm();
    return broker;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    for (const queue of this.catalog.queueStates.values()) this.#queueRemoved(queue, closedError('bus'));
    await this.#engine.close();
  }

  #check(): void {
    if (this.#closed) throw closedError('bus');
  }

  // ── send ────────────────────────────────────────────────────────────────────────────────────

  /** Sends messages to a queue or topic; resolves with their sequence numbers once durable. */
  async send(entity: string, messages: readonly ServiceBusMessage[]): Promise<bigint[]> {
    this.#check();
    const target = this.catalog.sendTarget(entity);
    if (!Array.isArray(messages)) {
      throw new BusError('BUS_INVALID_MESSAGE', 'messages: must be an array', { detail: { field: 'messages' } });
    }
    if (messages.length === 0) return [];
    const max = target.props.maxMessageSizeInKilobytes * 1024;
    const encoded: EncodedMessage[] = [];
    for (const [i, m] of messages.entries()) {
      const e = encodeMessage(m);
      if (e.size > max) {
        throw new BusError('BUS_MESSAGE_TOO_LARGE', `Message ${i} is ${e.size} bytes; ${entity} accepts ${max}.`, {
          detail: { entity, index: i, size: e.size, maxSize: max },
        });
      }
      if (target.kind === 'queue' && target.props.requiresSession && e.sessionId === undefined) {
        throw new BusError('BUS_INVALID_MESSAGE', `sessionId: required by session-enabled queue ${entity}`, {
          detail: { field: 'sessionId', entity },
        });
      }
      encoded.push(e);
    }
    const now = this.#clock.now();
    const ops: EngineOp[] = [];
    const inserts: StoredMessage[] = [];
    const seqs: bigint[] = [];
    const seen = this.catalog.dedupe(target.key);
    const added: string[] = [];
    for (const e of encoded) {
      if (e.messageId === undefined) (e as { messageId?: string }).messageId = this.#ids.uuid();
      const message = e;
      const id = e.messageId!;
      if (target.props.requiresDuplicateDetection) {
        const until = seen.get(id);
        if (until !== undefined && until > now) {
          seqs.push(0n);
          continue;
        }
        const windowEnd = now + target.props.duplicateDetectionHistoryTimeWindow;
        seen.set(id, windowEnd);
        added.push(id);
        ops.push({ op: 'dedupe', entity: target.key, messageId: id, until: windowEnd });
      }
      const seq = this.catalog.nextSeq(target.key);
      seqs.push(BigInt(seq));
      this.#router.route(target.key, message, seq, 0, now, ops, inserts);
    }
    try {
      await this.#commit(ops, inserts);
    } catch (err) {
      for (const id of added) seen.delete(id);
      throw err;
    }
    const accepted = seqs.filter((n) => n !== 0n).length; // duplicates are accepted but dropped
    if (accepted > 0) this.events.emit('sent', { entity: target.props.name, count: accepted });
    if (added.length > 0) this.catalog.maybePruneDedupe(target.key, now);
    return seqs;
  }

  /** Cancels scheduled messages by sequence number (queue or topic). */
  async cancelScheduled(entity: string, sequenceNumbers: readonly bigint[]): Promise<void> {
    this.#check();
    const target = this.catalog.sendTarget(entity);
    const ops: EngineOp[] = [];
    for (const n of sequenceNumbers) {
      const seq = Number(n);
      if (target.kind === 'queue') {
        const e = target.queue.messages.get(seq);
        if (e === undefined || e.msg.state !== 'scheduled') throw notScheduled(entity, n);
        target.queue.messages.delete(seq);
      } else if (!target.scheduled.delete(seq)) {
        throw notScheduled(entity, n);
      }
      ops.push({ op: 'remove', entity: target.key, seq });
    }
    await this.#engine.write(ops);
  }

  /** Writes `ops` and shows `inserts`: at once or once durable (see {@link Visibility}); resolves once durable. */
  async #commit(ops: EngineOp[], inserts: readonly StoredMessage[]): Promise<void> {
    if (ops.length === 0 || this.#visibility === 'durable') {
      if (ops.length > 0) await this.#engine.write(ops);
      for (const msg of inserts) this.#insert(msg);
      return;
    }
    const durable = this.#engine.write(ops);
    for (const msg of inserts) this.#insert(msg);
    try {
      await durable;
    } catch (err) {
      for (const msg of inserts) this.#withdraw(msg);
      throw err;
    }
  }

  /** Takes back a message shown before its write failed (the engine has failed; nothing settles it now). */
  #withdraw(msg: StoredMessage): void {
    const queue = this.catalog.queueStates.get(msg.entity);
    if (queue === undefined) {
      this.catalog.topics.get(msg.entity)?.scheduled.delete(msg.seq);
      return;
    }
    const e = queue.messages.get(msg.seq);
    if (e === undefined || e.msg !== msg) return;
    if (e.lockToken !== undefined) this.#unlock(queue, e);
    queue.messages.delete(msg.seq);
  }

  /** Makes a message visible in memory: once accepted or once durable, as {@link Visibility} says. */
  #insert(msg: StoredMessage): void {
    const queue = this.catalog.queueStates.get(msg.entity);
    if (queue === undefined) {
      const topic = this.catalog.topics.get(msg.entity);
      if (topic !== undefined && msg.state === 'scheduled') {
        topic.scheduled.set(msg.seq, msg);
        this.#schedule(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
      }
      return;
    }
    queue.insert(msg);
    if (msg.state === 'scheduled') this.#schedule(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
    if (queue.isDeadLetter) {
      this.events.emit('deadLettered', {
        entity: queue.path,
        sequenceNumber: BigInt(msg.seq),
        reason: msg.deadLetterReason ?? '',
      });
    }
  }

  // ── dead-lettering ──────────────────────────────────────────────────────────────────────────

  /** Moves a stored message (already removed from memory) to the DLQ; returns once durable. */
  #deadLetterStored(
    queue: QueueState,
    msg: StoredMessage,
    reason: string,
    description: string | undefined,
  ): Promise<void> {
    const ops: EngineOp[] = [{ op: 'remove', entity: queue.key, seq: msg.seq }];
    const inserts: StoredMessage[] = [];
    this.#router.deadLetterNew(queue, msg, reason, description, this.#clock.now(), ops, inserts);
    return this.#commit(ops, inserts);
  }

  #background(work: Promise<void>): void {
    work.catch((err: unknown) => {
      if (this.#closed) return;
      this.events.emit(
        'error',
        err instanceof BusError
          ? err
          : new BusError('BUS_ENGINE_FAILURE', 'A background write failed.', { cause: err }),
      );
    });
  }

  // ── receive ─────────────────────────────────────────────────────────────────────────────────

  /** Receives up to `maxMessages`, waiting up to `maxWaitTimeMs` for the first one. */
  receive(path: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.#check();
    const queue = this.catalog.receivable(path);
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
      session = this.#session(queue, options.session).session;
    } else if (queue.settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${queue.path} requires sessions: accept a session to receive.`, {
        detail: { entity: queue.path },
      });
    }
    const taken = this.#take(queue, session, options.maxMessages, options.mode);
    if (taken.length > 0 || options.maxWaitTimeMs <= 0) return this.#finish(queue, taken, options.mode);
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
          if (this.#closed || !this.catalog.queueStates.has(queue.key)) {
            done();
            reject(this.#closed ? closedError('bus') : this.#gone(queue));
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

  #gone(queue: QueueState): BusError {
    return new BusError('BUS_ENTITY_NOT_FOUND', `The messaging entity '${queue.path}' was deleted.`, {
      detail: { entity: queue.path },
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
      if (mode === 'peekLock') this.#lock(queue, e, session, now);
      else queue.messages.delete(e.msg.seq);
      out.push(e);
    }
    return out;
  }

  #lock(queue: QueueState, e: Entry, session: SessionQueue | undefined, now: number): void {
    const token = this.#ids.uuid();
    e.lockToken = token;
    queue.lockedCount++;
    this.#locks.set(token, { queue, entry: e });
    if (session !== undefined) {
      e.sessionLock = session.lockToken;
      e.lockedUntil = session.lockedUntil;
      session.locked.add(e);
    } else {
      e.lockedUntil = now + queue.settings.lockDuration;
      this.#queueLock(queue, e, token);
    }
  }

  #queueLock(queue: QueueState, e: Entry, token: string): void {
    queue.lockQueue.push({ entry: e, token, until: e.lockedUntil });
    if (!queue.lockTimerQueued) {
      queue.lockTimerQueued = true;
      this.#lockTimes.push({ at: e.lockedUntil, key: queue.key, seq: 0, token: undefined });
      if (e.lockedUntil < this.#timerAt) this.#arm();
    }
  }

  /** The lock timer of a queue fired: expire due locks from the head of its queue, re-arm for the rest. */
  #expireLocks(queue: QueueState, now: number): void {
    queue.lockTimerQueued = false;
    const q = queue.lockQueue;
    while (queue.lockHead < q.length) {
      const r = q[queue.lockHead]!;
      if (isStale(r)) {
        queue.lockHead++;
        continue;
      }
      if (r.until > now) break;
      this.#expireLock(queue, r.entry); // unlocking trims the queue past this record
    }
    queue.trimLocks();
    const head = q[queue.lockHead];
    if (head !== undefined) {
      queue.lockTimerQueued = true;
      this.#lockTimes.push({ at: head.until, key: queue.key, seq: 0, token: undefined });
    }
  }

  async #finish(queue: QueueState, taken: Entry[], mode: ReceiveMode): Promise<Delivery[]> {
    if (mode === 'receiveAndDelete' && taken.length > 0) {
      await this.#engine.write(taken.map((e) => ({ op: 'remove', entity: queue.key, seq: e.msg.seq }) as const));
    }
    return taken.map((e) => ({
      msg: e.msg,
      path: queue.path,
      lockToken: e.lockToken,
      lockedUntil: e.lockToken === undefined ? undefined : e.lockedUntil,
    }));
  }

  #expire(queue: QueueState, e: Entry): void {
    queue.messages.delete(e.msg.seq);
    this.events.emit('expired', { entity: queue.path, sequenceNumber: BigInt(e.msg.seq) });
    if (queue.settings.deadLetteringOnMessageExpiration) {
      this.#background(this.#deadLetterStored(queue, e.msg, 'TTLExpiredException', 'The message expired.'));
    } else {
      this.#background(this.#engine.write([{ op: 'remove', entity: queue.key, seq: e.msg.seq }]));
    }
  }

  /** Messages in sequence order from `fromSequenceNumber`, without locking (includes locked, deferred, scheduled). */
  peek(
    path: string,
    options: { fromSequenceNumber?: bigint; maxMessageCount: number; sessionId?: string | undefined },
  ): Delivery[] {
    this.#check();
    const queue = this.catalog.receivable(path);
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
    this.#check();
    const queue = this.catalog.receivable(path);
    const session = sessionToken === undefined ? undefined : this.#session(queue, sessionToken).session;
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
      if (mode === 'peekLock') this.#lock(queue, e, session, now);
      else queue.messages.delete(e.msg.seq);
    }
    return this.#finish(queue, entries, mode);
  }

  // ── settlement ──────────────────────────────────────────────────────────────────────────────

  /** The locked entry for `lockToken` in `path`; throws BUS_LOCK_LOST / BUS_SESSION_LOCK_LOST. */
  #locked(path: string, lockToken: string): { queue: QueueState; entry: Entry } {
    this.#check();
    const queue = this.catalog.receivable(path);
    const held = this.#locks.get(lockToken);
    if (held === undefined || held.queue !== queue || held.entry.lockToken !== lockToken) {
      const sessionId = this.#lostWithSession.get(lockToken);
      throw sessionId === undefined ? lockLost(lockToken) : sessionLockLost(queue.path, sessionId);
    }
    const now = this.#clock.now();
    const e = held.entry;
    if (e.sessionLock !== undefined) {
      const s = queue.sessions.get(e.msg.sessionId ?? '');
      if (s === undefined || s.lockToken !== e.sessionLock || s.lockedUntil <= now) {
        throw sessionLockLost(queue.path, e.msg.sessionId ?? '');
      }
    } else if (e.lockedUntil <= now) {
      this.#expireLock(queue, e);
      throw lockLost(lockToken);
    }
    return held;
  }

  #unlock(queue: QueueState, e: Entry): void {
    if (e.lockToken !== undefined) this.#locks.delete(e.lockToken);
    e.lockToken = undefined;
    e.lockedUntil = 0;
    queue.lockedCount--;
    if (e.sessionLock !== undefined) {
      queue.sessions.get(e.msg.sessionId ?? '')?.locked.delete(e);
      e.sessionLock = undefined;
    } else {
      queue.trimLocks();
    }
  }

  async complete(path: string, lockToken: string): Promise<void> {
    const { queue, entry } = this.#locked(path, lockToken);
    this.#unlock(queue, entry);
    queue.messages.delete(entry.msg.seq);
    await this.#engine.write([{ op: 'remove', entity: queue.key, seq: entry.msg.seq }]);
  }

  async abandon(
    path: string,
    lockToken: string,
    properties?: ServiceBusMessage['applicationProperties'],
  ): Promise<void> {
    const { queue, entry } = this.#locked(path, lockToken);
    this.#unlock(queue, entry);
    await this.#redeliver(queue, entry, properties);
  }

  /** Returns a message after abandon or lock loss: delivery count + 1, or the DLQ past the maximum. */
  #redeliver(queue: QueueState, entry: Entry, properties?: ServiceBusMessage['applicationProperties']): Promise<void> {
    const deliveryCount = entry.msg.deliveryCount + 1;
    const patch = {
      deliveryCount,
      ...(properties === undefined
        ? {}
        : { applicationProperties: { ...entry.msg.applicationProperties, ...checkProps(properties) } }),
    };
    entry.msg = { ...entry.msg, ...patch };
    if (deliveryCount >= queue.settings.maxDeliveryCount && !queue.isDeadLetter) {
      queue.messages.delete(entry.msg.seq);
      return this.#deadLetterStored(
        queue,
        entry.msg,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${queue.settings.maxDeliveryCount} delivery attempts.`,
      );
    }
    if (entry.msg.state === 'active') queue.makeAvailable(entry);
    return this.#engine.write([{ op: 'update', entity: queue.key, seq: entry.msg.seq, patch }]);
  }

  async deadLetter(
    path: string,
    lockToken: string,
    options: {
      reason?: string;
      errorDescription?: string;
      propertiesToModify?: ServiceBusMessage['applicationProperties'];
    } = {},
  ): Promise<void> {
    this.#check();
    const queue = this.catalog.receivable(path);
    if (queue.isDeadLetter) {
      throw new BusError('BUS_INVALID_OPERATION', `Cannot dead-letter a message in ${queue.path}.`, {
        detail: { entity: queue.path },
      });
    }
    if (options.reason !== undefined && (typeof options.reason !== 'string' || options.reason.length > 4096)) {
      throw new BusError('BUS_INVALID_OPTION', 'reason: must be a string of at most 4096 characters', {
        detail: { option: 'reason' },
      });
    }
    const held = this.#locked(path, lockToken);
    this.#unlock(held.queue, held.entry);
    held.queue.messages.delete(held.entry.msg.seq);
    const msg =
      options.propertiesToModify === undefined
        ? held.entry.msg
        : {
            ...held.entry.msg,
            applicationProperties: {
              ...held.entry.msg.applicationProperties,
              ...checkProps(options.propertiesToModify),
            },
          };
    await this.#deadLetterStored(held.queue, msg, options.reason ?? '', options.errorDescription);
  }

  async defer(path: string, lockToken: string, properties?: ServiceBusMessage['applicationProperties']): Promise<void> {
    const { queue, entry } = this.#locked(path, lockToken);
    this.#unlock(queue, entry);
    const patch = {
      state: 'deferred' as const,
      ...(properties === undefined
        ? {}
        : { applicationProperties: { ...entry.msg.applicationProperties, ...checkProps(properties) } }),
    };
    entry.msg = { ...entry.msg, ...patch };
    await this.#engine.write([{ op: 'update', entity: queue.key, seq: entry.msg.seq, patch }]);
  }

  /** Extends a message lock by the entity's lock duration; returns the new expiry. */
  renewLock(path: string, lockToken: string): Date {
    const { queue, entry } = this.#locked(path, lockToken);
    if (entry.sessionLock !== undefined) {
      return new Date(this.renewSessionLock(path, entry.sessionLock));
    }
    entry.lockedUntil = this.#clock.now() + queue.settings.lockDuration;
    this.#queueLock(queue, entry, lockToken);
    queue.trimLocks();
    return new Date(entry.lockedUntil);
  }

  #expireLock(queue: QueueState, e: Entry): void {
    this.#unlock(queue, e);
    this.events.emit('lockExpired', { entity: queue.path, sequenceNumber: BigInt(e.msg.seq) });
    this.#background(this.#redeliver(queue, e));
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  #session(queue: QueueState, token: string): { session: SessionQueue } {
    const held = this.#sessionLocks.get(token);
    if (held === undefined || held.queue !== queue) throw sessionLockLost(queue.path, '');
    const s = held.session;
    if (s.lockToken !== token || s.lockedUntil <= this.#clock.now()) {
      if (s.lockToken === token) this.#releaseSession(queue, s);
      throw sessionLockLost(queue.path, s.id);
    }
    return { session: s };
  }

  /** Locks a named session, or (sessionId undefined) the next unlocked session with messages. */
  acceptSession(
    path: string,
    sessionId: string | undefined,
    options: { maxWaitTimeMs: number; signal?: AbortSignal | undefined },
  ): Promise<SessionLock> {
    this.#check();
    const queue = this.catalog.receivable(path);
    if (!queue.settings.requiresSession) {
      return Promise.reject(
        new BusError('BUS_INVALID_OPERATION', `${queue.path} does not require sessions.`, {
          detail: { entity: queue.path },
        }),
      );
    }
    const now = this.#clock.now();
    if (sessionId !== undefined) {
      if (typeof sessionId !== 'string' || sessionId.length > 128) {
        return Promise.reject(new BusError('BUS_INVALID_OPTION', 'sessionId: must be a string of ≤ 128 chars'));
      }
      const s = queue.session(sessionId);
      if (s.lockToken !== undefined && s.lockedUntil > now) {
        return Promise.reject(
          new BusError('BUS_SESSION_CANNOT_BE_LOCKED', `Session '${sessionId}' is locked by another receiver.`, {
            detail: { entity: queue.path, sessionId },
          }),
        );
      }
      if (s.lockToken !== undefined) this.#releaseSession(queue, s);
      return Promise.resolve(this.#lockSession(queue, s, now));
    }
    const ready = queue.unlockedSessionWithMessages(now);
    if (ready !== undefined) {
      if (ready.lockToken !== undefined) this.#releaseSession(queue, ready);
      return Promise.resolve(this.#lockSession(queue, ready, now));
    }
    return new Promise<SessionLock>((resolve, reject) => {
      const finish = (): void => {
        queue.sessionWaiters.delete(waiter);
        timer.cancel();
        options.signal?.removeEventListener('abort', timeout);
      };
      const waiter = (): boolean => {
        if (this.#closed || !this.catalog.queueStates.has(queue.key)) {
          finish();
          reject(this.#closed ? closedError('bus') : this.#gone(queue));
          return true;
        }
        const t = this.#clock.now();
        const s = queue.unlockedSessionWithMessages(t);
        if (s === undefined) return false;
        finish();
        if (s.lockToken !== undefined) this.#releaseSession(queue, s);
        resolve(this.#lockSession(queue, s, t));
        return true;
      };
      const timeout = (): void => {
        finish();
        reject(
          new BusError('BUS_SESSION_CANNOT_BE_LOCKED', `No session of ${queue.path} became available in time.`, {
            detail: { entity: queue.path, reason: 'timeout' },
          }),
        );
      };
      queue.sessionWaiters.add(waiter);
      const timer = this.#clock.setTimeout(timeout, options.maxWaitTimeMs);
      options.signal?.addEventListener('abort', timeout, { once: true });
    });
  }

  #lockSession(queue: QueueState, s: SessionQueue, now: number): SessionLock {
    const token = this.#ids.uuid();
    s.lockToken = token;
    s.lockedUntil = now + queue.settings.lockDuration;
    this.#sessionLocks.set(token, { queue, session: s });
    this.#sessionTimes.push({ at: s.lockedUntil, key: queue.key, seq: 0, token });
    if (s.lockedUntil < this.#timerAt) this.#arm();
    return { sessionId: s.id, lockToken: token, lockedUntil: s.lockedUntil };
  }

  renewSessionLock(path: string, token: string): number {
    const { session } = this.#session(this.catalog.receivable(path), token);
    const queue = this.catalog.receivable(path);
    session.lockedUntil = this.#clock.now() + queue.settings.lockDuration;
    for (const e of session.locked) e.lockedUntil = session.lockedUntil;
    this.#sessionTimes.push({ at: session.lockedUntil, key: queue.key, seq: 0, token });
    return session.lockedUntil;
  }

  getSessionState(path: string, token: string): Uint8Array | undefined {
    this.#check();
    return this.#session(this.catalog.receivable(path), token).session.state;
  }

  async setSessionState(path: string, token: string, state: Uint8Array | null): Promise<void> {
    this.#check();
    const queue = this.catalog.receivable(path);
    const { session } = this.#session(queue, token);
    await this.#engine.write([{ op: 'session', entity: queue.key, sessionId: session.id, state }]);
    session.state = state ?? undefined;
  }

  /** Releases a session lock (receiver closed); its in-flight messages return with delivery count + 1. */
  releaseSession(path: string, token: string): void {
    if (this.#closed) return;
    const queue = this.catalog.queueStates.get(path.toLowerCase());
    const held = this.#sessionLocks.get(token);
    if (queue === undefined || held === undefined || held.session.lockToken !== token) return;
    this.#releaseSession(queue, held.session);
  }

  #releaseSession(queue: QueueState, s: SessionQueue): void {
    if (s.lockToken !== undefined) this.#sessionLocks.delete(s.lockToken);
    s.lockToken = undefined;
    s.lockedUntil = 0;
    if (this.#lostWithSession.size > 10_000) this.#lostWithSession.clear();
    for (const e of [...s.locked]) {
      if (e.lockToken !== undefined) this.#lostWithSession.set(e.lockToken, s.id);
      this.#unlock(queue, e);
      this.#background(this.#redeliver(queue, e));
    }
    for (const w of [...queue.waiters]) if (w.session === s && w.wake()) queue.waiters.delete(w);
    for (const w of [...queue.sessionWaiters]) if (w()) queue.sessionWaiters.delete(w);
    if (s.lockToken === undefined && s.state === undefined && s.locked.size === 0 && !hasMessages(queue, s)) {
      queue.sessions.delete(s.id); // forget idle sessions so the map does not grow with every id ever seen
    }
  }

  // ── timers ──────────────────────────────────────────────────────────────────────────────────

  #schedule(key: string, seq: number, at: number): void {
    this.#scheduleTimes.push({ at, key, seq, token: undefined });
    if (at < this.#timerAt) this.#arm();
  }

  #arm(): void {
    if (this.#closed) return;
    const next = Math.min(
      this.#lockTimes.peek()?.at ?? Number.POSITIVE_INFINITY,
      this.#sessionTimes.peek()?.at ?? Number.POSITIVE_INFINITY,
      this.#scheduleTimes.peek()?.at ?? Number.POSITIVE_INFINITY,
    );
    if (next === this.#timerAt) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#tick();
      },
      Math.max(0, next - this.#clock.now()),
    );
  }

  #tick(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    for (let t = this.#lockTimes.peek(); t !== undefined && t.at <= now; t = this.#lockTimes.peek()) {
      this.#lockTimes.pop();
      const queue = this.catalog.queueStates.get(t.key);
      if (queue !== undefined) this.#expireLocks(queue, now);
    }
    for (let t = this.#sessionTimes.peek(); t !== undefined && t.at <= now; t = this.#sessionTimes.peek()) {
      this.#sessionTimes.pop();
      const held = this.#sessionLocks.get(t.token!);
      if (held !== undefined && held.session.lockToken === t.token && held.session.lockedUntil <= now) {
        this.#releaseSession(held.queue, held.session);
      }
    }
    for (let t = this.#scheduleTimes.peek(); t !== undefined && t.at <= now; t = this.#scheduleTimes.peek()) {
      this.#scheduleTimes.pop();
      this.#activate(t.key, t.seq, now);
    }
    this.#arm();
  }

  /** A scheduled message fell due: activate it in its queue, or route it from its topic. */
  #activate(key: string, seq: number, now: number): void {
    const queue = this.catalog.queueStates.get(key);
    if (queue !== undefined) {
      const e = queue.messages.get(seq);
      if (e === undefined || e.msg.state !== 'scheduled') return;
      const at = e.msg.scheduledEnqueueTime ?? now;
      const ttl = e.msg.expiresAt === undefined ? undefined : e.msg.expiresAt - e.msg.enqueuedTime;
      const patch = {
        state: 'active' as const,
        enqueuedTime: at,
        ...(ttl === undefined ? {} : { expiresAt: at + ttl }),
      };
      e.msg = { ...e.msg, ...patch };
      this.#background(this.#engine.write([{ op: 'update', entity: key, seq, patch }]));
      queue.makeAvailable(e);
      return;
    }
    const topic = this.catalog.topics.get(key);
    const msg = topic?.scheduled.get(seq);
    if (topic === undefined || msg === undefined) return;
    topic.scheduled.delete(seq);
    const ops: EngineOp[] = [{ op: 'remove', entity: key, seq }];
    const inserts: StoredMessage[] = [];
    const {
      entity: _a,
      seq: _b,
      enqueuedTime: _c,
      deliveryCount: _d,
      state: _s,
      expiresAt: _x,
      scheduledEnqueueTime: _t,
      ...fields
    } = msg;
    this.#router.route(key, fields, seq, msg.hops ?? 0, now, ops, inserts);
    this.#background(this.#commit(ops, inserts));
  }

  #queueRemoved(queue: QueueState, reason?: BusError): void {
    for (const [token, held] of this.#locks) if (held.queue === queue) this.#locks.delete(token);
    for (const [token, held] of this.#sessionLocks) if (held.queue === queue) this.#sessionLocks.delete(token);
    void reason;
    for (const w of [...queue.waiters]) w.wake();
    for (const w of [...queue.sessionWaiters]) w();
  }

  /** For admin runtime properties. */
  lockCount(queue: QueueState): number {
    return queue.lockedCount;
  }
}

function hasMessages(queue: QueueState, s: SessionQueue): boolean {
  for (const e of queue.messages.values()) if (e.msg.sessionId === s.id) return true;
  return false;
}

function notScheduled(entity: string, n: bigint): BusError {
  return new BusError('BUS_MESSAGE_NOT_FOUND', `No scheduled message with sequence number ${n} in ${entity}.`, {
    detail: { entity, sequenceNumber: String(n) },
  });
}

function sessionLockLost(entity: string, sessionId: string): BusError {
  return new BusError('BUS_SESSION_LOCK_LOST', `The session lock on '${sessionId}' in ${entity} was lost.`, {
    detail: { entity, sessionId },
  });
}

function checkProps(props: ServiceBusMessage['applicationProperties']): Record<string, PropertyValue> {
  return encodeMessage({ body: null, applicationProperties: props ?? {} }).applicationProperties ?? {};
}

export type { QueueEntry, TopicEntry };
