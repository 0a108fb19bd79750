/**
 * The entity catalog: queues, topics, subscriptions and rules, their queue states, sequence counters
 * and duplicate-detection history. Admin changes are written to the engine before they apply.
 * @module
 */
import type { Clock } from '@hubbub/kernel';
import type { BusEngine, EngineState, EntityRecord, StoredMessage } from '../engine/port.ts';
import {
  checkShortName,
  DEAD_LETTER_SUFFIX,
  deadLetterKey,
  type EntityRuntimeProperties,
  entityKey,
  type QueueOptions,
  type QueueProperties,
  queueProperties,
  type SubscriptionOptions,
  type SubscriptionProperties,
  subscriptionKey,
  subscriptionProperties,
  type TopicOptions,
  type TopicProperties,
  topicProperties,
} from '../entities.ts';
import { BusError, entityExists, entityNotFound } from '../errors.ts';
import { type CompiledRule, compileRule, type RuleDescription } from '../rules/index.ts';
import { type QueueSettings, QueueState } from './queue-state.ts';

export interface QueueEntry {
  readonly kind: 'queue';
  readonly key: string;
  props: QueueProperties;
  readonly queue: QueueState;
}

export interface SubscriptionEntry {
  readonly key: string;
  props: SubscriptionProperties;
  rules: RuleDescription[];
  compiled: Array<{ rule: CompiledRule; isTrue: boolean }>;
  readonly queue: QueueState;
}

export interface TopicEntry {
  readonly kind: 'topic';
  readonly key: string;
  props: TopicProperties;
  readonly subscriptions: Map<string, SubscriptionEntry>;
  /** Scheduled messages held at topic level until due. */
  readonly scheduled: Map<number, StoredMessage>;
}

export interface CatalogHooks {
  onQueueRemoved(queue: QueueState): void;
  onScheduled(key: string, seq: number, at: number): void;
}

export const DEFAULT_RULE: RuleDescription = { name: '$Default', filter: { kind: 'true' } };

function compile(rules: readonly RuleDescription[]): SubscriptionEntry['compiled'] {
  return rules.map((r) => ({ rule: compileRule(r), isTrue: r.filter.kind === 'true' && r.action === undefined }));
}

function settings(p: QueueProperties | SubscriptionProperties): QueueSettings {
  return {
    lockDuration: p.lockDuration,
    maxDeliveryCount: p.maxDeliveryCount,
    deadLetteringOnMessageExpiration: p.deadLetteringOnMessageExpiration,
    requiresSession: p.requiresSession,
    forwardDeadLetteredMessagesTo: p.forwardDeadLetteredMessagesTo,
  };
}

