/**
 * The entity catalog of the in-process broker: queues, topics, subscriptions and rules, their
 * queue states, sequence counters and duplicate-detection history — rebuilt from the engine's
 * state on open, looked up by every operation, changed by `admin.ts` once a change is durable.
 * @module
 */
import type { EngineState, EntityRecord, StoredMessage } from '../engine/port.ts';
import {
  DEAD_LETTER_SUFFIX,
  deadLetterKey,
  entityKey,
  type QueueProperties,
  type SubscriptionProperties,
  subscriptionKey,
  type TopicProperties,
} from '../entities.ts';
import { BusError, entityNotFound } from '../errors.ts';
import type { ServiceBusMessage } from '../message.ts';
import { type EncodedMessage, encodeMessage } from '../message-codec.ts';
import { type CompiledRule, compileRule, type RuleDescription } from '../rules/index.ts';
import { type QueueSettings, QueueState, storedSize } from './queue-state.ts';

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
  readonly scheduled: ScheduledMessages;
}

/** A topic's scheduled messages by sequence number, and their {@link storedSize} total. */
export class ScheduledMessages extends Map<number, StoredMessage> {
  bytes = 0;

  override set(seq: number, msg: StoredMessage): this {
    const old = this.get(seq);
    if (old !== undefined) this.bytes -= storedSize(old);
    this.bytes += storedSize(msg);
    return super.set(seq, msg);
  }

  override delete(seq: number): boolean {
    const old = this.get(seq);
    if (old === undefined) return false;
    this.bytes -= storedSize(old);
    return super.delete(seq);
  }
}

/**
 * Bytes a queue or topic holds against its `maxSizeInMegabytes`: a queue's messages and its
 * dead-letter queue's; a topic's scheduled messages and every subscription's copies and DLQ.
 */
export function heldBytes(target: QueueEntry | TopicEntry): number {
  const held = (q: QueueState | undefined): number => (q === undefined ? 0 : q.bytes + q.parkedBytes);
  if (target.kind === 'queue') return held(target.queue) + held(target.queue.deadLetter);
  let n = target.scheduled.bytes;
  for (const sub of target.subscriptions.values()) n += held(sub.queue) + held(sub.queue.deadLetter);
  return n;
}

/**
 * A send's messages encoded and checked against the queue or topic they go to, whichever broker
 * stores them: an array, each within `maxMessageSizeInKilobytes`, a session id on a
 * session-enabled queue. Throws BUS_INVALID_MESSAGE / BUS_MESSAGE_TOO_LARGE naming the message.
 */
export function encodeForSend(
  target: QueueEntry | TopicEntry,
  entity: string,
  messages: readonly ServiceBusMessage[],
): EncodedMessage[] {
  if (!Array.isArray(messages)) {
    throw new BusError('BUS_INVALID_MESSAGE', 'messages: must be an array', { detail: { field: 'messages' } });
  }
  const max = target.props.maxMessageSizeInKilobytes * 1024;
  const encoded: EncodedMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const e = encodeMessage(messages[i]!);
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
  return encoded;
}

export interface CatalogHooks {
  onQueueRemoved(queue: QueueState): void;
  onScheduled(key: string, seq: number, at: number): void;
}

export function compileRules(rules: readonly RuleDescription[]): SubscriptionEntry['compiled'] {
  return rules.map((r) => ({ rule: compileRule(r), isTrue: r.filter.kind === 'true' && r.action === undefined }));
}

export function queueSettings(p: QueueProperties | SubscriptionProperties): QueueSettings {
  return {
    lockDuration: p.lockDuration,
    maxDeliveryCount: p.maxDeliveryCount,
    deadLetteringOnMessageExpiration: p.deadLetteringOnMessageExpiration,
    requiresSession: p.requiresSession,
    forwardDeadLetteredMessagesTo: p.forwardDeadLetteredMessagesTo,
  };
}

export function deadLetterSettings(p: QueueProperties | SubscriptionProperties): QueueSettings {
  return {
    lockDuration: p.lockDuration,
    maxDeliveryCount: Number.POSITIVE_INFINITY,
    deadLetteringOnMessageExpiration: false,
    requiresSession: false,
    forwardDeadLetteredMessagesTo: undefined,
  };
}

export class Catalog {
  readonly queues = new Map<string, QueueEntry>();
  readonly topics = new Map<string, TopicEntry>();
  /** The state of every queue a receiver can read, by key: queues, subscriptions and their dead-letter queues. */
  readonly queueStates = new Map<string, QueueState>();
  readonly #sequences = new Map<string, number>();
  readonly #dedupe = new Map<string, Map<string, number>>();
  readonly #pruneAt = new Map<string, number>();
  readonly #hooks: CatalogHooks;

