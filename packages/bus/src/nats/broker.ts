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
import type { EntityAddress } from '../address.ts';
import type { BusAdmin } from '../admin.ts';
import { LocalAdmin } from '../broker/admin.ts';
import { encodeForSend, type QueueEntry, type TopicEntry } from '../broker/catalog.ts';
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
import { DEAD_LETTER_SUFFIX, type EntityRuntimeProperties } from '../entities.ts';
import { BusError, closedError, entityDeleted } from '../errors.ts';
import type { ServiceBusMessage } from '../message.ts';
import type { EncodedMessage } from '../message-codec.ts';
import { encodePayload } from './codec.ts';
import type { NatsContext } from './context.ts';
import { Quota, runtimeProperties } from './counts.ts';
import { engineFailure, NatsEntities } from './entities.ts';
import { LockTable } from './locks.ts';
import { type EntityNames, entityId, entityNames } from './names.ts';
import { Puller } from './pull.ts';
import { Receiving } from './receiving.ts';
import { Requests } from './requests.ts';
import { Scheduler } from './schedule.ts';
import { NatsSessions } from './sessions.ts';
import { Settling } from './settling.ts';
import { invalidOption, parseServers } from './url.ts';

export interface NatsBrokerOptions {
  /** `nats://host:port`, several comma-separated for a cluster. @default 'nats://127.0.0.1:4222' */
  url?: string;
  /**
   * Prefix of every stream, subject and KV bucket; nodes with the same namespace share the bus.
   * Letters, digits, `_` and `-`. @default 'hubbub'
   */
  namespace?: string;
  /**
   * Replicas of every stream, consumer and KV bucket. @default 3 when the server is in a cluster
   * of three or more (as its INFO says), 1 otherwise
   */
  replicas?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Generated message ids. @default randomIds */
  ids?: IdSource;
  events?: TypedEmitter<BusEvents>;
  /** Connection name the server shows. @default 'hubbub-bus' */
  name?: string;
  /**
   * How often (real ms) a node checks it holds a timer for every scheduled message, finding any
   * whose announcement it missed. @default 30_000
   */
  scheduleRescanMs?: number;
}

