/**
 * `bus.admin` for the in-process broker: the {@link BusAdmin} methods over its {@link Catalog},
 * refusing with BUS_CLOSED once the broker is closed.
 * @module
 */
import { type EntityAddress, entityPath } from '../address.ts';
import type { BusAdmin } from '../admin.ts';
import type {
  EntityRuntimeProperties,
  QueueOptions,
  QueueProperties,
  SubscriptionOptions,
  SubscriptionProperties,
  TopicOptions,
  TopicProperties,
} from '../entities.ts';
import { closedError } from '../errors.ts';
import type { RuleDescription } from '../rules/index.ts';
import type { Catalog } from './catalog.ts';

export class LocalAdmin implements BusAdmin {
  readonly #catalog: Catalog;
  readonly #closed: () => boolean;

  constructor(catalog: Catalog, closed: () => boolean) {
    this.#catalog = catalog;
    this.#closed = closed;
  }
  get #c(): Catalog {
    if (this.#closed()) throw closedError('bus');
    return this.#catalog;
  }
  async createQueue(name: string, options?: QueueOptions): Promise<QueueProperties> {
    return this.#c.createQueue(name, options);
  }
  async updateQueue(name: string, options: QueueOptions): Promise<QueueProperties> {
    return this.#c.updateQueue(name, options);
  }
  async getQueue(name: string): Promise<QueueProperties> {
    return this.#c.getQueue(name);
  }
  async listQueues(): Promise<QueueProperties[]> {
    return this.#c.listQueues();
  }
  async queueExists(name: string): Promise<boolean> {
    return this.#c.queues.has(String(name).toLowerCase());
  }
  async deleteQueue(name: string): Promise<void> {
    return this.#c.deleteQueue(name);
  }
  async createTopic(name: string, options?: TopicOptions): Promise<TopicProperties> {
    return this.#c.createTopic(name, options);
  }
  async updateTopic(name: string, options: TopicOptions): Promise<TopicProperties> {
    return this.#c.updateTopic(name, options);
  }
  async getTopic(name: string): Promise<TopicProperties> {
    return this.#c.getTopic(name);
  }
  async listTopics(): Promise<TopicProperties[]> {
    return this.#c.listTopics();
  }
  async topicExists(name: string): Promise<boolean> {
    return this.#c.topics.has(String(name).toLowerCase());
  }
  async deleteTopic(name: string): Promise<void> {
    return this.#c.deleteTopic(name);
  }
  async createSubscription(
    topic: string,
    name: string,
    options?: SubscriptionOptions,
  ): Promise<SubscriptionProperties> {
    return this.#c.createSubscription(topic, name, options);
  }
  async updateSubscription(topic: string, name: string, options: SubscriptionOptions): Promise<SubscriptionProperties> {
    return this.#c.updateSubscription(topic, name, options);
  }
  async getSubscription(topic: string, name: string): Promise<SubscriptionProperties> {
    return this.#c.getSubscription(topic, name);
  }
  async listSubscriptions(topic: string): Promise<SubscriptionProperties[]> {
    return this.#c.listSubscriptions(topic);
  }
  async deleteSubscription(topic: string, name: string): Promise<void> {
    return this.#c.deleteSubscription(topic, name);
  }
  async createRule(topic: string, subscription: string, rule: RuleDescription): Promise<RuleDescription> {
    return this.#c.createRule(topic, subscription, rule);
  }
  async deleteRule(topic: string, subscription: string, ruleName: string): Promise<void> {
    return this.#c.deleteRule(topic, subscription, ruleName);
  }
  async getRule(topic: string, subscription: string, ruleName: string): Promise<RuleDescription> {
    return this.#c.getRule(topic, subscription, ruleName);
  }
  async listRules(topic: string, subscription: string): Promise<RuleDescription[]> {
    return this.#c.listRules(topic, subscription);
  }
  async getRuntimeProperties(address: EntityAddress): Promise<EntityRuntimeProperties> {
    return this.#c.runtimeProperties(entityPath(address));
  }
}
