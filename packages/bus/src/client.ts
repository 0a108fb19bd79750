/**
 * `createBus({ url })`: the bus as a library — senders, receivers, session receivers, processors
 * and admin, over a broker on the engine the URL names (`memory://`, `file://DIR`).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { type Clock, type IdSource, systemClock, type TypedEmitter } from '@hubbub/kernel';
import { Broker, type BusEvents, type Visibility } from './broker/local-broker.ts';
import { fromEmulatorConfig } from './config.ts';
import type { BusEngine } from './engine/port.ts';
import type {
  EntitiesConfig,
  EntityRuntimeProperties,
  QueueOptions,
  QueueProperties,
  SubscriptionOptions,
  SubscriptionProperties,
  TopicOptions,
  TopicProperties,
} from './entities.ts';
import { BusError, closedError } from './errors.ts';
import type { ServiceBusMessage } from './message.ts';
import {
  createProcessor,
  createSessionProcessor,
  type MessageHandler,
  type Processor,
  type ProcessorOptions,
  type SessionProcessorOptions,
} from './processor.ts';
import { Receiver, type ReceiverOptions, SessionReceiver } from './receiver.ts';
import type { RuleDescription } from './rules/index.ts';

export interface BusOptions {
  /** `memory://` or `file://DIR` (relative to the working directory, or `file:///abs`). @default 'memory://' */
  url?: string;
  /** An engine instance; overrides `url` (e.g. a NATS engine from another package). */
  engine?: BusEngine;
  /** Entities created at start when missing. */
  entities?: EntitiesConfig;
  /** JSON file of entities: `{queues, topics}` or the Service Bus emulator's Config.json. */
  configFile?: string;
  /** @default systemClock */
  clock?: Clock;
  /** Lock tokens and generated message ids. @default randomIds */
  ids?: IdSource;
  /**
   * When a sent message becomes receivable: `accepted` (at once, while its write is on its way to
   * disk) or `durable` (once it is). Senders are acknowledged once durable either way. @default 'accepted'
   */
  visibility?: Visibility;
}

/** Where a receiver reads from. */
export type EntityAddress =
  | string
  | { queue: string; subQueue?: 'deadLetter' }
  | { topic: string; subscription: string; subQueue?: 'deadLetter' };

export interface AcceptSessionOptions extends ReceiverOptions {
  /** How long `acceptNextSession` waits for a session. @default 60_000 */
  maxWaitTimeMs?: number;
  abortSignal?: AbortSignal;
}

/** Resolves an {@link EntityAddress} to a receivable path. */
export function entityPath(address: EntityAddress): string {
  if (typeof address === 'string') return address;
  if (address === null || typeof address !== 'object') {
    throw new BusError(
      'BUS_INVALID_ENTITY_NAME',
      'An entity address must be a path or {queue} / {topic, subscription}.',
    );
  }
  const base = 'queue' in address ? address.queue : `${address.topic}/Subscriptions/${address.subscription}`;
  return address.subQueue === 'deadLetter' ? `${base}/$DeadLetterQueue` : base;
}

export class Sender {
  readonly entityPath: string;
  readonly #broker: Broker;
  #closed = false;

  constructor(broker: Broker, entity: string) {
    this.#broker = broker;
    this.entityPath = entity;
    broker.catalog.sendTarget(entity);
  }

