/**
 * The in-process broker: Service Bus semantics, implemented once for every engine. State changes
 * go through {@link BusEngine.write} before they are acknowledged (a send resolves once its
 * messages are durable). This class sends (duplicate detection, routing through topics, rules and
 * auto-forwarding in `routing.ts`, visibility), dead-letters, and wires the parts that own the
 * rest of its memory, each in its own module:
 *
 * - `locks.ts` — message locks: lock tokens, expiry, locks lost with their session;
 * - `sessions.ts` — session locks: accepting, renewing, releasing, session state;
 * - `schedule.ts` — scheduled messages and when they fall due;
 * - `alarm.ts` — the one timer for all of those deadlines;
 * - `receiving.ts` and `settling.ts` — receiving (waiting receivers, TTL on the way out, peek,
 *   deferred) and settling under a lock (complete, abandon, dead-letter, defer, redelivery);
 * - `queue-state.ts` — per queue: its messages, what is available, its waiting receivers;
 * - `parking.ts` — a deep queue's messages parked in the engine's backlog on disk, taken back;
 * - `settle-linger.ts` — a complete's write held for the next send's, so both share one flush;
 * - `catalog.ts` — entities, sequence numbers, duplicate-detection history; `admin.ts` changes
 *   entities (durably first) for `bus.admin`.
 * @module
 */
import { type Clock, type IdSource, randomIds, systemClock, TypedEmitter } from '@hubbub/kernel';
import type { BusAdmin } from '../admin.ts';
import type { BusEngine, EngineOp, StoredMessage } from '../engine/port.ts';
import { DEFAULT_MAX_SIZE_MB } from '../entities.ts';
import { BusError, closedError, quotaExceeded } from '../errors.ts';
import type { ServiceBusMessage } from '../message.ts';
import { LocalAdmin } from './admin.ts';
import { Alarm } from './alarm.ts';
import { Catalog, encodeForSend, heldBytes, type QueueEntry, type TopicEntry } from './catalog.ts';
import type { BrokerContext } from './context.ts';
import { MessageLocks } from './locks.ts';
import { Parking } from './parking.ts';
import type {
  Broker,
  BrokerSessions,
  BusEvents,
  Delivery,
  EntityInfo,
  PeekRange,
  ReceiveMode,
  ReceiveOptions,
  Settlement,
} from './port.ts';
import { type QueueState, storedSize } from './queue-state.ts';
import { Receiving } from './receiving.ts';
import { Router } from './routing.ts';
import { Schedule } from './schedule.ts';
import { SessionLocks } from './sessions.ts';
import { LingeringEngine } from './settle-linger.ts';
import { Settling } from './settling.ts';

export interface LocalBrokerOptions {
  /** Where state is kept (`@hubbub/bus/engine`). */
  engine: BusEngine;
  /** @default systemClock */
  clock?: Clock;
  /** Lock tokens and generated message ids. @default randomIds */
  ids?: IdSource;
  /** When a sent message becomes receivable; see {@link Visibility}. @default 'accepted' */
  visibility?: Visibility;
  /** Where the broker emits its events. @default a new emitter */
  events?: TypedEmitter<BusEvents>;
  /**
   * How long a complete's write may wait for the next write (a send's, usually) to share its
   * flush, while writes are flowing; 0 writes each at once. A complete still resolves only once
   * durable, but later: a consumer that waits for its completes before receiving more slows down
   * by up to that much. See `settle-linger.ts`. @default 0 (`startSystem` sets 2 on a file bus)
   */
  settleLingerMs?: number;
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

export class LocalBroker implements Broker {
  readonly events: TypedEmitter<BusEvents>;
  readonly admin: BusAdmin;
  readonly sessions: BrokerSessions;
  /** The entities and their queue states (for tests that look inside). */
  readonly catalog: Catalog;
  readonly #engine: LingeringEngine;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #router: Router;
  readonly #alarm: Alarm;
  readonly #locks: MessageLocks;
  readonly #sessions: SessionLocks;
  readonly #schedule: Schedule;
  readonly #receiving: Receiving;
  readonly #settling: Settling;
  readonly #parking: Parking;
  #closed = false;
  readonly #visibility: Visibility;

