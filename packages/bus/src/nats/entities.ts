/**
 * Entity definitions shared by every node: one KV entry per queue, topic and subscription (its
 * properties and rules), the streams and consumers that hold its messages, and the in-process
 * {@link Catalog} each node routes with — filled from the KV bucket on start and kept current by a
 * watch, so `Broker.entity()` answers synchronously and a queue created on one node is usable on
 * every other. Creating claims the name with a KV create (atomic across nodes); the admin
 * operations themselves are the in-process broker's (`LocalAdmin`), over this as their engine.
 * @module
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { AckPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { type KV, KvWatchInclude } from '@nats-io/kv';
import { Catalog, type CatalogHooks, compileRules, deadLetterSettings, queueSettings } from '../broker/catalog.ts';
import type { BusEngine, EngineOp, EngineState, EntityRecord } from '../engine/port.ts';
import { entityKey, type QueueProperties, type SubscriptionProperties, type TopicProperties } from '../entities.ts';
import { BusError, entityExists } from '../errors.ts';
import type { RuleDescription } from '../rules/index.ts';
import { entityId, entityNames } from './names.ts';

/** The catalog of a JetStream node: sequence numbers come from streams, never from this process. */
export class NatsCatalog extends Catalog {
  override nextSeq(_key: string): number {
    return 0;
  }
}

const EMPTY_STATE = { messages: [], sessions: [], dedupe: [], sequences: {} } as const;
const ms = (n: number): number => Math.round(n * 1_000_000);
/** The server redelivers a node's unsettled messages this long after the lock would have expired. */
export const ackWaitFor = (lockDuration: number): number => ms(lockDuration + Math.max(5_000, lockDuration));
const DEFAULT_DEDUPE_WINDOW = 120_000;

interface KvRecord {
  key: string;
  kind: EntityRecord['kind'];
  props: Record<string, unknown>;
  node: string;
}

function revive(r: KvRecord): EntityRecord {
  const props = { ...r.props, createdAt: new Date(r.props.createdAt as string) };
  return { key: r.key, kind: r.kind, props };
}

export interface NatsEntitiesOptions {
  namespace: string;
  node: string;
  replicas: number;
  jsm: JetStreamManager;
  kv: KV;
  hooks: CatalogHooks;
}

export class NatsEntities {
  readonly catalog: NatsCatalog;
  readonly #o: NatsEntitiesOptions;
  #stopWatch: (() => void) | undefined;

  constructor(options: NatsEntitiesOptions) {
    this.#o = options;
    this.catalog = new NatsCatalog(options.hooks);
  }

