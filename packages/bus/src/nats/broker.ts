/**
 * The bus's operations on NATS JetStream: any number of nodes (Hubbub processes, function hosts)
 * send to and compete on the same queues and subscriptions, with Service Bus semantics carried by
 * the server — a message is a stream message, a peek-lock an unacknowledged delivery of the
 * entity's durable pull consumer, complete / abandon / renew are `+ACK` / `-NAK` / `+WPI`, the
 * delivery count is the server's `num_delivered`, and a lock held by a node that died comes back
 * after the consumer's ack wait. Routing (rules, actions, auto-forwarding, dead-lettering where
 * Service Bus would) is the in-process broker's `Router` over a catalog kept from KV; what the
 * server cannot do on 2.9 is done by the nodes and said where: locks expire on the bus's clock
 * (`locks.ts`), scheduled messages are moved when due by any node (`schedule.ts`), session locks
 * are KV records (`sessions.ts`). See `README.md` for the mapping and what does not map.
 * @module
 */

import { randomBytes } from 'node:crypto';
import { type Clock, type IdSource, randomIds, systemClock, TypedEmitter } from '@hubbub/kernel';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { type EntityAddress, entityPath } from '../address.ts';
import type { BusAdmin } from '../admin.ts';
import { LocalAdmin } from '../broker/admin.ts';
import type { QueueEntry, TopicEntry } from '../broker/catalog.ts';
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
} from '../broker/port.ts';
import type { QueueState } from '../broker/queue-state.ts';
import { Router } from '../broker/routing.ts';
import type { EngineOp, StoredMessage } from '../engine/port.ts';
import { DEAD_LETTER_SUFFIX, DEFAULT_MAX_SIZE_MB, type EntityRuntimeProperties } from '../entities.ts';
import { BusError, closedError, entityDeleted, lockLost, sessionLockLost } from '../errors.ts';
import type { PropertyValue, ServiceBusMessage } from '../message.ts';
import { type EncodedMessage, encodeMessage } from '../message-codec.ts';
import { decodePayload, encodePayload, tagProps, untagProps } from './codec.ts';
import type { NatsContext } from './context.ts';
import { engineFailure, NatsEntities } from './entities.ts';
import { type Held, LockTable, nodeOf } from './locks.ts';
import { type EntityNames, entityId, entityNames } from './names.ts';
import { Puller } from './pull.ts';
import { Requests } from './requests.ts';
import { Scheduler } from './schedule.ts';
import { NatsSessions } from './sessions.ts';

export interface NatsBrokerOptions {
  /** `nats://host:port`, several comma-separated for a cluster. @default 'nats://127.0.0.1:4222' */
  url?: string;
  /**
   * Prefix of every stream, subject and KV bucket; nodes with the same namespace share the bus.
   * Letters, digits, `_` and `-`. @default 'hubbub'
   */
  namespace?: string;
  /** Replicas of every stream and bucket (3 on a three-server cluster). @default 1 */
  replicas?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Generated message ids. @default randomIds */
  ids?: IdSource;
  events?: TypedEmitter<BusEvents>;
  /** Connection name the server shows. @default 'hubbub-bus' */
  name?: string;
}

/** A receive waiting this long waits until a message, an abort or close: no timer. */
const NEVER = 2_147_483_647;
/** How long one pull request is held by the server while a receive waits (real time). */
const PULL_EXPIRES_MS = 1_000;
/** Most stream messages a peek looks at. */
const PEEK_SCAN_LIMIT = 10_000;
const NAMESPACE = /^[A-Za-z0-9_-]{1,32}$/;

interface Source {
  readonly stream: string;
  readonly consumer: string;
}

interface Waiting {
  readonly key: string;
  readonly fail: (err: BusError) => void;
}

const sourceKey = (s: Source): string => `${s.stream}|${s.consumer}`;

function parseAckReply(reply: string): { dc: number; sseq: number } {
  const t = reply.split('.');
  // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending> (and the v2 form with domain and account)
  const i = t.length === 9 ? 4 : 6;
  return { dc: Number(t[i]), sseq: Number(t[i + 1]) };
}

function invalidOption(option: string, message: string): BusError {
  return new BusError('BUS_INVALID_OPTION', `${option}: ${message}`, { detail: { option } });
}