const NAMESPACE = /^[A-Za-z0-9_-]{1,32}$/;

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
  readonly #settling: Settling;
  readonly #receiving: Receiving;
  readonly #names = new Map<string, EntityNames>();
  /** Bytes last read per queue or topic for its quota check (real time of the read). */
  readonly #quota = new Quota(this);
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
    this.locks = new LockTable(node, this.clock, (h) => this.#settling.lockExpired(h));
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
    this.#scheduler = new Scheduler(this, o.scheduleRescanMs);
    this.#requests = new Requests(nc, `${o.namespace}.req.${node}`);
    this.#puller = new Puller(nc, `${o.namespace}.pull.${node}`, (m, stream, consumer) =>
      this.#receiving.orphan({ stream, consumer }, m),
    );
    this.#settling = new Settling(this, this.#sessions, this.#requests);
    this.#receiving = new Receiving(this, this.#sessions, this.#settling, this.#puller);
    nc.subscribe(`${o.namespace}.lock.${node}`, {
      callback: (err, m) => {
        if (err === null) this.#settling.serveLockOp(m);
      },
    });
  }

  static async open(options: NatsBrokerOptions = {}): Promise<NatsBroker> {
    const namespace = options.namespace ?? 'hubbub';
    if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
      throw invalidOption('namespace', 'must be 1–32 letters, digits, _ or -');
    }
    if (
      options.replicas !== undefined &&
      (!Number.isInteger(options.replicas) || options.replicas < 1 || options.replicas > 5)
    ) {
      throw invalidOption('replicas', 'must be an integer from 1 to 5');
    }
    const rescan = options.scheduleRescanMs;
    if (rescan !== undefined && (!Number.isInteger(rescan) || rescan < 100)) {
      throw invalidOption('scheduleRescanMs', 'must be an integer of at least 100 (ms)');
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
      const replicas = options.replicas ?? clusterReplicas(nc);
      const kvm = new Kvm(nc);
      // A cluster starting with its nodes answers "JetStream temporarily unavailable" until its
      // meta leader is elected: the buckets are retried for a while.
      const entities = await whileStarting(() => kvm.create(`${namespace}-entities`, { replicas, history: 1 }));
      const sessions = await whileStarting(() => kvm.create(`${namespace}-sessions`, { replicas, history: 1 }));
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
    this.#receiving.fail(undefined, closedError('bus'));
    this.#scheduler.close();
    this.entities.close();
    const held = this.locks.all();
    this.locks.clear();
    // Give the messages this node holds back at once instead of after their ack wait.
    for (const h of held) if (h.reply !== undefined) this.nc.publish(h.reply, '-NAK');
    await this.#settling.settled();
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
    this.#receiving.fail(queue.key, entityDeleted(queue.path));
    for (const h of this.locks.all()) if (h.key === queue.key) this.locks.take(h.token);
    this.#sessions.forget(queue.key);
  }

  // ── send ────────────────────────────────────────────────────────────────────────────────────

  async send(entity: string, messages: readonly ServiceBusMessage[]): Promise<bigint[]> {
    this.check();
    const target = this.entities.catalog.sendTarget(entity);
    const encoded = encodeForSend(target, entity, messages);
    if (encoded.length === 0) return [];
    await this.#quota.check(target, encoded);
    // Forwarded messages land elsewhere: the entities they land in must have room for them too.
    for (const dest of this.#forwardedTo(target)) await this.#quota.check(dest, encoded);
    const now = this.clock.now();
    // One connection keeps publish order, so the stream assigns sequence numbers in batch order.
    const seqs = await Promise.all(encoded.map((e) => this.#sendOne(target, e, now)));
    const accepted = seqs.filter((n) => n !== 0n).length;
    if (accepted > 0) this.events.emit('sent', { entity: target.props.name, count: accepted });
    return seqs;
  }

  /** The queues and topics a send to `target` forwards to (its own or its subscriptions' `forwardTo`, followed). */
  #forwardedTo(target: QueueEntry | TopicEntry): Set<QueueEntry | TopicEntry> {
    const catalog = this.entities.catalog;
    const found = new Set<QueueEntry | TopicEntry>();
    const follow = (forwardTo: string | undefined, hops: number): void => {
      const key = forwardTo === undefined ? undefined : catalog.entityKeyOf(forwardTo);
      const next = key === undefined ? undefined : (catalog.queues.get(key) ?? catalog.topics.get(key));
      if (next === undefined || found.has(next) || hops > 4) return;
      found.add(next);
      visit(next, hops + 1);
    };
    const visit = (entry: QueueEntry | TopicEntry, hops: number): void => {
      if (entry.kind === 'queue') follow(entry.props.forwardTo, hops);
      else for (const sub of entry.subscriptions.values()) follow(sub.props.forwardTo, hops);
    };
    visit(target, 0);
    return found;
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
    const marker = await this.publish(n.stream, n.marker, new Uint8Array(0), dedupeId);
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
      const ack = await this.publish(n.side, n.deadLetter, encodePayload(msg, keepSeq), msgId);
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
    return this.publish(n.stream, subject, encodePayload(msg, keepSeq), msgId);
  }

  async publish(
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

  cancelScheduled(entity: string, sequenceNumbers: readonly bigint[]): Promise<void> {
    this.check();
    const target = this.entities.catalog.sendTarget(entity);
    return this.#scheduler.cancel(target.key, sequenceNumbers);
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

  // ── receive and settle (receiving.ts, settling.ts) ──────────────────────────────────────────

  receive(path: string, options: ReceiveOptions): Promise<Delivery[]> {
    return this.#receiving.receive(path, options);
  }

  receiveDeferred(
    path: string,
    sequenceNumbers: readonly bigint[],
    mode: ReceiveMode,
    sessionToken?: string,
  ): Promise<Delivery[]> {
    return this.#receiving.receiveDeferred(path, sequenceNumbers, mode, sessionToken);
  }

  peek(path: string, range: PeekRange): Promise<Delivery[]> {
    return this.#receiving.peek(path, range);
  }

  settle(path: string, lockToken: string, settlement: Settlement): Promise<void> {
    return this.#settling.settle(path, lockToken, settlement);
  }

  renewLock(path: string, lockToken: string): Promise<Date> {
    return this.#settling.renewLock(path, lockToken);
  }

  renewSessionMessages(sessionToken: string, until: number): Promise<void> {
    return this.#settling.renewSessionMessages(sessionToken, until);
  }

  releaseSessionMessages(sessionToken: string): Promise<void> {
    return this.#settling.releaseSessionMessages(sessionToken);
  }

  forward(token: string, op: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.#settling.forward(token, op);
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
    return runtimeProperties(this.#broker, address);
  }
}

const appends = (ops: readonly EngineOp[]): StoredMessage[] =>
  ops.flatMap((op) => (op.op === 'append' ? [op.message] : []));

/** 3 when the server we reached is in a cluster of at least three servers, else 1. */
function clusterReplicas(nc: NatsConnection): number {
  const info = nc.info;
  if (info?.cluster === undefined) return 1;
  const servers = new Set([...(info.connect_urls ?? []), `${info.host}:${info.port}`]);
  return servers.size >= 3 ? 3 : 1;
}

/** Runs `work`, again every 250 ms for up to 15 s while JetStream is not up yet (electing a leader). */
async function whileStarting<T>(work: () => Promise<T>, forMs = 15_000): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await work();
    } catch (err) {
      const starting = /temporarily unavailable|no responders|timeout|no suitable peers/i.test(String(err));
      if (!starting || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