  /** Loads every entity, then follows changes made by other nodes. */
  async open(): Promise<void> {
    const watch = await this.#o.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.#stopWatch = () => watch.stop();
    (async () => {
      for await (const e of watch) {
        try {
          if (e.operation === 'PUT') {
            const r = JSON.parse(e.string()) as KvRecord;
            if (r.node !== this.#o.node) this.#apply(revive(r));
          } else {
            this.#removeById(e.key);
          }
        } catch {
          // A record another version wrote that this one cannot read: leave the catalog as it is.
        }
      }
    })();
    const records: EntityRecord[] = [];
    for await (const k of await this.#o.kv.keys()) {
      const e = await this.#o.kv.get(k);
      if (e === null || e.operation !== 'PUT') continue;
      records.push(revive(JSON.parse(e.string()) as KvRecord));
    }
    this.catalog.restore({ entities: records, ...EMPTY_STATE } as unknown as EngineState);
  }

  close(): void {
    this.#stopWatch?.();
  }

  /** The storage the admin operations write entity changes to. */
  readonly engine: BusEngine = {
    kind: 'nats',
    open: async () => ({ entities: [], ...EMPTY_STATE }) as unknown as EngineState,
    write: async (ops: readonly EngineOp[]) => {
      for (const op of ops) {
        if (op.op === 'entity') await this.#write(op.entity);
        else if (op.op === 'drop') await this.#drop(op.key);
      }
    },
    compact: async () => {},
    close: async () => {},
  };

  async #write(r: EntityRecord): Promise<void> {
    const id = entityId(r.key);
    const value = JSON.stringify({ key: r.key, kind: r.kind, props: r.props, node: this.#o.node } satisfies KvRecord);
    const exists = this.catalog.queues.has(r.key) || this.catalog.topics.has(r.key) || this.#subscription(r.key);
    if (exists) {
      await this.#o.kv.put(id, value);
      await this.#ensureStreams(r, true);
      return;
    }
    try {
      await this.#o.kv.create(id, value);
    } catch (err) {
      if ((await this.#o.kv.get(id))?.operation === 'PUT') throw entityExists(r.key);
      throw engineFailure(`creating ${r.key}`, err);
    }
    try {
      await this.#ensureStreams(r, false);
    } catch (err) {
      await this.#o.kv.delete(id).catch(() => {});
      throw engineFailure(`creating the streams of ${r.key}`, err);
    }
  }

  #subscription(key: string): boolean {
    const i = key.indexOf('/subscriptions/');
    if (i < 0) return false;
    return this.catalog.topics.get(key.slice(0, i))?.subscriptions.has(key.slice(i + 15)) ?? false;
  }

  async #ensureStreams(r: EntityRecord, update: boolean): Promise<void> {
    const { jsm, namespace, replicas } = this.#o;
    const n = entityNames(namespace, r.key);
    const p = r.props as unknown as QueueProperties & TopicProperties & SubscriptionProperties;
    const window = ms(p.requiresDuplicateDetection ? p.duplicateDetectionHistoryTimeWindow : DEFAULT_DEDUPE_WINDOW);
    if (r.kind === 'topic') {
      const cfg = {
        name: n.stream,
        subjects: [n.all],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        num_replicas: replicas,
        max_msgs_per_subject: 1,
        duplicate_window: window,
      };
      await (update ? jsm.streams.update(n.stream, cfg) : jsm.streams.add(cfg));
      return;
    }
    const main = {
      name: n.stream,
      subjects: [n.all],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: replicas,
      duplicate_window: window,
    };
    const side = { ...main, name: n.side, subjects: [n.sideAll], duplicate_window: ms(DEFAULT_DEDUPE_WINDOW) };
    if (update) {
      await jsm.streams.update(n.stream, main);
    } else {
      await jsm.streams.add(main);
      await jsm.streams.add(side);
    }
    const consumer = {
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitFor(p.lockDuration),
      max_deliver: -1,
      max_ack_pending: 20_000,
      num_replicas: 0,
    };
    if (!p.requiresSession)
      await jsm.consumers.add(n.stream, { ...consumer, durable_name: 'm', filter_subject: n.active });
    await jsm.consumers.add(n.side, { ...consumer, durable_name: 'dlq', filter_subject: n.deadLetter });
  }

  async #drop(key: string): Promise<void> {
    const keys = [key];
    const topic = this.catalog.topics.get(key);
    if (topic !== undefined) for (const sub of topic.subscriptions.values()) keys.push(sub.key);
    for (const k of keys.reverse()) {
      await this.#o.kv.delete(entityId(k));
      const n = entityNames(this.#o.namespace, k);
      await this.#o.jsm.streams.delete(n.stream).catch(() => false);
      if (topic === undefined || k !== key) await this.#o.jsm.streams.delete(n.side).catch(() => false);
    }
  }

  /** A change another node made. */
  #apply(r: EntityRecord): void {
    const c = this.catalog;
    if (r.kind === 'queue') {
      const props = r.props as unknown as QueueProperties;
      const entry = c.queues.get(r.key);
      if (entry === undefined) return void c.installQueue(props);
      entry.props = props;
      entry.queue.settings = queueSettings(props);
      entry.queue.deadLetter!.settings = deadLetterSettings(props);
    } else if (r.kind === 'topic') {
      const entry = c.topics.get(r.key);
      if (entry === undefined) c.installTopic(r.props as unknown as TopicProperties);
      else entry.props = r.props as unknown as TopicProperties;
    } else {
      const { rules, ...props } = r.props as unknown as SubscriptionProperties & { rules: RuleDescription[] };
      const topic = c.topics.get(entityKey(props.topicName));
      if (topic === undefined) return;
      const sub = topic.subscriptions.get(props.subscriptionName.toLowerCase());
      if (sub === undefined) return void c.installSubscription(topic, props, rules);
      sub.props = props;
      sub.rules = rules;
      sub.compiled = compileRules(rules);
      sub.queue.settings = queueSettings(props);
      sub.queue.deadLetter!.settings = deadLetterSettings(props);
    }
  }

  #removeById(id: string): void {
    const c = this.catalog;
    for (const [key, q] of c.queues) {
      if (entityId(key) !== id) continue;
      c.queues.delete(key);
      c.uninstall(q.queue);
      return;
    }
    for (const [key, t] of c.topics) {
      if (entityId(key) === id) {
        c.topics.delete(key);
        for (const sub of t.subscriptions.values()) c.uninstall(sub.queue);
        return;
      }
      for (const [name, sub] of t.subscriptions) {
        if (entityId(sub.key) !== id) continue;
        t.subscriptions.delete(name);
        c.uninstall(sub.queue);
        return;
      }
    }
  }
}

export function engineFailure(what: string, cause: unknown): BusError {
  if (cause instanceof BusError) return cause;
  return new BusError('BUS_ENGINE_FAILURE', `JetStream failed ${what}.`, { cause });
}