  /** Sends one message or a batch (atomically); resolves once durable. */
  async send(messages: ServiceBusMessage | readonly ServiceBusMessage[]): Promise<void> {
    if (this.#closed) throw closedError('sender');
    await this.#broker.send(this.entityPath, Array.isArray(messages) ? messages : [messages as ServiceBusMessage]);
  }

  /** Sends messages that become visible at `scheduledEnqueueTime`; resolves with their sequence numbers. */
  async scheduleMessages(
    messages: ServiceBusMessage | readonly ServiceBusMessage[],
    scheduledEnqueueTime: Date,
  ): Promise<bigint[]> {
    if (this.#closed) throw closedError('sender');
    if (!(scheduledEnqueueTime instanceof Date) || Number.isNaN(scheduledEnqueueTime.getTime())) {
      throw new BusError('BUS_INVALID_OPTION', 'scheduledEnqueueTime: must be a valid Date', {
        detail: { option: 'scheduledEnqueueTime' },
      });
    }
    const list = Array.isArray(messages) ? messages : [messages as ServiceBusMessage];
    return this.#broker.send(
      this.entityPath,
      list.map((m) => ({ ...m, scheduledEnqueueTime })),
    );
  }

  async cancelScheduledMessages(sequenceNumbers: bigint | readonly bigint[]): Promise<void> {
    if (this.#closed) throw closedError('sender');
    const seqs = Array.isArray(sequenceNumbers) ? sequenceNumbers : [sequenceNumbers as bigint];
    await this.#broker.cancelScheduled(this.entityPath, seqs);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Entity management; every change is durable before it resolves. */
export class BusAdmin {
  readonly #broker: Broker;
  constructor(broker: Broker) {
    this.#broker = broker;
  }
  get #c() {
    if (this.#broker.closed) throw closedError('bus');
    return this.#broker.catalog;
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
  /** Adds a rule (BUS_INVALID_FILTER / BUS_INVALID_ACTION when it does not compile, BUS_ENTITY_EXISTS on a duplicate name). */
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
  /** Message counts of a queue, subscription or dead-letter queue. */
  async getRuntimeProperties(address: EntityAddress): Promise<EntityRuntimeProperties> {
    return this.#c.runtimeProperties(entityPath(address));
  }
}

export class Bus {
  readonly admin: BusAdmin;
  readonly #broker: Broker;
  readonly #closables = new Set<{ close(): Promise<void> }>();

  constructor(broker: Broker) {
    this.#broker = broker;
    this.admin = new BusAdmin(broker);
  }

  /** Typed events: sent, deadLettered, expired, lockExpired, error. */
  get events(): TypedEmitter<BusEvents> {
    return this.#broker.events;
  }

  /** The broker underneath (for the HTTP API and other front-ends). */
  get broker(): Broker {
    return this.#broker;
  }

  #track<T extends Receiver>(x: T): T {
    this.#closables.add(x);
    x.onClosed = () => this.#closables.delete(x);
    return x;
  }

  #open(): void {
    if (this.#broker.closed) throw closedError('bus');
  }

  /** A sender for a queue or topic (BUS_ENTITY_NOT_FOUND if it does not exist). */
  createSender(entity: string): Sender {
    this.#open();
    return new Sender(this.#broker, entity);
  }

  /** A receiver for a queue, subscription or dead-letter queue. */
  createReceiver(address: EntityAddress, options: ReceiverOptions = {}): Receiver {
    this.#open();
    return this.#track(new Receiver(this.#broker, entityPath(address), options));
  }

  /** Locks a named session (BUS_SESSION_CANNOT_BE_LOCKED if another receiver holds it). */
  async acceptSession(
    address: EntityAddress,
    sessionId: string,
    options: AcceptSessionOptions = {},
  ): Promise<SessionReceiver> {
    this.#open();
    const path = entityPath(address);
    const lock = await this.#broker.acceptSession(path, sessionId, { maxWaitTimeMs: 0 });
    return this.#track(new SessionReceiver(this.#broker, path, lock, options));
  }

  /** Locks the next session with messages, waiting up to `maxWaitTimeMs` (then BUS_SESSION_CANNOT_BE_LOCKED). */
  async acceptNextSession(address: EntityAddress, options: AcceptSessionOptions = {}): Promise<SessionReceiver> {
    this.#open();
    const path = entityPath(address);
    const lock = await this.#broker.acceptSession(path, undefined, {
      maxWaitTimeMs: options.maxWaitTimeMs ?? 60_000,
      signal: options.abortSignal,
    });
    return this.#track(new SessionReceiver(this.#broker, path, lock, options));
  }

  /** Runs `handler` for every message with bounded concurrency; completes on success, abandons on throw. */
  createProcessor(address: EntityAddress, handler: MessageHandler, options: ProcessorOptions = {}): Processor {
    this.#open();
    const path = entityPath(address);
    if (this.#broker.catalog.receivable(path).settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${path} requires sessions: accept sessions to process it.`, {
        detail: { entity: path },
      });
    }
    const receiver = this.#track(new Receiver(this.#broker, path, { receiveMode: options.receiveMode ?? 'peekLock' }));
    const processor = createProcessor(this.#broker, receiver, handler, options);
    this.#closables.add(processor); // closed (drained) with the bus
    return processor;
  }

  /**
   * Processes a session-enabled queue or subscription: up to `maxConcurrentSessions` sessions at
   * once, each session's messages in order, one at a time.
   */
  createSessionProcessor(
    address: EntityAddress,
    handler: MessageHandler,
    options: SessionProcessorOptions = {},
  ): Processor {
    this.#open();
    const path = entityPath(address);
    if (!this.#broker.catalog.receivable(path).settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${path} does not require sessions.`, { detail: { entity: path } });
    }
    const processor = createSessionProcessor(
      (signal) => this.acceptNextSession(address, { maxWaitTimeMs: 2_147_483_647, abortSignal: signal }),
      handler,
      options,
    );
    this.#closables.add(processor);
    return processor;
  }

  async close(): Promise<void> {
    if (this.#broker.closed) return;
    await Promise.allSettled([...this.#closables].map((c) => c.close()));
    await this.#broker.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Opens an engine for a URL: `memory://` or `file://DIR`. */
export async function engineFromUrl(url: string, clock: Clock = systemClock): Promise<BusEngine> {
  if (typeof url !== 'string') throw new BusError('BUS_INVALID_OPTION', 'url: must be a string');
  if (url === 'memory://' || url === 'memory:') {
    const { MemoryEngine } = await import('./engine/memory/engine.ts');
    return new MemoryEngine();
  }
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (dir === '') throw new BusError('BUS_INVALID_OPTION', 'url: file:// needs a directory (file://./data)');
    const { FileEngine } = await import('./engine/file/engine.ts');
    return new FileEngine({ dir, clock });
  }
  throw new BusError(
    'BUS_INVALID_OPTION',
    `url: unsupported bus engine ${JSON.stringify(url)} (memory://, file://DIR)`,
    {
      detail: { option: 'url' },
    },
  );
}

/** Opens a bus: recovers the engine's state, then creates the declared entities that are missing. */
export async function createBus(options: BusOptions = {}): Promise<Bus> {
  const clock = options.clock ?? systemClock;
  let config: EntitiesConfig | undefined;
  if (options.configFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.configFile, 'utf8');
      config = fromEmulatorConfig(JSON.parse(text));
    } catch (err) {
      throw new BusError('BUS_INVALID_OPTION', `configFile: cannot read ${options.configFile}`, {
        detail: { option: 'configFile' },
        cause: err,
      });
    }
  }
  const engine = options.engine ?? (await engineFromUrl(options.url ?? 'memory://', clock));
  const broker = await Broker.open({
    engine,
    clock,
    ...(options.ids === undefined ? {} : { ids: options.ids }),
    ...(options.visibility === undefined ? {} : { visibility: options.visibility }),
  });
  try {
    if (config !== undefined) await broker.catalog.applyConfig(config);
    if (options.entities !== undefined) await broker.catalog.applyConfig(options.entities);
  } catch (err) {
    await broker.close();
    throw err;
  }
  return new Bus(broker);
}