export class NatsBroker implements Broker, NatsContext {
  readonly events: TypedEmitter<BusEvents>;
  readonly admin: BusAdmin;
  readonly sessions: BrokerSessions;
  readonly namespace: string;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly entities: NatsEntities;
  readonly router: Router;
  readonly locks: LockTable;
  readonly #sessions: NatsSessions;
  readonly #scheduler: Scheduler;
  readonly #puller: Puller;
  readonly #requests: Requests;
  readonly #orphans = new Map<string, Held[]>();
  readonly #inflight = new Map<string, Set<Promise<unknown>>>();
  readonly #waiting = new Set<Waiting>();
  readonly #names = new Map<string, EntityNames>();
  /** Bytes last read per queue or topic for its quota check (real time of the read). */
  readonly #usage = new Map<string, { bytes: number; at: number }>();
  /** Message locks lost with their session lock (token → session id), so settling says so. */
  readonly #lostWithSession = new Map<string, string>();
  #counter = 0;
  #closed = false;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    kv: { entities: KV; sessions: KV },
    o: Required<Pick<NatsBrokerOptions, 'namespace' | 'replicas'>> & NatsBrokerOptions,
  ) {
    this.nc = nc;
    this.jsm = jsm;
    this.js = jetstream(nc);
    this.namespace = o.namespace;
    this.clock = o.clock ?? systemClock;
    this.ids = o.ids ?? randomIds;
    this.events = o.events ?? new TypedEmitter<BusEvents>();
    const node = randomBytes(4).toString('hex');
    this.locks = new LockTable(node, this.clock, (h) => this.#lockExpired(h));
    this.entities = new NatsEntities({
      namespace: o.namespace,
      node,
      replicas: o.replicas,
      jsm,
      kv: kv.entities,
      hooks: {
        onQueueRemoved: (queue) => this.#queueRemoved(queue),
        onScheduled: () => {},
      },
    });
    this.router = new Router(this.entities.catalog);
    this.admin = new NatsAdmin(this, this.entities.engine);
    this.#sessions = new NatsSessions(this, kv.sessions);
    this.sessions = this.#sessions;
    this.#scheduler = new Scheduler(this);
    this.#requests = new Requests(nc, `${o.namespace}.req.${node}`);
    this.#puller = new Puller(nc, `${o.namespace}.pull.${node}`, (m, stream, consumer) =>
      this.#orphan({ stream, consumer }, m),
    );
    nc.subscribe(`${o.namespace}.lock.${node}`, {
      callback: (err, m) => {
        if (err === null) this.#serveLockOp(m);
      },
    });
  }

  static async open(options: NatsBrokerOptions = {}): Promise<NatsBroker> {
    const namespace = options.namespace ?? 'hubbub';
    if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
      throw invalidOption('namespace', 'must be 1–32 letters, digits, _ or -');
    }
    const replicas = options.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
      throw invalidOption('replicas', 'must be an integer from 1 to 5');
    }
    const servers = parseServers(options.url ?? 'nats://127.0.0.1:4222');
    let nc: NatsConnection;
    try {
      nc = await connect({ servers, name: options.name ?? 'hubbub-bus', maxReconnectAttempts: -1 });
    } catch (err) {
      throw new BusError('BUS_ENGINE_FAILURE', `Cannot reach NATS at ${servers.join(', ')}.`, {
        cause: err,
        detail: { servers },
      });
    }
    try {
      const jsm = await jetstreamManager(nc);
      const kvm = new Kvm(nc);
      const entities = await kvm.create(`${namespace}-entities`, { replicas, history: 1 });
      const sessions = await kvm.create(`${namespace}-sessions`, { replicas, history: 1 });
      const broker = new NatsBroker(nc, jsm, { entities, sessions }, { ...options, namespace, replicas });
      await broker.entities.open();
      await broker.#scheduler.open();
      return broker;
    } catch (err) {
      await nc.close().catch(() => {});
      throw engineFailure('opening the bus', err);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get node(): string {
    return this.locks.node;
  }

  check(): void {
    if (this.#closed) throw closedError('bus');
  }

  names(key: string): EntityNames {
    let n = this.#names.get(key);
    if (n === undefined) {
      n = entityNames(this.namespace, key);
      if (this.#names.size > 10_000) this.#names.clear();
      this.#names.set(key, n);
    }
    return n;
  }

  /** A subject-safe unique id (scheduled message subjects). */
  unique(): string {
    return `${this.node}${(++this.#counter).toString(36)}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of [...this.#waiting]) w.fail(closedError('bus'));
    this.#scheduler.close();
    this.entities.close();
    const held = this.locks.all();
    this.locks.clear();
    this.#orphans.clear();
    // Give the messages this node holds back at once instead of after their ack wait.
    for (const h of held) if (h.reply !== undefined) this.nc.publish(h.reply, '-NAK');
    await Promise.allSettled([...this.#inflight.values()].flatMap((s) => [...s]));
    this.#puller.close();
    this.#requests.close();
    await this.nc.drain().catch(() => this.nc.close());
  }

  // ── entities ────────────────────────────────────────────────────────────────────────────────

  entity(path: string, use: 'send' | 'receive'): EntityInfo {
    const catalog = this.entities.catalog;
    if (use === 'send') {
      const target = catalog.sendTarget(path);
      return { path: target.props.name, requiresSession: target.kind === 'queue' && target.props.requiresSession };
    }
    const queue = catalog.receivable(path);
    return { path: queue.path, requiresSession: queue.settings.requiresSession };
  }

  #queueRemoved(queue: QueueState): void {
    for (const w of [...this.#waiting]) if (w.key === queue.key) w.fail(entityDeleted(queue.path));
    for (const h of this.locks.all()) if (h.key === queue.key) this.locks.take(h.token);
    this.#sessions.forget(queue.key);
  }

  // ── send ────────────────────────────────────────────────────────────────────────────────────

  async send(entity: string, messages: readonly ServiceBusMessage[]): Promise<bigint[]> {
    this.check();
    const target = this.entities.catalog.sendTarget(entity);
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
    await this.#checkQuota(target, encoded);
    const now = this.clock.now();
    // One connection keeps publish order, so the stream assigns sequence numbers in batch order.
    const seqs = await Promise.all(encoded.map((e) => this.#sendOne(target, e, now)));
    const accepted = seqs.filter((n) => n !== 0n).length;
    if (accepted > 0) this.events.emit('sent', { entity: target.props.name, count: accepted });
    return seqs;
  }

  async #sendOne(target: QueueEntry | TopicEntry, e: EncodedMessage, now: number): Promise<bigint> {
    const n = this.names(target.key);
    // Only ids the sender gave are checked: generated ones are unique by construction.
    const dedupeId = target.props.requiresDuplicateDetection ? e.messageId : undefined;
    if (e.messageId === undefined) (e as { messageId?: string }).messageId = this.ids.uuid();
    const scheduled = e.scheduledEnqueueTime !== undefined && e.scheduledEnqueueTime > now;
    const direct = scheduled || (target.kind === 'queue' && target.props.forwardTo === undefined);
    if (direct) {
      const ops: EngineOp[] = [];
      this.router.route(target.key, e, 0, 0, now, ops, []);
      const [first, ...rest] = appends(ops);
      if (first === undefined) return 0n;
      const ack = await this.publishStored(first, dedupeId);
      if (ack.duplicate) return 0n;
      for (const [i, m] of rest.entries()) await this.publishStored(m, `r:${ack.seq}:${i}`);
      if (scheduled) this.#scheduler.add(target.key, ack.seq, e.scheduledEnqueueTime!, true);
      return BigInt(ack.seq);
    }
    // A topic (or a forwarding queue): a marker in the entity's stream gives the sequence number
    // and the duplicate check, then a copy goes to every subscription (or target) whose rules match.
    const marker = await this.#publish(n.stream, n.marker, new Uint8Array(0), dedupeId);
    const seq = marker.seq;
    const ops: EngineOp[] = [];
    this.router.route(target.key, e, seq, 0, now, ops, []);
    // Copies carry ids derived from the marker, so a send retried after a failure between marker
    // and copies (reported as a duplicate of the marker) completes the fan-out without doubling it.
    await Promise.all(appends(ops).map((m, i) => this.publishStored(m, `f:${entityId(target.key)}:${seq}:${i}`)));
    if (target.kind === 'queue') this.jsm.streams.deleteMessage(n.stream, seq, false).catch(() => {});
    return marker.duplicate ? 0n : BigInt(seq);
  }

  /** Publishes a stored message where it belongs (its entity, DLQ, schedule or session subject). */
  async publishStored(msg: StoredMessage, msgId: string | undefined): Promise<{ seq: number; duplicate: boolean }> {
    const catalog = this.entities.catalog;
    const keepSeq = msg.seq !== 0;
    if (msg.entity.endsWith(DEAD_LETTER_SUFFIX)) {
      const owner = msg.entity.slice(0, -DEAD_LETTER_SUFFIX.length);
      const n = this.names(owner);
      const ack = await this.#publish(n.side, n.deadLetter, encodePayload(msg, keepSeq), msgId);
      const queue = catalog.queueStates.get(owner);
      this.events.emit('deadLettered', {
        entity: queue?.path ?? owner,
        sequenceNumber: BigInt(keepSeq ? msg.seq : ack.seq),
        reason: msg.deadLetterReason ?? '',
      });
      return ack;
    }
    const n = this.names(msg.entity);
    const queue = catalog.queueStates.get(msg.entity);
    const subject =
      msg.state === 'scheduled'
        ? n.scheduled(this.unique())
        : queue?.settings.requiresSession && msg.sessionId !== undefined
          ? n.session(msg.sessionId)
          : n.active;
    return this.#publish(n.stream, subject, encodePayload(msg, keepSeq), msgId);
  }

  async #publish(
    stream: string,
    subject: string,
    payload: Uint8Array,
    msgId: string | undefined,
  ): Promise<{ seq: number; duplicate: boolean }> {
    let reply: Msg;
    try {
      reply = await this.#requests.request(subject, payload, msgId);
    } catch (err) {
      if (this.#closed) throw closedError('bus');
      throw engineFailure(`publishing to ${stream}`, err);
    }
    if (reply.headers?.code === 503) {
      throw new BusError('BUS_ENGINE_FAILURE', `JetStream has no stream for ${subject} (is ${stream} gone?).`);
    }
    const ack = reply.json<{ stream?: string; seq?: number; duplicate?: boolean; error?: { description: string } }>();
    if (ack.error !== undefined || ack.stream !== stream || ack.seq === undefined) {
      throw new BusError(
        'BUS_ENGINE_FAILURE',
        `JetStream refused a publish to ${stream}: ${ack.error?.description ?? `stored in ${ack.stream}`}`,
      );
    }
    return { seq: ack.seq, duplicate: ack.duplicate === true };
  }

  /**
   * Refuses a send that would take its queue (with its DLQ) or topic (every subscription's copy)
   * past `maxSizeInMegabytes` (BUS_QUOTA_EXCEEDED), by the bytes its streams hold. The count is
   * read from the server, then reused for a second while the entity stays under half its quota.
   */
  async #checkQuota(target: QueueEntry | TopicEntry, encoded: readonly EncodedMessage[]): Promise<void> {
    const max = (target.props.maxSizeInMegabytes ?? DEFAULT_MAX_SIZE_MB) * 1024 * 1024;
    const copies = target.kind === 'topic' ? Math.max(1, target.subscriptions.size) : 1;
    let adding = 0;
    for (const e of encoded) adding += e.size * copies;
    const cached = this.#usage.get(target.key);
    if (cached !== undefined && Date.now() - cached.at < 1_000 && cached.bytes + adding < max / 2) {
      cached.bytes += adding;
      return;
    }
    const keys = target.kind === 'topic' ? [...target.subscriptions.values()].map((s) => s.key) : [target.key];
    const streams = keys.flatMap((k) => {
      const n = this.names(k);
      return [n.stream, n.side];
    });
    let held = 0;
    try {
      const infos = await Promise.all(streams.map((s) => this.jsm.streams.info(s)));
      for (const info of infos) held += info.state.bytes;
    } catch (err) {
      throw engineFailure(`reading the size of ${target.props.name}`, err);
    }
    this.#usage.set(target.key, { bytes: held + adding, at: Date.now() });
    if (held + adding <= max) return;
    this.#usage.delete(target.key);
    throw new BusError(
      'BUS_QUOTA_EXCEEDED',
      `${target.props.name} holds ${held} bytes of messages; ${adding} more would pass its maxSizeInMegabytes (${max / 1024 / 1024} MiB).`,
      {
        detail: {
          entity: target.props.name,
          heldBytes: held,
          addingBytes: adding,
          maxSizeInMegabytes: max / 1024 / 1024,
        },
      },
    );
  }

  cancelScheduled(entity: string, sequenceNumbers: readonly bigint[]): Promise<void> {
    this.check();
    const target = this.entities.catalog.sendTarget(entity);
    return this.#scheduler.cancel(target.key, sequenceNumbers);
  }

  // ── receive ─────────────────────────────────────────────────────────────────────────────────

  async receive(path: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.check();
    const queue = this.entities.catalog.receivable(path);
    if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) {
      throw invalidOption('maxMessages', 'must be a positive integer');
    }
    if (options.mode !== 'peekLock' && options.mode !== 'receiveAndDelete') {
      throw invalidOption('mode', "must be 'peekLock' or 'receiveAndDelete'");
    }
    let source: Source;
    let session: string | undefined;
    const n = this.names(queue.isDeadLetter ? ownerKey(queue.key) : queue.key);
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
    const deadline = this.clock.now() + Math.min(options.maxWaitTimeMs, NEVER);
    await this.#quiet(source);
    const out: Held[] = this.#takeOrphans(source, options.maxMessages);
    if (out.length < options.maxMessages) {
      await this.#pullNow(source, queue, session, options.maxMessages - out.length, out);
    }
    if (out.length === 0 && options.maxWaitTimeMs > 0) {
      const wait = options.maxWaitTimeMs >= NEVER ? NEVER : deadline - this.clock.now();
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
      const timer = o.maxWaitTimeMs < NEVER ? this.clock.setTimeout(() => finish(), o.maxWaitTimeMs) : undefined;
      this.#waiting.add(waiting);
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
              } else if (status === 503) {
                finish(closedError('bus'));
              } else if (status === 409 || status === 404 || status === 408 || status === 0) {
                // 409: the consumer is being replaced (a session changing hands); try again shortly.
                if (status === 409) setTimeout(loop, 50).unref();
                else loop();
              } else {
                setTimeout(loop, 50).unref();
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
            if (status === 503) throw closedError('bus');
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
      this.nc.publish(reply, '+TERM');
      this.events.emit('error', engineFailure(`reading message ${sseq} of ${queue.path}`, err));
      return undefined;
    }
    const msg: StoredMessage = { ...stored, deliveryCount: (stored.deliveryCount ?? 0) + dc - 1 };
    const now = this.clock.now();
    if (!queue.isDeadLetter) {
      if (msg.expiresAt !== undefined && msg.expiresAt <= now) {
        this.events.emit('expired', { entity: queue.path, sequenceNumber: BigInt(msg.seq) });
        if (queue.settings.deadLetteringOnMessageExpiration) {
          await this.#deadLetter(queue, reply, msg, 'TTLExpiredException', 'The message expired.');
        } else {
          await this.#ack(reply);
        }
        return undefined;
      }
      if (msg.deliveryCount >= queue.settings.maxDeliveryCount) {
        await this.#deadLetter(queue, reply, msg, 'MaxDeliveryCountExceeded', maxDeliveryText(queue));
        return undefined;
      }
    }
    const until = session !== undefined ? this.#sessions.until(session) : now + queue.settings.lockDuration;
    return this.locks.hold({ key: queue.key, ...source, reply, streamSeq: sseq, msg, until, session });
  }

  async #hand(queue: QueueState, held: Held[], mode: ReceiveMode): Promise<Delivery[]> {
    if (mode === 'receiveAndDelete') {
      for (const h of held) this.locks.take(h.token);
      await Promise.all(held.map((h) => this.#ack(h.reply!)));
      return held.map((h) => ({ msg: h.msg, path: queue.path, lockToken: undefined, lockedUntil: undefined }));
    }
    return held.map((h) => ({ msg: h.msg, path: queue.path, lockToken: h.token, lockedUntil: h.until }));
  }

  #orphan(source: Source, m: Msg): void {
    const queue = this.#queueOfSource(source);
    if (queue === undefined || this.#closed) {
      if (m.reply) this.nc.publish(m.reply, '-NAK');
      return;
    }
    const session = source.consumer.startsWith('s_')
      ? this.#sessions.tokenOfConsumer(queue, source.consumer)
      : undefined;
    this.#track(
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
    const live = list.filter((h) => this.locks.get(h.token) === h);
    const out = live.splice(0, max);
    if (live.length === 0) this.#orphans.delete(sourceKey(source));
    else this.#orphans.set(sourceKey(source), live);
    for (const h of out) this.locks.extend(h, this.clock.now() + this.#lockDurationOf(h));
    return out;
  }

  #queueOfSource(source: Source): QueueState | undefined {
    for (const q of this.entities.catalog.queueStates.values()) {
      const n = this.names(q.isDeadLetter ? ownerKey(q.key) : q.key);
      if (q.isDeadLetter ? n.side === source.stream : n.stream === source.stream) return q;
    }
    return undefined;
  }

  #lockDurationOf(h: Held): number {
    return this.entities.catalog.queueStates.get(h.key)?.settings.lockDuration ?? 60_000;
  }

  // ── deferred and peek ───────────────────────────────────────────────────────────────────────

  async receiveDeferred(
    path: string,
    sequenceNumbers: readonly bigint[],
    mode: ReceiveMode,
    sessionToken?: string,
  ): Promise<Delivery[]> {
    this.check();
    const queue = this.entities.catalog.receivable(path);
    if (sessionToken !== undefined && !this.#sessions.holds(sessionToken)) {
      throw sessionLockLost(queue.path, this.#sessions.idOf(sessionToken) ?? '');
    }
    const n = this.names(queue.key);
    const found: Array<{ msg: StoredMessage; streamSeq: number }> = [];
    for (const s of sequenceNumbers) {
      const seq = Number(s);
      const got = await this.getMessage(n.side, { last_by_subj: n.deferred(seq) });
      if (got === undefined) {
        throw new BusError('BUS_MESSAGE_NOT_FOUND', `No deferred message ${s} in ${queue.path}.`, {
          detail: { entity: queue.path, sequenceNumber: String(s) },
        });
      }
      found.push({ msg: decodePayload(got.data, queue.key, 'deferred', seq), streamSeq: got.seq });
    }
    const now = this.clock.now();
    const out: Delivery[] = [];
    for (const f of found) {
      if (mode === 'receiveAndDelete') {
        await this.jsm.streams.deleteMessage(n.side, f.streamSeq, false).catch(() => false);
        out.push({ msg: f.msg, path: queue.path, lockToken: undefined, lockedUntil: undefined });
        continue;
      }
      const until = sessionToken !== undefined ? this.#sessions.until(sessionToken) : now + queue.settings.lockDuration;
      const h = this.locks.hold({
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

  /** One stream message by sequence, last of a subject, or next of a subject from a sequence. */
  async getMessage(
    stream: string,
    req: { seq: number } | { last_by_subj: string } | { seq: number; next_by_subj: string },
  ): Promise<{ subject: string; seq: number; data: Uint8Array } | undefined> {
    let reply: Msg;
    try {
      reply = await this.nc.request(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify(req), { timeout: 10_000 });
    } catch (err) {
      throw engineFailure(`reading ${stream}`, err);
    }
    const r = reply.json<{
      message?: { subject: string; seq: number; data?: string };
      error?: { code: number; description: string };
    }>();
    if (r.error !== undefined) {
      if (r.error.code === 404) return undefined;
      throw new BusError('BUS_ENGINE_FAILURE', `JetStream failed reading ${stream}: ${r.error.description}`);
    }
    const m = r.message!;
    return { subject: m.subject, seq: m.seq, data: Buffer.from(m.data ?? '', 'base64') };
  }

  async peek(path: string, range: PeekRange): Promise<Delivery[]> {
    this.check();
    const queue = this.entities.catalog.receivable(path);
    const from = range.fromSequenceNumber ?? 1n;
    const owner = queue.isDeadLetter ? ownerKey(queue.key) : queue.key;
    const n = this.names(owner);
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
        const got = await this.getMessage(scan.stream, { seq: cursor, next_by_subj: scan.filter });
        if (got === undefined) break;
        cursor = got.seq + 1;
        const kind = got.subject.split('.')[2];
        if (kind === 't') continue;
        const state = kind === 'sch' ? 'scheduled' : kind === 'd' ? 'deferred' : 'active';
        const msg = decodePayload(got.data, queue.key, state, got.seq);
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

  // ── settlement ──────────────────────────────────────────────────────────────────────────────

  async settle(path: string, lockToken: string, settlement: Settlement): Promise<void> {
    this.check();
    const queue = this.entities.catalog.receivable(path);
    if (settlement === null || typeof settlement !== 'object') throw invalidOption('settlement', 'must be an object');
    if (settlement.kind === 'deadLetter') {
      if (queue.isDeadLetter) {
        throw new BusError('BUS_INVALID_OPERATION', `Cannot dead-letter a message in ${queue.path}.`, {
          detail: { entity: queue.path },
        });
      }
      const reason = settlement.reason;
      if (reason !== undefined && (typeof reason !== 'string' || reason.length > 4096)) {
        throw invalidOption('reason', 'must be a string of at most 4096 characters');
      }
    } else if (!['complete', 'abandon', 'defer'].includes(settlement.kind)) {
      throw invalidOption('settlement', "kind must be 'complete', 'abandon', 'deadLetter' or 'defer'");
    }
    const props = 'propertiesToModify' in settlement ? checkProps(settlement.propertiesToModify) : undefined;
    if (typeof lockToken === 'string' && nodeOf(lockToken) !== this.node) {
      await this.#forward(lockToken, {
        op: 'settle',
        path,
        token: lockToken,
        settlement: { ...settlement, ...(props === undefined ? {} : { propertiesToModify: tagProps(props) }) },
      });
      return;
    }
    const h = this.#held(queue, lockToken);
    this.locks.take(lockToken);
    const msg =
      props === undefined ? h.msg : { ...h.msg, applicationProperties: { ...h.msg.applicationProperties, ...props } };
    const source = { stream: h.stream, consumer: h.consumer };
    await this.#track(source, this.#settleHeld(queue, h, msg, settlement));
  }

  async #settleHeld(queue: QueueState, h: Held, msg: StoredMessage, s: Settlement): Promise<void> {
    switch (s.kind) {
      case 'complete':
        return this.#remove(h);
      case 'abandon':
        return this.#redeliver(queue, h, msg);
      case 'deadLetter':
        return this.#deadLetter(queue, h, msg, s.reason ?? '', s.errorDescription);
      case 'defer': {
        if (h.reply === undefined) return this.#replaceDeferred(queue, h, msg);
        const n = this.names(queue.key);
        const deferred = { ...msg, state: 'deferred' as const };
        await this.#publish(n.side, n.deferred(msg.seq), encodePayload(deferred, true), `d:${msg.seq}:${h.streamSeq}`);
        return this.#ack(h.reply);
      }
    }
  }

  /** Abandon or lost lock: delivery count + 1 (the server's count on a nak), or the DLQ past the maximum. */
  async #redeliver(queue: QueueState, h: Held, msg: StoredMessage): Promise<void> {
    const deliveryCount = msg.deliveryCount + 1;
    if (!queue.isDeadLetter && deliveryCount >= queue.settings.maxDeliveryCount) {
      return this.#deadLetter(queue, h, { ...msg, deliveryCount }, 'MaxDeliveryCountExceeded', maxDeliveryText(queue));
    }
    if (h.reply === undefined) {
      return this.#replaceDeferred(queue, h, { ...msg, deliveryCount });
    }
    if (msg === h.msg) return this.#nak(h.reply);
    // Changed properties: a new stream message in the same place, then the old one acknowledged.
    await this.publishStored({ ...msg, deliveryCount, state: 'active' }, `a:${h.streamSeq}:${deliveryCount}`);
    return this.#ack(h.reply);
  }

  async #replaceDeferred(queue: QueueState, h: Held, msg: StoredMessage): Promise<void> {
    if (msg === h.msg) return;
    const n = this.names(queue.key);
    await this.#publish(n.side, n.deferred(msg.seq), encodePayload(msg, true), undefined);
    await this.jsm.streams.deleteMessage(n.side, h.streamSeq, false).catch(() => false);
  }

  /** Moves a delivery to the DLQ (or where its entity forwards dead letters), then takes it off the queue. */
  async #deadLetter(
    queue: QueueState,
    from: Held | string,
    msg: StoredMessage,
    reason: string,
    description: string | undefined,
  ): Promise<void> {
    const ops: EngineOp[] = [];
    const live = { ...msg, state: 'active' as const };
    this.router.deadLetterNew(queue, live, reason, description, this.clock.now(), ops, []);
    const id = typeof from === 'string' ? parseAckReply(from).sseq : from.streamSeq;
    for (const [i, m] of appends(ops).entries()) await this.publishStored(m, `dl:${entityId(queue.key)}:${id}:${i}`);
    if (typeof from === 'string') return this.#ack(from);
    return this.#remove(from);
  }

  #remove(h: Held): Promise<void> {
    if (h.reply !== undefined) return this.#ack(h.reply);
    return this.jsm.streams.deleteMessage(h.stream, h.streamSeq, false).then(
      (ok) => {
        if (!ok) throw lockLost(h.token);
      },
      () => {
        throw lockLost(h.token);
      },
    );
  }

  async #ack(reply: string): Promise<void> {
    await this.#request(reply, '+ACK');
  }

  async #nak(reply: string): Promise<void> {
    await this.#request(reply, '-NAK');
  }

  async #request(subject: string, body: string): Promise<void> {
    let reply: Msg;
    try {
      reply = await this.#requests.request(subject, body);
    } catch (err) {
      throw engineFailure('settling a message', err);
    }
    if (reply.headers?.code === 503) throw new BusError('BUS_ENGINE_FAILURE', 'The consumer is gone.');
  }

  /** The lock `token` of `queue`, held here and (for a session message) under a live session lock. */
  #held(queue: QueueState, token: string): Held {
    const h = typeof token === 'string' ? this.locks.get(token) : undefined;
    const lostSession = this.#lostWithSession.get(token);
    if (h === undefined && lostSession !== undefined) throw sessionLockLost(queue.path, lostSession);
    if (h === undefined || h.key !== queue.key) throw lockLost(String(token));
    if (h.session !== undefined && !this.#sessions.holds(h.session)) {
      this.locks.take(token);
      throw sessionLockLost(queue.path, h.msg.sessionId ?? '');
    }
    return h;
  }

  async renewLock(path: string, lockToken: string): Promise<Date> {
    this.check();
    const queue = this.entities.catalog.receivable(path);
    if (typeof lockToken === 'string' && nodeOf(lockToken) !== this.node) {
      const r = await this.#forward(lockToken, { op: 'renew', path, token: lockToken });
      return new Date(r.until as number);
    }
    const h = this.#held(queue, lockToken);
    if (h.session !== undefined) return new Date(await this.#sessions.renew(path, h.session));
    const until = this.clock.now() + queue.settings.lockDuration;
    if (h.reply !== undefined) await this.#request(h.reply, '+WPI');
    this.locks.extend(h, until);
    return new Date(until);
  }

  /** Renews the message locks held under a session lock (the session's renewal carries them). */
  async renewSessionMessages(sessionToken: string, until: number): Promise<void> {
    for (const h of this.locks.ofSession(sessionToken)) {
      if (h.reply !== undefined) await this.#request(h.reply, '+WPI');
      this.locks.extend(h, until);
    }
  }

  /** Gives back the messages held under a session lock (released or lost): delivery count + 1. */
  releaseSessionMessages(sessionToken: string): Promise<void> {
    const work: Promise<void>[] = [];
    for (const h of this.locks.ofSession(sessionToken)) {
      this.locks.take(h.token);
      if (this.#lostWithSession.size >= 10_000)
        this.#lostWithSession.delete(this.#lostWithSession.keys().next().value!);
      this.#lostWithSession.set(h.token, h.msg.sessionId ?? '');
      const queue = this.entities.catalog.queueStates.get(h.key);
      if (queue !== undefined) work.push(this.#track(h, this.#redeliver(queue, h, h.msg)));
    }
    return Promise.all(work).then(() => {});
  }

  #lockExpired(h: Held): void {
    const queue = this.entities.catalog.queueStates.get(h.key);
    if (queue === undefined) return;
    this.events.emit('lockExpired', { entity: queue.path, sequenceNumber: BigInt(h.msg.seq) });
    this.#track(h, this.#redeliver(queue, h, h.msg)).catch((err: unknown) => {
      if (!this.#closed) this.events.emit('error', engineFailure('returning an expired lock', err));
    });
  }

  /** Tracks settlement work on a consumer so a receive from it sees its effect first. */
  #track<T>(source: Source, work: Promise<T>): Promise<T> {
    const k = sourceKey(source);
    let set = this.#inflight.get(k);
    if (set === undefined) {
      set = new Set();
      this.#inflight.set(k, set);
    }
    const s = set;
    s.add(work);
    const done = (): void => {
      s.delete(work);
      if (s.size === 0 && this.#inflight.get(k) === s) this.#inflight.delete(k);
    };
    work.then(done, done);
    return work;
  }

  async #quiet(source: Source): Promise<void> {
    const set = this.#inflight.get(sourceKey(source));
    if (set !== undefined) await Promise.allSettled([...set]);
  }

  // ── locks held on another node ──────────────────────────────────────────────────────────────

  /** Sends a lock operation to the node holding the lock; a node that is gone took its locks along. */
  async #forward(token: string, op: Record<string, unknown>): Promise<Record<string, unknown>> {
    let reply: Msg;
    try {
      reply = await this.nc.request(`${this.namespace}.lock.${nodeOf(token)}`, JSON.stringify(op), {
        timeout: 10_000,
      });
    } catch {
      throw lockLost(token);
    }
    const r = reply.json<{ ok?: boolean; until?: number; error?: { code: string; message: string } }>();
    if (r.error !== undefined) {
      throw new BusError(r.error.code as BusError['code'], r.error.message);
    }
    return r as Record<string, unknown>;
  }

  #serveLockOp(m: Msg): void {
    void (async () => {
      const req = m.json<{ op: string; path: string; token: string; settlement?: Record<string, unknown> }>();
      if (req.op === 'settle') {
        const s = req.settlement as { propertiesToModify?: Record<string, never> } & Settlement;
        const settlement =
          s.propertiesToModify === undefined ? s : { ...s, propertiesToModify: untagProps(s.propertiesToModify) };
        await this.settle(req.path, req.token, settlement as Settlement);
        return {};
      }
      if (req.op === 'renew') return { until: (await this.renewLock(req.path, req.token)).getTime() };
      return this.#sessions.serve(req as never);
    })().then(
      (r) => m.respond(JSON.stringify({ ok: true, ...r })),
      (err: unknown) => {
        const e = err instanceof BusError ? err : engineFailure('a forwarded lock operation', err);
        m.respond(JSON.stringify({ error: { code: e.code, message: e.message } }));
      },
    );
  }

  /** Forwards a session operation to the node holding the session lock. */
  forward(token: string, op: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.#forward(token, op);
  }

  // ── runtime counts ──────────────────────────────────────────────────────────────────────────

  async runtimeProperties(address: EntityAddress): Promise<EntityRuntimeProperties> {
    this.check();
    const queue = this.entities.catalog.receivable(entityPath(address));
    const n = this.names(queue.isDeadLetter ? ownerKey(queue.key) : queue.key);
    const count = async (stream: string): Promise<Record<string, number>> => {
      try {
        return (await this.jsm.streams.info(stream, { subjects_filter: '>' })).state.subjects ?? {};
      } catch (err) {
        throw engineFailure(`reading ${stream}`, err);
      }
    };
    const [main, side] = await Promise.all([count(n.stream), count(n.side)]);
    let active = 0;
    let scheduled = 0;
    let deferred = 0;
    let dead = 0;
    for (const [subject, c] of Object.entries(main)) {
      const kind = subject.split('.')[2];
      if (kind === 'sch') scheduled += c;
      else if (kind === 'm' || kind === 's') active += c;
    }
    for (const [subject, c] of Object.entries(side)) {
      const kind = subject.split('.')[2];
      if (kind === 'd') deferred += c;
      else if (kind === 'dlq') dead += c;
    }
    const locked = this.locks.all().filter((h) => h.key === queue.key).length;
    if (queue.isDeadLetter) {
      return {
        path: queue.path,
        activeMessageCount: dead,
        scheduledMessageCount: 0,
        deferredMessageCount: 0,
        deadLetterMessageCount: 0,
        lockedMessageCount: locked,
        totalMessageCount: dead,
      };
    }
    return {
      path: queue.path,
      activeMessageCount: active,
      scheduledMessageCount: scheduled,
      deferredMessageCount: deferred,
      deadLetterMessageCount: dead,
      lockedMessageCount: locked,
      totalMessageCount: active + scheduled + deferred + dead,
    };
  }
}

/** `bus.admin`: the in-process broker's admin over KV, with counts read from the streams. */
class NatsAdmin extends LocalAdmin {
  readonly #broker: NatsBroker;

  constructor(broker: NatsBroker, engine: NatsEntities['engine']) {
    super(broker.entities.catalog, engine, broker.clock, () => broker.closed);
    this.#broker = broker;
  }

  override getRuntimeProperties(address: EntityAddress): Promise<EntityRuntimeProperties> {
    return this.#broker.runtimeProperties(address);
  }
}

const appends = (ops: readonly EngineOp[]): StoredMessage[] =>
  ops.flatMap((op) => (op.op === 'append' ? [op.message] : []));

export const ownerKey = (key: string): string =>
  key.endsWith(DEAD_LETTER_SUFFIX) ? key.slice(0, -DEAD_LETTER_SUFFIX.length) : key;

const maxDeliveryText = (queue: QueueState): string =>
  `Message could not be consumed after ${queue.settings.maxDeliveryCount} delivery attempts.`;

function checkProps(props: ServiceBusMessage['applicationProperties']): Record<string, PropertyValue> | undefined {
  if (props === undefined) return undefined;
  return encodeMessage({ body: null, applicationProperties: props }).applicationProperties ?? {};
}

/** `nats://a:4222,b:4222` (or `nats://a:4222,nats://b:4222`) → the client's server list. */
export function parseServers(url: string): string[] {
  if (typeof url !== 'string' || !url.startsWith('nats://')) {
    throw invalidOption('url', `a NATS bus URL looks like nats://host:4222, got ${JSON.stringify(url)}`);
  }
  const list = url
    .slice('nats://'.length)
    .split('?')[0]!
    .split(',')
    .map((s) => s.replace(/^nats:\/\//, '').replace(/\/+$/, ''))
    .filter((s) => s.length > 0);
  if (list.length === 0) throw invalidOption('url', `${JSON.stringify(url)} names no server (nats://HOST:4222)`);
  for (const s of list) {
    if (!/^[A-Za-z0-9.\-[\]:]+$/.test(s)) throw invalidOption('url', `bad server ${JSON.stringify(s)}`);
  }
  return list;
}