  constructor(hooks: CatalogHooks) {
    this.#hooks = hooks;
  }

  // ── recovery ────────────────────────────────────────────────────────────────────────────────

  restore(state: EngineState): void {
    const subs: EntityRecord[] = [];
    for (const r of state.entities) {
      if (r.kind === 'queue') this.installQueue(r.props as unknown as QueueProperties);
      else if (r.kind === 'topic') this.installTopic(r.props as unknown as TopicProperties);
      else subs.push(r);
    }
    for (const r of subs) {
      const { rules, ...props } = r.props as unknown as SubscriptionProperties & { rules: RuleDescription[] };
      const topic = this.topics.get(entityKey(props.topicName));
      if (topic === undefined) continue;
      let usable = rules;
      try {
        compileRules(rules);
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
      this.installSubscription(topic, props, usable);
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

  /** The queue or topic whose `maxSizeInMegabytes` a message stored under `entity` counts against. */
  quotaOwner(entity: string): QueueEntry | TopicEntry | undefined {
    let owner = entity.endsWith(DEAD_LETTER_SUFFIX) ? entity.slice(0, -DEAD_LETTER_SUFFIX.length) : entity;
    const sub = owner.lastIndexOf('/subscriptions/');
    if (sub > 0 && !this.queues.has(owner)) owner = owner.slice(0, sub);
    return this.queues.get(owner) ?? this.topics.get(owner);
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

  installQueue(props: QueueProperties): QueueEntry {
    const key = entityKey(props.name);
    const queue = new QueueState(key, props.name, queueSettings(props), false);
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

  installTopic(props: TopicProperties): TopicEntry {
    const key = entityKey(props.name);
    const entry: TopicEntry = {
      kind: 'topic',
      key,
      props,
      subscriptions: new Map(),
      scheduled: new ScheduledMessages(),
    };
    this.topics.set(key, entry);
    return entry;
  }

  installSubscription(topic: TopicEntry, props: SubscriptionProperties, rules: RuleDescription[]): SubscriptionEntry {
    const key = subscriptionKey(topic.props.name, props.subscriptionName);
    const path = `${topic.props.name}/Subscriptions/${props.subscriptionName}`;
    const queue = new QueueState(key, path, queueSettings(props), false);
    queue.deadLetter = new QueueState(deadLetterKey(key), `${path}/$DeadLetterQueue`, deadLetterSettings(props), true);
    const entry: SubscriptionEntry = { key, props, rules, compiled: compileRules(rules), queue };
    topic.subscriptions.set(props.subscriptionName.toLowerCase(), entry);
    this.queueStates.set(key, queue);
    this.queueStates.set(queue.deadLetter.key, queue.deadLetter);
    return entry;
  }

  /** Takes a queue state (and its dead-letter queue's) out: its entity was deleted. */
  uninstall(queue: QueueState): void {
    this.queueStates.delete(queue.key);
    this.#hooks.onQueueRemoved(queue);
    if (queue.deadLetter !== undefined) {
      this.queueStates.delete(queue.deadLetter.key);
      this.#hooks.onQueueRemoved(queue.deadLetter);
    }
  }

  // ── lookups used by admin ───────────────────────────────────────────────────────────────────

  /** The queue named `name`; BUS_ENTITY_NOT_FOUND. */
  queue(name: string): QueueEntry {
    const entry = typeof name === 'string' ? this.queues.get(entityKey(name)) : undefined;
    if (entry === undefined) throw entityNotFound(String(name));
    return entry;
  }

  /** The topic named `name`; BUS_ENTITY_NOT_FOUND. */
  topic(name: string): TopicEntry {
    const entry = typeof name === 'string' ? this.topics.get(entityKey(name)) : undefined;
    if (entry === undefined) throw entityNotFound(String(name));
    return entry;
  }

  /** A subscription and its topic; BUS_ENTITY_NOT_FOUND. */
  subscription(topicName: string, name: string): { topic: TopicEntry; sub: SubscriptionEntry } {
    const topic = this.topic(topicName);
    const sub = typeof name === 'string' ? topic.subscriptions.get(name.toLowerCase()) : undefined;
    if (sub === undefined) throw entityNotFound(`${topicName}/Subscriptions/${String(name)}`);
    return { topic, sub };
  }

  /** Forgets the duplicate-detection history of a deleted queue or topic. */
  forgetDedupe(key: string): void {
    this.#dedupe.delete(key);
  }
}