  private constructor(options: LocalBrokerOptions) {
    this.events = options.events ?? new TypedEmitter<BusEvents>();
    this.#clock = options.clock ?? systemClock;
    const lingerMs = options.settleLingerMs ?? 0;
    if (!(typeof lingerMs === 'number' && lingerMs >= 0 && lingerMs <= 1_000)) {
      throw new BusError('BUS_INVALID_OPTION', `settleLingerMs: must be a number in 0…1000, got ${String(lingerMs)}`, {
        detail: { option: 'settleLingerMs' },
      });
    }
    this.#engine = new LingeringEngine(options.engine, lingerMs);
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
    this.#ids = options.ids ?? randomIds;
    this.catalog = new Catalog({
      onQueueRemoved: (queue) => this.#queueRemoved(queue),
      onScheduled: (key, seq, at) => this.#schedule.add(key, seq, at),
    });
    this.#router = new Router(this.catalog);
    this.#parking = new Parking(
      this.catalog,
      this.#engine,
      this.events,
      () => this.#closed,
      (work) => this.#background(work),
    );
    this.#alarm = new Alarm(this.#clock);
    const ctx: BrokerContext = {
      catalog: this.catalog,
      engine: this.#engine,
      clock: this.#clock,
      ids: this.#ids,
      events: this.events,
      check: () => this.#check(),
      closed: () => this.#closed,
      wakeBy: (at) => this.#alarm.wakeBy(at),
      commit: (ops, inserts) => this.#commit(ops, inserts),
      settleWrite: (ops) => this.#engine.settle(ops),
      deadLetter: (queue, msg, reason, description) => this.#deadLetterStored(queue, msg, reason, description),
      redeliver: (queue, entry) => this.#background(this.#settling.redeliver(queue, entry)),
      refill: (queue, want) => this.#parking.refill(queue, want),
      background: (work) => this.#background(work),
    };
    this.#locks = new MessageLocks(ctx);
    this.#sessions = new SessionLocks(ctx, this.#locks);
    this.sessions = this.#sessions;
    this.admin = new LocalAdmin(this.catalog, this.#engine, this.#clock, () => this.#closed);
    this.#schedule = new Schedule(ctx, this.#router);
    this.#receiving = new Receiving(ctx, this.#locks, this.#sessions);
    this.#settling = new Settling(ctx, this.#locks, this.#sessions);
    // The order their deadlines are handled in when several fall due at once.
    this.#alarm.watch(this.#locks);
    this.#alarm.watch(this.#sessions);
    this.#alarm.watch(this.#schedule);
  }

  static async open(options: LocalBrokerOptions): Promise<LocalBroker> {
    const broker = new LocalBroker(options);
    const state = await options.engine.open();
    broker.catalog.restore(state);
    broker.#parking.restore(state.parked);
    broker.#alarm.arm();
    return broker;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#alarm.close();
    for (const queue of this.catalog.queueStates.values()) this.#queueRemoved(queue);
    await this.#engine.close();
  }

  #check(): void {
    if (this.#closed) throw closedError('bus');
  }

  // ── send ────────────────────────────────────────────────────────────────────────────────────

  /** Sends messages to a queue or topic; resolves with their sequence numbers once durable. */
  send(entity: string, messages: readonly ServiceBusMessage[]): Promise<bigint[]> {
    try {
      return this.#send(entity, messages);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Not async: while a send waits for the disk it holds one promise and the context of the two
   * callbacks below (target, sequence numbers, duplicate-detection ids), not a suspended frame with
   * every local of the encoding and routing.
   */
  #send(entity: string, messages: readonly ServiceBusMessage[]): Promise<bigint[]> {
    this.#check();
    const target = this.catalog.sendTarget(entity);
    const encoded = encodeForSend(target, entity, messages);
    if (encoded.length === 0) return Promise.resolve([]);
    const now = this.#clock.now();
    const ops: EngineOp[] = [];
    const inserts: StoredMessage[] = [];
    const seqs: bigint[] = [];
    const seen = this.catalog.dedupe(target.key);
    let added: string[] | undefined; // only with duplicate detection
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
        if (added === undefined) added = [];
        added.push(id);
        ops.push({ op: 'dedupe', entity: target.key, messageId: id, until: windowEnd });
      }
      const seq = this.catalog.nextSeq(target.key);
      seqs.push(BigInt(seq));
      this.#router.route(target.key, message, seq, 0, now, ops, inserts);
    }
    let committed: Promise<void>;
    try {
      this.#checkQuota(target, inserts);
      committed = this.#commit(ops, inserts);
    } catch (err) {
      for (const id of added ?? []) seen.delete(id);
      throw err;
    }
    return committed.then(
      () => this.#sent(target, seqs, added, now),
      (err: unknown) => {
        for (const id of added ?? []) seen.delete(id);
        throw err;
      },
    );
  }