function deadLetterSettings(p: QueueProperties | SubscriptionProperties): QueueSettings {
  return {
    lockDuration: p.lockDuration,
    maxDeliveryCount: Number.POSITIVE_INFINITY,
    deadLetteringOnMessageExpiration: false,
    requiresSession: false,
    forwardDeadLetteredMessagesTo: undefined,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: entity props are plain option bags here
const withoutIdentity = (p: object): any => {
  const { name: _n, topicName: _t, subscriptionName: _s, createdAt: _c, ...rest } = p as Record<string, unknown>;
  return rest;
};

export class Catalog {
  readonly queues = new Map<string, QueueEntry>();
  readonly topics = new Map<string, TopicEntry>();
  /** The state of every queue a receiver can read, by key: queues, subscriptions and their dead-letter queues. */
  readonly queueStates = new Map<string, QueueState>();
  readonly #sequences = new Map<string, number>();
  readonly #dedupe = new Map<string, Map<string, number>>();
  readonly #pruneAt = new Map<string, number>();
  readonly #engine: BusEngine;
  readonly #clock: Clock;
  readonly #hooks: CatalogHooks;

  constructor(engine: BusEngine, clock: Clock, hooks: CatalogHooks) {
    this.#engine = engine;
    this.#clock = clock;
    this.#hooks = hooks;
  }

  // ── recovery ────────────────────────────────────────────────────────────────────────────────

  restore(state: EngineState): void {
    const subs: EntityRecord[] = [];
    for (const r of state.entities) {
      if (r.kind === 'queue') this.#installQueue(r.props as unknown as QueueProperties);
      else if (r.kind === 'topic') this.#installTopic(r.props as unknown as TopicProperties);
      else subs.push(r);
    }
    for (const r of subs) {
      const { rules, ...props } = r.props as unknown as SubscriptionProperties & { rules: RuleDescription[] };
      const topic = this.topics.get(entityKey(props.topicName));
      if (topic === undefined) continue;
      let usable = rules;
      try {
        compile(rules);
      } catch {
        usable = rules.filter((rule) => {
          try {
            compileRule(rule);
            return true;
          } catch {
            return false; // a rule the current rules module rejects is skipped, not fatal
          }
        });
      }
      this.#installSubscription(topic, props, usable);
    }
    for (const [key, seq] of Object.entries(state.sequences)) {
      // Sequence numbers belong to queues and topics; DLQs and subscriptions carry their owner's.
      let owner = key.endsWith(DEAD_LETTER_SUFFIX) ? key.slice(0, -DEAD_LETTER_SUFFIX.length) : key;
      const sub = owner.lastIndexOf('/subscriptions/');
      if (sub > 0) owner = owner.slice(0, sub);
      if (seq > (this.#sequences.get(owner) ?? 0)) this.#sequences.set(owner, seq);
    }
    for (const msg of state.messages) {
      const queue = this.queueStates.get(msg.entity);
      if (queue !== undefined) {
        queue.insert(msg);
        if (msg.state === 'scheduled') this.#hooks.onScheduled(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
        continue;
      }
      const topic = this.topics.get(msg.entity);
      if (topic !== undefined && msg.state === 'scheduled') {
        topic.scheduled.set(msg.seq, msg);
        this.#hooks.onScheduled(msg.entity, msg.seq, msg.scheduledEnqueueTime ?? 0);
      }
    }
    for (const s of state.sessions) {
      const queue = this.queueStates.get(s.entity);
      if (queue !== undefined) queue.session(s.sessionId).state = s.state;
    }
    for (const d of state.dedupe) this.dedupe(d.entity).set(d.messageId, d.until);
  }

  // ── lookups used by the broker ──────────────────────────────────────────────────────────────

  sendTarget(name: string): QueueEntry | TopicEntry {
    const key = typeof name === 'string' ? entityKey(name) : '';
    const target = this.queues.get(key) ?? this.topics.get(key);
    if (target === undefined) throw entityNotFound(String(name));
    return target;
  }

  entityKeyOf(name: string): string | undefined {
    const key = entityKey(name);
    return this.queues.has(key) || this.topics.has(key) ? key : undefined;
  }

  receivable(path: string): QueueState {
    const queue = typeof path === 'string' ? this.queueStates.get(path.toLowerCase()) : undefined;
    if (queue === undefined) throw entityNotFound(String(path));
    return queue;
  }

  /** Next sequence number of a queue or topic (subscriptions share their topic's). */
  nextSeq(key: string): number {
    const n = (this.#sequences.get(key) ?? 0) + 1;
    this.#sequences.set(key, n);
    return n;
  }

  dedupe(key: string): Map<string, number> {
    let map = this.#dedupe.get(key);
    if (map === undefined) {
      map = new Map();
      this.#dedupe.set(key, map);
    }
    return map;
  }

  /** Drops expired history entries, amortised: only once the map doubled since the last pass. */
  maybePruneDedupe(key: string, now: number): void {
    const map = this.#dedupe.get(key);
    if (map === undefined || map.size < (this.#pruneAt.get(key) ?? 10_000)) return;
    for (const [id, until] of map) if (until <= now) map.delete(id);
    this.#pruneAt.set(key, Math.max(10_000, map.size * 2));
  }

  // ── install / uninstall ─────────────────────────────────────────────────────────────────────

  #installQueue(props: QueueProperties): QueueEntry {
    const key = entityKey(props.name);
    const queue = new QueueState(key, props.name, settings(props), false);
    queue.deadLetter = new QueueState(
      deadLetterKey(key),
      `${props.name}/$DeadLetterQueue`,
      deadLetterSettings(props),
      true,
    );
    const entry: QueueEntry = { kind: 'queue', key, props, queue };
    this.queues.set(key, entry);
    this.queueStates.set(key, queue);
    this.queueStates.set(queue.deadLetter.key, queue.deadLetter);
    return entry;
  }

  #installTopic(props: TopicProperties): TopicEntry {
    const key = entityKey(props.name);
    const entry: TopicEntry = { kind: 'topic', key, props, subscriptions: new Map(), scheduled: new Map() };
    this.topics.set(key, entry);
    return entry;
  }

  #installSubscription(topic: TopicEntry, props: SubscriptionProperties, rules: RuleDescription[]): SubscriptionEntry {
    const key = subscriptionKey(topic.props.name, props.subscriptionName);
    const path = `${topic.props.name}/Subscriptions/${props.subscriptionName}`;
    const queue = new QueueState(key, path, settings(props), false);
    queue.deadLetter = new QueueState(deadLetterKey(key), `${path}/$DeadLetterQueue`, deadLetterSettings(props), true);
    const entry: SubscriptionEntry = { key, props, rules, compiled: compile(rules), queue };
    topic.subscriptions.set(props.subscriptionName.toLowerCase(), entry);
    this.queueStates.set(key, queue);
    this.queueStates.set(queue.deadLetter.key, queue.deadLetter);
    return entry;
  }

  #removeQueue(queue: QueueState): void {
    this.queueStates.delete(queue.key);
    this.#hooks.onQueueRemoved(queue);
    if (queue.deadLetter !== undefined) {
      this.queueStates.delete(queue.deadLetter.key);
      this.#hooks.onQueueRemoved(queue.deadLetter);
    }
  }

  // ── queues ──────────────────────────────────────────────────────────────────────────────────

  async createQueue(name: string, options: QueueOptions = {}): Promise<QueueProperties> {
    const props = queueProperties(name, options, new Date(this.#clock.now()));
    const key = entityKey(name);
    if (this.queues.has(key) || this.topics.has(key)) throw entityExists(name);
    await this.#engine.write([{ op: 'entity', entity: { key, kind: 'queue', props: { ...props } } }]);
    if (this.queues.has(key) || this.topics.has(key)) throw entityExists(name);
    return this.#installQueue(props).props;
  }

  async updateQueue(name: string, options: QueueOptions): Promise<QueueProperties> {
    const entry = this.#queue(name);
    const props = queueProperties(
      entry.props.name,
      { ...withoutIdentity(entry.props), ...options },
      entry.props.createdAt,
    );
    await this.#engine.write([{ op: 'entity', entity: { key: entry.key, kind: 'queue', props: { ...props } } }]);
    entry.props = props;
    entry.queue.settings = settings(props);
    entry.queue.deadLetter!.settings = deadLetterSettings(props);
    return props;
  }

  getQueue(name: string): QueueProperties {
    return this.#queue(name).props;
  }

  listQueues(): QueueProperties[] {
    return [...this.queues.values()].map((q) => q.props);
  }

  async deleteQueue(name: string): Promise<void> {
    const entry = this.#queue(name);
    await this.#engine.write([{ op: 'drop', key: entry.key }]);
    this.queues.delete(entry.key);
    this.#dedupe.delete(entry.key);
    this.#removeQueue(entry.queue);
  }

  #queue(name: string): QueueEntry {
    const entry = typeof name === 'string' ? this.queues.get(entityKey(name)) : undefined;
    if (entry === undefined) throw entityNotFound(String(name));
    return entry;
  }

  // ── topics ──────────────────────────────────────────────────────────────────────────────────

  async createTopic(name: string, options: TopicOptions = {}): Promise<TopicProperties> {
    const props = topicProperties(name, options, new Date(this.#clock.now()));
    const key = entityKey(name);
    if (this.queues.has(key) || this.topics.has(key)) throw entityExists(name);
    await this.#engine.write([{ op: 'entity', entity: { key, kind: 'topic', props: { ...props } } }]);
    if (this.queues.has(key) || this.topics.has(key)) throw entityExists(name);
    return this.#installTopic(props).props;
  }

  async updateTopic(name: string, options: TopicOptions): Promise<TopicProperties> {
    const entry = this.#topic(name);
    const props = topicProperties(
      entry.props.name,
      { ...withoutIdentity(entry.props), ...options },
      entry.props.createdAt,
    );
    await this.#engine.write([{ op: 'entity', entity: { key: entry.key, kind: 'topic', props: { ...props } } }]);
    entry.props = props;
    return props;
  }

  getTopic(name: string): TopicProperties {
    return this.#topic(name).props;
  }

  listTopics(): TopicProperties[] {
    return [...this.topics.values()].map((t) => t.props);
  }

  async deleteTopic(name: string): Promise<void> {
    const entry = this.#topic(name);
    await this.#engine.write([{ op: 'drop', key: entry.key }]);
    this.topics.delete(entry.key);
    this.#dedupe.delete(entry.key);
    for (const sub of entry.subscriptions.values()) this.#removeQueue(sub.queue);
  }

  #topic(name: string): TopicEntry {
    const entry = typeof name === 'string' ? this.topics.get(entityKey(name)) : undefined;
    if (entry === undefined) throw entityNotFound(String(name));
    return entry;
  }

  // ── subscriptions ───────────────────────────────────────────────────────────────────────────

  async createSubscription(
    topicName: string,
    name: string,
    options: SubscriptionOptions = {},
  ): Promise<SubscriptionProperties> {
    const topic = this.#topic(topicName);
    const { rules: given, ...rest } = options;
    const props = subscriptionProperties(topic.props.name, name, rest, new Date(this.#clock.now()));
    const rules = given === undefined || given.length === 0 ? [DEFAULT_RULE] : given.map(cloneRule);
    compile(rules);
    checkUniqueRules(rules);
    if (topic.subscriptions.has(name.toLowerCase())) throw entityExists(`${topicName}/Subscriptions/${name}`);
    await this.#writeSubscription(topic, props, rules);
    if (topic.subscriptions.has(name.toLowerCase())) throw entityExists(`${topicName}/Subscriptions/${name}`);
    return this.#installSubscription(topic, props, rules).props;
  }

  async updateSubscription(
    topicName: string,
    name: string,
    options: SubscriptionOptions,
  ): Promise<SubscriptionProperties> {
    const { topic, sub } = this.#subscription(topicName, name);
    const { rules: _ignored, ...rest } = options;
    const props = subscriptionProperties(
      topic.props.name,
      sub.props.subscriptionName,
      { ...withoutIdentity(sub.props), ...rest },
      sub.props.createdAt,
    );
    await this.#writeSubscription(topic, props, sub.rules);
    sub.props = props;
    sub.queue.settings = settings(props);
    sub.queue.deadLetter!.settings = deadLetterSettings(props);
    return props;
  }

  getSubscription(topicName: string, name: string): SubscriptionProperties {
    return this.#subscription(topicName, name).sub.props;
  }

  listSubscriptions(topicName: string): SubscriptionProperties[] {
    return [...this.#topic(topicName).subscriptions.values()].map((s) => s.props);
  }

  async deleteSubscription(topicName: string, name: string): Promise<void> {
    const { topic, sub } = this.#subscription(topicName, name);
    await this.#engine.write([{ op: 'drop', key: sub.key }]);
    topic.subscriptions.delete(sub.props.subscriptionName.toLowerCase());
    this.#removeQueue(sub.queue);
  }

  #subscription(topicName: string, name: string): { topic: TopicEntry; sub: SubscriptionEntry } {
    const topic = this.#topic(topicName);
    const sub = typeof name === 'string' ? topic.subscriptions.get(name.toLowerCase()) : undefined;
    if (sub === undefined) throw entityNotFound(`${topicName}/Subscriptions/${String(name)}`);
    return { topic, sub };
  }

  #writeSubscription(topic: TopicEntry, props: SubscriptionProperties, rules: RuleDescription[]): Promise<void> {
    const key = subscriptionKey(topic.props.name, props.subscriptionName);
    return this.#engine.write([{ op: 'entity', entity: { key, kind: 'subscription', props: { ...props, rules } } }]);
  }

  // ── rules ───────────────────────────────────────────────────────────────────────────────────

  async createRule(topicName: string, subscription: string, rule: RuleDescription): Promise<RuleDescription> {
    const { topic, sub } = this.#subscription(topicName, subscription);
    if (rule === null || typeof rule !== 'object') {
      throw new BusError('BUS_INVALID_FILTER', 'A rule must be an object with a name and a filter.');
    }
    checkShortName(rule.name, 'rule');
    const copy = cloneRule(rule);
    const compiled = compileRule(copy);
    if (sub.rules.some((r) => r.name.toLowerCase() === rule.name.toLowerCase())) {
      throw entityExists(`${sub.queue.path}/Rules/${rule.name}`);
    }
    const rules = [...sub.rules, copy];
    await this.#writeSubscription(topic, sub.props, rules);
    sub.rules = rules;
    sub.compiled = [
      ...sub.compiled,
      { rule: compiled, isTrue: copy.filter.kind === 'true' && copy.action === undefined },
    ];
    return copy;
  }

  async deleteRule(topicName: string, subscription: string, ruleName: string): Promise<void> {
    const { topic, sub } = this.#subscription(topicName, subscription);
    const i = sub.rules.findIndex((r) => r.name.toLowerCase() === String(ruleName).toLowerCase());
    if (i < 0) throw entityNotFound(`${sub.queue.path}/Rules/${String(ruleName)}`);
    const rules = sub.rules.filter((_, j) => j !== i);
    await this.#writeSubscription(topic, sub.props, rules);
    sub.rules = rules;
    sub.compiled = sub.compiled.filter((_, j) => j !== i);
  }

  getRule(topicName: string, subscription: string, ruleName: string): RuleDescription {
    const { sub } = this.#subscription(topicName, subscription);
    const rule = sub.rules.find((r) => r.name.toLowerCase() === String(ruleName).toLowerCase());
    if (rule === undefined) throw entityNotFound(`${sub.queue.path}/Rules/${String(ruleName)}`);
    return rule;
  }

  listRules(topicName: string, subscription: string): RuleDescription[] {
    return [...this.#subscription(topicName, subscription).sub.rules];
  }

  // ── runtime ────────────────────────────────────────────────────────────────────────

  runtimeProperties(path: string): EntityRuntimeProperties {
    const queue = this.receivable(path);
    const c = queue.counts();
    const dead = queue.deadLetter?.messages.size ?? 0;
    return {
      path: queue.path,
      activeMessageCount: c.active,
      scheduledMessageCount: c.scheduled,
      deferredMessageCount: c.deferred,
      deadLetterMessageCount: dead,
      lockedMessageCount: queue.lockedCount,
      totalMessageCount: queue.messages.size + dead,
    };
  }
}

function cloneRule(rule: RuleDescription): RuleDescription {
  const filter = { ...rule.filter } as RuleDescription['filter'];
  return rule.action === undefined
    ? { name: rule.name, filter }
    : { name: rule.name, filter, action: { ...rule.action } };
}

function checkUniqueRules(rules: readonly RuleDescription[]): void {
  const seen = new Set<string>();
  for (const r of rules) {
    checkShortName(r.name, 'rule');
    const k = r.name.toLowerCase();
    if (seen.has(k)) throw entityExists(`rule ${r.name}`);
    seen.add(k);
  }
}
