/**
 * `bus.admin` of the in-process broker: creating, changing and deleting queues, topics,
 * subscriptions and rules — each change written to the engine before it applies to the
 * {@link Catalog} — and runtime counts. Refuses with BUS_CLOSED once the broker is closed.
 * @module
 */
import type { Clock } from '@hubbub/kernel';
import { type EntityAddress, entityPath } from '../address.ts';
import type { BusAdmin } from '../admin.ts';
import type { BusEngine } from '../engine/port.ts';
import {
  checkShortName,
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
import { BusError, closedError, entityExists, entityNotFound } from '../errors.ts';
import { compileRule, type RuleDescription } from '../rules/index.ts';
import { type Catalog, compileRules, deadLetterSettings, queueSettings, type TopicEntry } from './catalog.ts';

const DEFAULT_RULE: RuleDescription = { name: '$Default', filter: { kind: 'true' } };

// biome-ignore lint/suspicious/noExplicitAny: entity props are plain option bags here
const withoutIdentity = (p: object): any => {
  const { name: _n, topicName: _t, subscriptionName: _s, createdAt: _c, ...rest } = p as Record<string, unknown>;
  return rest;
};

export class LocalAdmin implements BusAdmin {
  readonly #catalog: Catalog;
  readonly #engine: BusEngine;
  readonly #clock: Clock;
  readonly #closed: () => boolean;

  constructor(catalog: Catalog, engine: BusEngine, clock: Clock, closed: () => boolean) {
    this.#catalog = catalog;
    this.#engine = engine;
    this.#clock = clock;
    this.#closed = closed;
  }

  #check(): void {
    if (this.#closed()) throw closedError('bus');
  }

  // ── queues ──────────────────────────────────────────────────────────────────────────────────

  async createQueue(name: string, options: QueueOptions = {}): Promise<QueueProperties> {
    this.#check();
    const props = queueProperties(name, options, new Date(this.#clock.now()));
    const key = entityKey(name);
    if (this.#catalog.queues.has(key) || this.#catalog.topics.has(key)) throw entityExists(name);
    await this.#engine.write([{ op: 'entity', entity: { key, kind: 'queue', props: { ...props } } }]);
    if (this.#catalog.queues.has(key) || this.#catalog.topics.has(key)) throw entityExists(name);
    return this.#catalog.installQueue(props).props;
  }

  async updateQueue(name: string, options: QueueOptions): Promise<QueueProperties> {
    this.#check();
    const entry = this.#catalog.queue(name);
    const props = queueProperties(
      entry.props.name,
      { ...withoutIdentity(entry.props), ...options },
      entry.props.createdAt,
    );
    await this.#engine.write([{ op: 'entity', entity: { key: entry.key, kind: 'queue', props: { ...props } } }]);
    entry.props = props;
    entry.queue.settings = queueSettings(props);
    entry.queue.deadLetter!.settings = deadLetterSettings(props);
    return props;
  }

  async getQueue(name: string): Promise<QueueProperties> {
    this.#check();
    return this.#catalog.queue(name).props;
  }

  async listQueues(): Promise<QueueProperties[]> {
    this.#check();
    return [...this.#catalog.queues.values()].map((q) => q.props);
  }

  async queueExists(name: string): Promise<boolean> {
    this.#check();
    return this.#catalog.queues.has(String(name).toLowerCase());
  }

  async deleteQueue(name: string): Promise<void> {
    this.#check();
    const entry = this.#catalog.queue(name);
    await this.#engine.write([{ op: 'drop', key: entry.key }]);
    this.#catalog.queues.delete(entry.key);
    this.#catalog.forgetDedupe(entry.key);
    this.#catalog.uninstall(entry.queue);
  }

  // ── topics ──────────────────────────────────────────────────────────────────────────────────

  async createTopic(name: string, options: TopicOptions = {}): Promise<TopicProperties> {
    this.#check();
    const props = topicProperties(name, options, new Date(this.#clock.now()));
    const key = entityKey(name);
    if (this.#catalog.queues.has(key) || this.#catalog.topics.has(key)) throw entityExists(name);
    await this.#engine.write([{ op: 'entity', entity: { key, kind: 'topic', props: { ...props } } }]);
    if (this.#catalog.queues.has(key) || this.#catalog.topics.has(key)) throw entityExists(name);
    return this.#catalog.installTopic(props).props;
  }

  async updateTopic(name: string, options: TopicOptions): Promise<TopicProperties> {
    this.#check();
    const entry = this.#catalog.topic(name);
    const props = topicProperties(
      entry.props.name,
      { ...withoutIdentity(entry.props), ...options },
      entry.props.createdAt,
    );
    await this.#engine.write([{ op: 'entity', entity: { key: entry.key, kind: 'topic', props: { ...props } } }]);
    entry.props = props;
    return props;
  }

  async getTopic(name: string): Promise<TopicProperties> {
    this.#check();
    return this.#catalog.topic(name).props;
  }

  async listTopics(): Promise<TopicProperties[]> {
    this.#check();
    return [...this.#catalog.topics.values()].map((t) => t.props);
  }

  async topicExists(name: string): Promise<boolean> {
    this.#check();
    return this.#catalog.topics.has(String(name).toLowerCase());
  }

  async deleteTopic(name: string): Promise<void> {
    this.#check();
    const entry = this.#catalog.topic(name);
    await this.#engine.write([{ op: 'drop', key: entry.key }]);
    this.#catalog.topics.delete(entry.key);
    this.#catalog.forgetDedupe(entry.key);
    for (const sub of entry.subscriptions.values()) this.#catalog.uninstall(sub.queue);
  }

  // ── subscriptions ───────────────────────────────────────────────────────────────────────────

  async createSubscription(
    topicName: string,
    name: string,
    options: SubscriptionOptions = {},
  ): Promise<SubscriptionProperties> {
    this.#check();
    const topic = this.#catalog.topic(topicName);
    const { rules: given, ...rest } = options;
    const props = subscriptionProperties(topic.props.name, name, rest, new Date(this.#clock.now()));
    const rules = given === undefined || given.length === 0 ? [DEFAULT_RULE] : given.map(cloneRule);
    compileRules(rules);
    checkUniqueRules(rules);
    if (topic.subscriptions.has(name.toLowerCase())) throw entityExists(`${topicName}/Subscriptions/${name}`);
    await this.#writeSubscription(topic, props, rules);
    if (topic.subscriptions.has(name.toLowerCase())) throw entityExists(`${topicName}/Subscriptions/${name}`);
    return this.#catalog.installSubscription(topic, props, rules).props;
  }

  async updateSubscription(
    topicName: string,
    name: string,
    options: SubscriptionOptions,
  ): Promise<SubscriptionProperties> {
    this.#check();
    const { topic, sub } = this.#catalog.subscription(topicName, name);
    const { rules: _ignored, ...rest } = options;
    const props = subscriptionProperties(
      topic.props.name,
      sub.props.subscriptionName,
      { ...withoutIdentity(sub.props), ...rest },
      sub.props.createdAt,
    );
    await this.#writeSubscription(topic, props, sub.rules);
    sub.props = props;
    sub.queue.settings = queueSettings(props);
    sub.queue.deadLetter!.settings = deadLetterSettings(props);
    return props;
  }

  async getSubscription(topicName: string, name: string): Promise<SubscriptionProperties> {
    this.#check();
    return this.#catalog.subscription(topicName, name).sub.props;
  }

  async listSubscriptions(topicName: string): Promise<SubscriptionProperties[]> {
    this.#check();
    return [...this.#catalog.topic(topicName).subscriptions.values()].map((s) => s.props);
  }

  async deleteSubscription(topicName: string, name: string): Promise<void> {
    this.#check();
    const { topic, sub } = this.#catalog.subscription(topicName, name);
    await this.#engine.write([{ op: 'drop', key: sub.key }]);
    topic.subscriptions.delete(sub.props.subscriptionName.toLowerCase());
    this.#catalog.uninstall(sub.queue);
  }

  #writeSubscription(topic: TopicEntry, props: SubscriptionProperties, rules: RuleDescription[]): Promise<void> {
    const key = subscriptionKey(topic.props.name, props.subscriptionName);
    return this.#engine.write([{ op: 'entity', entity: { key, kind: 'subscription', props: { ...props, rules } } }]);
  }

  // ── rules ───────────────────────────────────────────────────────────────────────────────────

  async createRule(topicName: string, subscription: string, rule: RuleDescription): Promise<RuleDescription> {
    this.#check();
    const { topic, sub } = this.#catalog.subscription(topicName, subscription);
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
    this.#check();
    const { topic, sub } = this.#catalog.subscription(topicName, subscription);
    const i = sub.rules.findIndex((r) => r.name.toLowerCase() === String(ruleName).toLowerCase());
    if (i < 0) throw entityNotFound(`${sub.queue.path}/Rules/${String(ruleName)}`);
    const rules = sub.rules.filter((_, j) => j !== i);
    await this.#writeSubscription(topic, sub.props, rules);
    sub.rules = rules;
    sub.compiled = sub.compiled.filter((_, j) => j !== i);
  }

  async getRule(topicName: string, subscription: string, ruleName: string): Promise<RuleDescription> {
    this.#check();
    const { sub } = this.#catalog.subscription(topicName, subscription);
    const rule = sub.rules.find((r) => r.name.toLowerCase() === String(ruleName).toLowerCase());
    if (rule === undefined) throw entityNotFound(`${sub.queue.path}/Rules/${String(ruleName)}`);
    return rule;
  }

  async listRules(topicName: string, subscription: string): Promise<RuleDescription[]> {
    this.#check();
    return [...this.#catalog.subscription(topicName, subscription).sub.rules];
  }

  // ── runtime ────────────────────────────────────────────────────────────────────────

  async getRuntimeProperties(address: EntityAddress): Promise<EntityRuntimeProperties> {
    this.#check();
    const queue = this.#catalog.receivable(entityPath(address));
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