  /** A send is durable: tells the listeners and prunes the duplicate-detection history it added to. */
  #sent(target: QueueEntry | TopicEntry, seqs: bigint[], added: string[] | undefined, now: number): bigint[] {
    let accepted = 0; // duplicates are accepted but dropped
    for (const n of seqs) if (n !== 0n) accepted++;
    if (accepted > 0 && this.events.listenerCount('sent') > 0) {
      this.events.emit('sent', { entity: target.props.name, count: accepted });
    }
    if (added !== undefined) this.catalog.maybePruneDedupe(target.key, now);
    return seqs;
  }

  /**
   * Refuses a send that would take its queue or topic past `maxSizeInMegabytes` (BUS_QUOTA_EXCEEDED),
   * so a producer nobody consumes from cannot fill the disk — counted where the messages land, so a
   * queue or subscription forwarding to a full entity is refused too. Settling and expiry free room.
   */
  #checkQuota(target: QueueEntry | TopicEntry, inserts: readonly StoredMessage[]): void {
    if (inserts.length === 0) return;
    const adding = new Map<QueueEntry | TopicEntry, number>();
    for (const m of inserts) {
      const owner = this.catalog.quotaOwner(m.entity) ?? target;
      adding.set(owner, (adding.get(owner) ?? 0) + storedSize(m));
    }
    for (const [owner, bytes] of adding) {
      const max = (owner.props.maxSizeInMegabytes ?? DEFAULT_MAX_SIZE_MB) * 1024 * 1024;
      const held = heldBytes(owner);
      if (held + bytes <= max) continue;
      throw quotaExceeded(owner.props.name, held, bytes, max);
    }
  }

  /** Cancels scheduled messages by sequence number (queue or topic). */
  async cancelScheduled(entity: string, sequenceNumbers: readonly bigint[]): Promise<void> {
    this.#check();
    await this.#schedule.cancel(entity, sequenceNumbers);
  }

  /**
   * Writes `ops` and shows `inserts`: at once or once durable (see {@link Visibility}); resolves once
   * durable. Not async on the common path: a send waiting for the disk holds no suspended frames here.
   */
  #commit(ops: EngineOp[], insertsIn: readonly StoredMessage[]): Promise<void> {
    const parked = this.#parking.park(ops, insertsIn);
    if (parked === undefined) return this.#commitShown(ops, insertsIn);
    return this.#commitParked(ops, insertsIn, parked);
  }

  #commitParked(ops: EngineOp[], insertsIn: readonly StoredMessage[], parked: StoredMessage[]): Promise<void> {
    const parking = this.#parking;
    let shown: readonly StoredMessage[] = NONE_SHOWN;
    if (parked.length < insertsIn.length) {
      const set = new Set(parked);
      shown = insertsIn.filter((m) => !set.has(m));
    }
    let durable: Promise<void>;
    try {
      durable = this.#commitShown(ops, shown);
    } catch (err) {
      parking.withdraw(parked);
      return Promise.reject(err);
    }
    return durable.then(
      () => parking.durable(parked),
      (err: unknown) => {
        parking.withdraw(parked);
        throw err;
      },
    );
  }

  #commitShown(ops: EngineOp[], inserts: readonly StoredMessage[]): Promise<void> {
    if (ops.length === 0) {
      for (const msg of inserts) this.#insert(msg);
      return Promise.resolve();
    }
    if (this.#visibility === 'durable') {
      return this.#engine.write(ops).then(() => {
        for (const msg of inserts) this.#insert(msg);
      });
    }
    const durable = this.#engine.write(ops);
    for (const msg of inserts) this.#insert(msg);
    if (inserts.length === 0) return durable;
    return durable.catch((err: unknown) => {
      for (const msg of inserts) this.#withdraw(msg);
      throw err;
    });
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
    if (e.lockToken !== undefined) this.#locks.unlock(queue, e);
    queue.remove(msg.seq);
  }

  /** Makes a message visible in memory: once accepted or once durable, as {@link Visibility} says. */
  #insert(msg: StoredMessage): void {
    const queue = this.catalog.queueStates.get(msg.entity);
    if (queue === undefined) {
      const topic = this.catalog.topics.get(msg.entity);
      if (topic !== undefined && msg.state === 'scheduled') {
        topic.scheduled.set(msg.seq, msg);
        this.#schedule.add(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
      }
      return;
    }
    queue.insert(msg);
    if (msg.state === 'scheduled') this.#schedule.add(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
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

  // ── lookups, receive (see receiving.ts) and settlement (settling.ts) ─────────────────────────

  entity(path: string, use: 'send' | 'receive'): EntityInfo {
    if (use === 'send') {
      const target = this.catalog.sendTarget(path);
      return { path: target.props.name, requiresSession: target.kind === 'queue' && target.props.requiresSession };
    }
    const queue = this.catalog.receivable(path);
    return { path: queue.path, requiresSession: queue.settings.requiresSession };
  }

  receive(path: string, options: ReceiveOptions): Promise<Delivery[]> {
    return this.#receiving.receive(path, options);
  }

  async peek(path: string, range: PeekRange): Promise<Delivery[]> {
    return this.#parking.peek(this.catalog.receivable(path), range, () => this.#receiving.peek(path, range));
  }

  receiveDeferred(
    path: string,
    sequenceNumbers: readonly bigint[],
    mode: ReceiveMode,
    sessionToken?: string,
  ): Promise<Delivery[]> {
    return this.#receiving.receiveDeferred(path, sequenceNumbers, mode, sessionToken);
  }

  settle(path: string, lockToken: string, settlement: Settlement): Promise<void> {
    return this.#settling.settle(path, lockToken, settlement);
  }

  renewLock(path: string, lockToken: string): Promise<Date> {
    return this.#settling.renewLock(path, lockToken);
  }

  #queueRemoved(queue: QueueState): void {
    this.#locks.forget(queue);
    this.#sessions.forget(queue);
    for (const w of [...queue.waiters]) w.wake();
    for (const w of [...queue.sessionWaiters]) w();
  }
}

/** Opens the in-process broker over `engine`: replays its state, then serves. */
export function createLocalBroker(options: LocalBrokerOptions): Promise<Broker> {
  return LocalBroker.open(options);
}

/** A send whose messages are all parked shows none in memory. */
const NONE_SHOWN: readonly StoredMessage[] = [];
