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
import { Catalog, type QueueEntry, type TopicEntry } from './catalog.ts';
import type { BusEngine, EngineOp, StoredMessage } from './engine.ts';
import { BusError, closedError, lockLost } from './errors.ts';
import { Heap } from './heap.ts';
import type { PropertyValue, ServiceBusMessage } from './message.ts';
import { type EncodedMessage, encodeMessage } from './message-codec.ts';
import { Router } from './routing.ts';
import { type Entry, isStale, type SessionQueue, type Store } from './store.ts';

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
  readonly #locks = new Map<string, { store: Store; entry: Entry }>();
  readonly #sessionLocks = new Map<string, { store: Store; session: SessionQueue }>();
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
      onStoreRemoved: (store) => this.#storeRemoved(store),
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
    for (const store of this.catalog.stores.values()) this.#storeRemoved(store, closedError('bus'));
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
        const e = target.store.messages.get(seq);
        if (e === undefined || e.msg.state !== 'scheduled') throw notScheduled(entity, n);
        target.store.messages.delete(seq);
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
    const store = this.catalog.stores.get(msg.entity);
    if (store === undefined) {
      this.catalog.topics.get(msg.entity)?.scheduled.delete(msg.seq);
      return;
    }
    const e = store.messages.get(msg.seq);
    if (e === undefined || e.msg !== msg) return;
    if (e.lockToken !== undefined) this.#unlock(store, e);
    store.messages.delete(msg.seq);
  }

  /** Makes a message visible in memory: once accepted or once durable, as {@link Visibility} says. */
  #insert(msg: StoredMessage): void {
    const store = this.catalog.stores.get(msg.entity);
    if (store === undefined) {
      const topic = this.catalog.topics.get(msg.entity);
      if (topic !== undefined && msg.state === 'scheduled') {
        topic.scheduled.set(msg.seq, msg);
        this.#schedule(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
      }
      return;
    }
    store.insert(msg);
    if (msg.state === 'scheduled') this.#schedule(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
    if (store.isDeadLetter) {
      this.events.emit('deadLettered', {
        entity: store.path,
        sequenceNumber: BigInt(msg.seq),
        reason: msg.deadLetterReason ?? '',
      });
    }
  }

  // ── dead-lettering ──────────────────────────────────────────────────────────────────────────

  /** Moves a stored message (already removed from memory) to the DLQ; returns once durable. */
  #deadLetterStored(store: Store, msg: StoredMessage, reason: string, description: string | undefined): Promise<void> {
    const ops: EngineOp[] = [{ op: 'remove', entity: store.key, seq: msg.seq }];
    const inserts: StoredMessage[] = [];
    this.#router.deadLetterNew(store, msg, reason, description, this.#clock.now(), ops, inserts);
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
    const store = this.catalog.receivable(path);
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
      session = this.#session(store, options.session).session;
    } else if (store.settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${store.path} requires sessions: accept a session to receive.`, {
        detail: { entity: store.path },
      });
    }
    const taken = this.#take(store, session, options.maxMessages, options.mode);
    if (taken.length > 0 || options.maxWaitTimeMs <= 0) return this.#finish(store, taken, options.mode);
    return new Promise<Delivery[]>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const done = (): void => {
        store.waiters.delete(waiter);
        timer?.cancel();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const waiter = {
        session,
        wake: (): boolean => {
          if (this.#closed || !this.catalog.stores.has(store.key)) {
            done();
            reject(this.#closed ? closedError('bus') : this.#gone(store));
            return true;
          }
          if (session !== undefined && session.lockToken !== options.session) {
            done();
            reject(sessionLockLost(store.path, session.id));
            return true;
          }
          const got = this.#take(store, session, options.maxMessages, options.mode);
          if (got.length === 0) return false;
          done();
          this.#finish(store, got, options.mode).then(resolve, reject);
          return true;
        },
      };
      const onAbort = (): void => {
        done();
        const reason: unknown = options.signal?.reason;
        if (reason instanceof BusError) reject(reason);
        else resolve([]);
      };
      store.waiters.add(waiter);
      if (options.maxWaitTimeMs < NEVER) {
        timer = this.#clock.setTimeout(() => {
          done();
          resolve([]);
        }, options.maxWaitTimeMs);
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #gone(store: Store): BusError {
    return new BusError('BUS_ENTITY_NOT_FOUND', `The messaging entity '${store.path}' was deleted.`, {
      detail: { entity: store.path },
    });
  }

  #take(store: Store, session: SessionQueue | undefined, max: number, mode: ReceiveMode): Entry[] {
    const heap = session?.available ?? store.available;
    const out: Entry[] = [];
    const now = this.#clock.now();
    while (out.length < max) {
      const e = store.next(heap);
      if (e === undefined) break;
      if (e.msg.expiresAt !== undefined && e.msg.expiresAt <= now && !store.isDeadLetter) {
        this.#expire(store, e);
        continue;
      }
      if (mode === 'peekLock') this.#lock(store, e, session, now);
      else store.messages.delete(e.msg.seq);
      out.push(e);
    }
    return out;
  }

  #lock(store: Store, e: Entry, session: SessionQueue | undefined, now: number): void {
    const token = this.#ids.uuid();
    e.lockToken = token;
    store.lockedCount++;
    this.#locks.set(token, { store, entry: e });
    if (session !== undefined) {
      e.sessionLock = session.lockToken;
      e.lockedUntil = session.lockedUntil;
      session.locked.add(e);
    } else {
      e.lockedUntil = now + store.settings.lockDuration;
      this.#queueLock(store, e, token);
    }
  }

  #queueLock(store: Store, e: Entry, token: string): void {
    store.lockQueue.push({ entry: e, token, until: e.lockedUntil });
    if (!store.lockTimerQueued) {
      store.lockTimerQueued = true;
      this.#lockTimes.push({ at: e.lockedUntil, key: store.key, seq: 0, token: undefined });
      if (e.lockedUntil < this.#timerAt) this.#arm();
    }
  }

  /** The lock timer of a store fired: expire due locks from the head of its queue, re-arm for the rest. */
  #expireLocks(store: Store, now: number): void {
    store.lockTimerQueued = false;
    const q = store.lockQueue;
    while (store.lockHead < q.length) {
      const r = q[store.lockHead]!;
      if (isStale(r)) {
        store.lockHead++;
        continue;
      }
      if (r.until > now) break;
      this.#expireLock(store, r.entry); // unlocking trims the queue past this record
    }
    store.trimLocks();
    const head = q[store.lockHead];
    if (head !== undefined) {
      store.lockTimerQueued = true;
      this.#lockTimes.push({ at: head.until, key: store.key, seq: 0, token: undefined });
    }
  }

  async #finish(store: Store, taken: Entry[], mode: ReceiveMode): Promise<Delivery[]> {
    if (mode === 'receiveAndDelete' && taken.length > 0) {
      await this.#engine.write(taken.map((e) => ({ op: 'remove', entity: store.key, seq: e.msg.seq }) as const));
    }
    return taken.map((e) => ({
      msg: e.msg,
      path: store.path,
      lockToken: e.lockToken,
      lockedUntil: e.lockToken === undefined ? undefined : e.lockedUntil,
    }));
  }

  #expire(store: Store, e: Entry): void {
    store.messages.delete(e.msg.seq);
    this.events.emit('expired', { entity: store.path, sequenceNumber: BigInt(e.msg.seq) });
    if (store.settings.deadLetteringOnMessageExpiration) {
      this.#background(this.#deadLetterStored(store, e.msg, 'TTLExpiredException', 'The message expired.'));
    } else {
      this.#background(this.#engine.write([{ op: 'remove', entity: store.key, seq: e.msg.seq }]));
    }
  }

  /** Messages in sequence order from `fromSequenceNumber`, without locking (includes locked, deferred, scheduled). */
  peek(
    path: string,
    options: { fromSequenceNumber?: bigint; maxMessageCount: number; sessionId?: string | undefined },
  ): Delivery[] {
    this.#check();
    const store = this.catalog.receivable(path);
    const from = Number(options.fromSequenceNumber ?? 1n);
    const seqs: number[] = [];
    for (const [seq, e] of store.messages) {
      if (seq >= from && (options.sessionId === undefined || e.msg.sessionId === options.sessionId)) seqs.push(seq);
    }
    seqs.sort((a, b) => a - b);
    return seqs.slice(0, options.maxMessageCount).map((seq) => {
      const e = store.messages.get(seq)!;
      return { msg: e.msg, path: store.path, lockToken: undefined, lockedUntil: undefined };
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
    const store = this.catalog.receivable(path);
    const session = sessionToken === undefined ? undefined : this.#session(store, sessionToken).session;
    const entries: Entry[] = [];
    for (const n of new Set(sequenceNumbers)) {
      const e = store.messages.get(Number(n));
      if (
        e === undefined ||
        e.msg.state !== 'deferred' ||
        e.lockToken !== undefined ||
        (store.settings.requiresSession && e.msg.sessionId !== session?.id)
      ) {
        throw new BusError('BUS_MESSAGE_NOT_FOUND', `No deferred message with sequence number ${n} in ${store.path}.`, {
          detail: { entity: store.path, sequenceNumber: String(n) },
        });
      }
      entries.push(e);
    }
    const now = this.#clock.now();
    for (const e of entries) {
      if (mode === 'peekLock') this.#lock(store, e, session, now);
      else store.messages.delete(e.msg.seq);
    }
    return this.#finish(store, entries, mode);
  }

  // ── settlement ──────────────────────────────────────────────────────────────────────────────

  /** The locked entry for `lockToken` in `path`; throws BUS_LOCK_LOST / BUS_SESSION_LOCK_LOST. */
  #locked(path: string, lockToken: string): { store: Store; entry: Entry } {
    this.#check();
    const store = this.catalog.receivable(path);
    const held = this.#locks.get(lockToken);
    if (held === undefined || held.store !== store || held.entry.lockToken !== lockToken) {
      const sessionId = this.#lostWithSession.get(lockToken);
      throw sessionId === undefined ? lockLost(lockToken) : sessionLockLost(store.path, sessionId);
    }
    const now = this.#clock.now();
    const e = held.entry;
    if (e.sessionLock !== undefined) {
      const s = store.sessions.get(e.msg.sessionId ?? '');
      if (s === undefined || s.lockToken !== e.sessionLock || s.lockedUntil <= now) {
        throw sessionLockLost(store.path, e.msg.sessionId ?? '');
      }
    } else if (e.lockedUntil <= now) {
      this.#expireLock(store, e);
      throw lockLost(lockToken);
    }
    return held;
  }

  #unlock(store: Store, e: Entry): void {
    if (e.lockToken !== undefined) this.#locks.delete(e.lockToken);
    e.lockToken = undefined;
    e.lockedUntil = 0;
    store.lockedCount--;
    if (e.sessionLock !== undefined) {
      store.sessions.get(e.msg.sessionId ?? '')?.locked.delete(e);
      e.sessionLock = undefined;
    } else {
      store.trimLocks();
    }
  }

  async complete(path: string, lockToken: string): Promise<void> {
    const { store, entry } = this.#locked(path, lockToken);
    this.#unlock(store, entry);
    store.messages.delete(entry.msg.seq);
    await this.#engine.write([{ op: 'remove', entity: store.key, seq: entry.msg.seq }]);
  }

  async abandon(
    path: string,
    lockToken: string,
    properties?: ServiceBusMessage['applicationProperties'],
  ): Promise<void> {
    const { store, entry } = this.#locked(path, lockToken);
    this.#unlock(store, entry);
    await this.#redeliver(store, entry, properties);
  }

  /** Returns a message after abandon or lock loss: delivery count + 1, or the DLQ past the maximum. */
  #redeliver(store: Store, entry: Entry, properties?: ServiceBusMessage['applicationProperties']): Promise<void> {
    const deliveryCount = entry.msg.deliveryCount + 1;
    const patch = {
      deliveryCount,
      ...(properties === undefined
        ? {}
        : { applicationProperties: { ...entry.msg.applicationProperties, ...checkProps(properties) } }),
    };
    entry.msg = { ...entry.msg, ...patch };
    if (deliveryCount >= store.settings.maxDeliveryCount && !store.isDeadLetter) {
      store.messages.delete(entry.msg.seq);
      return this.#deadLetterStored(
        store,
        entry.msg,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${store.settings.maxDeliveryCount} delivery attempts.`,
      );
    }
    if (entry.msg.state === 'active') store.makeAvailable(entry);
    return this.#engine.write([{ op: 'update', entity: store.key, seq: entry.msg.seq, patch }]);
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
    const store = this.catalog.receivable(path);
    if (store.isDeadLetter) {
      throw new BusError('BUS_INVALID_OPERATION', `Cannot dead-letter a message in ${store.path}.`, {
        detail: { entity: store.path },
      });
    }
    if (options.reason !== undefined && (typeof options.reason !== 'string' || options.reason.length > 4096)) {
      throw new BusError('BUS_INVALID_OPTION', 'reason: must be a string of at most 4096 characters', {
        detail: { option: 'reason' },
      });
    }
    const held = this.#locked(path, lockToken);
    this.#unlock(held.store, held.entry);
    held.store.messages.delete(held.entry.msg.seq);
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
    await this.#deadLetterStored(held.store, msg, options.reason ?? '', options.errorDescription);
  }

  async defer(path: string, lockToken: string, properties?: ServiceBusMessage['applicationProperties']): Promise<void> {
    const { store, entry } = this.#locked(path, lockToken);
    this.#unlock(store, entry);
    const patch = {
      state: 'deferred' as const,
      ...(properties === undefined
        ? {}
        : { applicationProperties: { ...entry.msg.applicationProperties, ...checkProps(properties) } }),
    };
    entry.msg = { ...entry.msg, ...patch };
    await this.#engine.write([{ op: 'update', entity: store.key, seq: entry.msg.seq, patch }]);
  }

  /** Extends a message lock by the entity's lock duration; returns the new expiry. */
  renewLock(path: string, lockToken: string): Date {
    const { store, entry } = this.#locked(path, lockToken);
    if (entry.sessionLock !== undefined) {
      return new Date(this.renewSessionLock(path, entry.sessionLock));
    }
    entry.lockedUntil = this.#clock.now() + store.settings.lockDuration;
    this.#queueLock(store, entry, lockToken);
    store.trimLocks();
    return new Date(entry.lockedUntil);
  }

  #expireLock(store: Store, e: Entry): void {
    this.#unlock(store, e);
    this.events.emit('lockExpired', { entity: store.path, sequenceNumber: BigInt(e.msg.seq) });
    this.#background(this.#redeliver(store, e));
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  #session(store: Store, token: string): { session: SessionQueue } {
    const held = this.#sessionLocks.get(token);
    if (held === undefined || held.store !== store) throw sessionLockLost(store.path, '');
    const s = held.session;
    if (s.lockToken !== token || s.lockedUntil <= this.#clock.now()) {
      if (s.lockToken === token) this.#releaseSession(store, s);
      throw sessionLockLost(store.path, s.id);
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
    const store = this.catalog.receivable(path);
    if (!store.settings.requiresSession) {
      return Promise.reject(
        new BusError('BUS_INVALID_OPERATION', `${store.path} does not require sessions.`, {
          detail: { entity: store.path },
        }),
      );
    }
    const now = this.#clock.now();
    if (sessionId !== undefined) {
      if (typeof sessionId !== 'string' || sessionId.length > 128) {
        return Promise.reject(new BusError('BUS_INVALID_OPTION', 'sessionId: must be a string of ≤ 128 chars'));
      }
      const s = store.session(sessionId);
      if (s.lockToken !== undefined && s.lockedUntil > now) {
        return Promise.reject(
          new BusError('BUS_SESSION_CANNOT_BE_LOCKED', `Session '${sessionId}' is locked by another receiver.`, {
            detail: { entity: store.path, sessionId },
          }),
        );
      }
      if (s.lockToken !== undefined) this.#releaseSession(store, s);
      return Promise.resolve(this.#lockSession(store, s, now));
    }
    const ready = store.unlockedSessionWithMessages(now);
    if (ready !== undefined) {
      if (ready.lockToken !== undefined) this.#releaseSession(store, ready);
      return Promise.resolve(this.#lockSession(store, ready, now));
    }
    return new Promise<SessionLock>((resolve, reject) => {
      const finish = (): void => {
        store.sessionWaiters.delete(waiter);
        timer.cancel();
        options.signal?.removeEventListener('abort', timeout);
      };
      const waiter = (): boolean => {
        if (this.#closed || !this.catalog.stores.has(store.key)) {
          finish();
          reject(this.#closed ? closedError('bus') : this.#gone(store));
          return true;
        }
        const t = this.#clock.now();
        const s = store.unlockedSessionWithMessages(t);
        if (s === undefined) return false;
        finish();
        if (s.lockToken !== undefined) this.#releaseSession(store, s);
        resolve(this.#lockSession(store, s, t));
        return true;
      };
      const timeout = (): void => {
        finish();
        reject(
          new BusError('BUS_SESSION_CANNOT_BE_LOCKED', `No session of ${store.path} became available in time.`, {
            detail: { entity: store.path, reason: 'timeout' },
          }),
        );
      };
      store.sessionWaiters.add(waiter);
      const timer = this.#clock.setTimeout(timeout, options.maxWaitTimeMs);
      options.signal?.addEventListener('abort', timeout, { once: true });
    });
  }

  #lockSession(store: Store, s: SessionQueue, now: number): SessionLock {
    const token = this.#ids.uuid();
    s.lockToken = token;
    s.lockedUntil = now + store.settings.lockDuration;
    this.#sessionLocks.set(token, { store, session: s });
    this.#sessionTimes.push({ at: s.lockedUntil, key: store.key, seq: 0, token });
    if (s.lockedUntil < this.#timerAt) this.#arm();
    return { sessionId: s.id, lockToken: token, lockedUntil: s.lockedUntil };
  }

  renewSessionLock(path: string, token: string): number {
    const { session } = this.#session(this.catalog.receivable(path), token);
    const store = this.catalog.receivable(path);
    session.lockedUntil = this.#clock.now() + store.settings.lockDuration;
    for (const e of session.locked) e.lockedUntil = session.lockedUntil;
    this.#sessionTimes.push({ at: session.lockedUntil, key: store.key, seq: 0, token });
    return session.lockedUntil;
  }

  getSessionState(path: string, token: string): Uint8Array | undefined {
    this.#check();
    return this.#session(this.catalog.receivable(path), token).session.state;
  }

  async setSessionState(path: string, token: string, state: Uint8Array | null): Promise<void> {
    this.#check();
    const store = this.catalog.receivable(path);
    const { session } = this.#session(store, token);
    await this.#engine.write([{ op: 'session', entity: store.key, sessionId: session.id, state }]);
    session.state = state ?? undefined;
  }

  /** Releases a session lock (receiver closed); its in-flight messages return with delivery count + 1. */
  releaseSession(path: string, token: string): void {
    if (this.#closed) return;
    const store = this.catalog.stores.get(path.toLowerCase());
    const held = this.#sessionLocks.get(token);
    if (store === undefined || held === undefined || held.session.lockToken !== token) return;
    this.#releaseSession(store, held.session);
  }

  #releaseSession(store: Store, s: SessionQueue): void {
    if (s.lockToken !== undefined) this.#sessionLocks.delete(s.lockToken);
    s.lockToken = undefined;
    s.lockedUntil = 0;
    if (this.#lostWithSession.size > 10_000) this.#lostWithSession.clear();
    for (const e of [...s.locked]) {
      if (e.lockToken !== undefined) this.#lostWithSession.set(e.lockToken, s.id);
      this.#unlock(store, e);
      this.#background(this.#redeliver(store, e));
    }
    for (const w of [...store.waiters]) if (w.session === s && w.wake()) store.waiters.delete(w);
    for (const w of [...store.sessionWaiters]) if (w()) store.sessionWaiters.delete(w);
    if (s.lockToken === undefined && s.state === undefined && s.locked.size === 0 && !hasMessages(store, s)) {
      store.sessions.delete(s.id); // forget idle sessions so the map does not grow with every id ever seen
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
      const store = this.catalog.stores.get(t.key);
      if (store !== undefined) this.#expireLocks(store, now);
    }
    for (let t = this.#sessionTimes.peek(); t !== undefined && t.at <= now; t = this.#sessionTimes.peek()) {
      this.#sessionTimes.pop();
      const held = this.#sessionLocks.get(t.token!);
      if (held !== undefined && held.session.lockToken === t.token && held.session.lockedUntil <= now) {
        this.#releaseSession(held.store, held.session);
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
    const store = this.catalog.stores.get(key);
    if (store !== undefined) {
      const e = store.messages.get(seq);
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
      store.makeAvailable(e);
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

  #storeRemoved(store: Store, reason?: BusError): void {
    for (const [token, held] of this.#locks) if (held.store === store) this.#locks.delete(token);
    for (const [token, held] of this.#sessionLocks) if (held.store === store) this.#sessionLocks.delete(token);
    void reason;
    for (const w of [...store.waiters]) w.wake();
    for (const w of [...store.sessionWaiters]) w();
  }

  /** For admin runtime properties. */
  lockCount(store: Store): number {
    return store.lockedCount;
  }
}

function hasMessages(store: Store, s: SessionQueue): boolean {
  for (const e of store.messages.values()) if (e.msg.sessionId === s.id) return true;
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
