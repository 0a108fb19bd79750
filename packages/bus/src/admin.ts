/**
 * Entity management as `bus.admin` offers it (the Azure `ServiceBusAdministrationClient`'s
 * methods): queues, topics, subscriptions, rules and runtime counts. A {@link Broker} provides
 * one; every change is durable before it resolves.
 * @module
 */
import type { EntityAddress } from './address.ts';
import type {
  EntityRuntimeProperties,
  QueueOptions,
  QueueProperties,
  SubscriptionOptions,
  SubscriptionProperties,
  TopicOptions,
  TopicProperties,
} from './entities.ts';
import type { RuleDescription } from './rules/index.ts';

/** Entity management; BUS_ENTITY_NOT_FOUND / BUS_ENTITY_EXISTS / BUS_INVALID_OPTION as Service Bus answers. */
export interface BusAdmin {
  createQueue(name: string, options?: QueueOptions): Promise<QueueProperties>;
  updateQueue(name: string, options: QueueOptions): Promise<QueueProperties>;
  getQueue(name: string): Promise<QueueProperties>;
  listQueues(): Promise<QueueProperties[]>;
  queueExists(name: string): Promise<boolean>;
  deleteQueue(name: string): Promise<void>;
  createTopic(name: string, options?: TopicOptions): Promise<TopicProperties>;
  updateTopic(name: string, options: TopicOptions): Promise<TopicProperties>;
  getTopic(name: string): Promise<TopicProperties>;
  listTopics(): Promise<TopicProperties[]>;
  topicExists(name: string): Promise<boolean>;
  deleteTopic(name: string): Promise<void>;
  createSubscription(topic: string, name: string, options?: SubscriptionOptions): Promise<SubscriptionProperties>;
  updateSubscription(topic: string, name: string, options: SubscriptionOptions): Promise<SubscriptionProperties>;
  getSubscription(topic: string, name: string): Promise<SubscriptionProperties>;
  listSubscriptions(topic: string): Promise<SubscriptionProperties[]>;
  deleteSubscription(topic: string, name: string): Promise<void>;
  /** Adds a rule (BUS_INVALID_FILTER / BUS_INVALID_ACTION when it does not compile, BUS_ENTITY_EXISTS on a duplicate name). */
  createRule(topic: string, subscription: string, rule: RuleDescription): Promise<RuleDescription>;
  deleteRule(topic: string, subscription: string, ruleName: string): Promise<void>;
  getRule(topic: string, subscription: string, ruleName: string): Promise<RuleDescription>;
  listRules(topic: string, subscription: string): Promise<RuleDescription[]>;
  /** Message counts of a queue, subscription or dead-letter queue. */
  getRuntimeProperties(address: EntityAddress): Promise<EntityRuntimeProperties>;
}
