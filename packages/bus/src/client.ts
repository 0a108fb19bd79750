/**
 * `createBus({ url })`: the bus as a library — senders, receivers, session receivers, processors
 * and admin in the Azure SDK's shapes. Every operation goes to a {@link Broker} (the operations
 * port, `broker/port.ts`): the in-process one over the engine the URL names (`memory://`,
 * `file://DIR`), or one passed in.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { type Clock, type IdSource, systemClock, type TypedEmitter } from '@hubbub/kernel';
import { type EntityAddress, entityPath } from './address.ts';
import type { BusAdmin } from './admin.ts';
import { createLocalBroker, type Visibility } from './broker/local-broker.ts';
import type { Broker, BusEvents } from './broker/port.ts';
import { applyEntities, fromEmulatorConfig } from './config.ts';
import type { BusEngine } from './engine/port.ts';
import type { EntitiesConfig } from './entities.ts';
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

export interface BusOptions {
  /** `memory://` or `file://DIR` (relative to the working directory, or `file:///abs`). @default 'memory://' */
  url?: string;
  /** A storage engine (`@hubbub/bus/engine`); overrides `url`. */
  engine?: BusEngine;
  /**
   * A broker — the operations port (`@hubbub/bus/broker`), e.g. a NATS JetStream one from another
   * package; overrides `url`, `engine`, `clock`, `ids` and `visibility`, which configure the
   * in-process broker used otherwise. The bus closes it when it closes.
   */
  broker?: Broker;
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

export interface AcceptSessionOptions extends ReceiverOptions {
  /** How long `acceptNextSession` waits for a session. @default 60_000 */
  maxWaitTimeMs?: number;
  abortSignal?: AbortSignal;
}

export class Sender {
  readonly entityPath: string;
  readonly #broker: Broker;
  #closed = false;

  constructor(broker: Broker, entity: string) {
    this.#broker = broker;
    this.entityPath = entity;
    broker.entity(entity, 'send');
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

export class Bus {
  readonly admin: BusAdmin;
  readonly #broker: Broker;
  readonly #closables = new Set<{ close(): Promise<void> }>();

  constructor(broker: Broker) {
    this.#broker = broker;
    this.admin = broker.admin;
  }

  /** Typed events: sent, deadLettered, expired, lockExpired, error. */
  get events(): TypedEmitter<BusEvents> {
    return this.#broker.events;
  }

  /** The broker underneath: the operations port, for the HTTP API and other front-ends. */
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
    const lock = await this.#broker.sessions.accept(path, sessionId, { maxWaitTimeMs: 0 });
    return this.#track(new SessionReceiver(this.#broker, path, lock, options));
  }

  /** Locks the next session with messages, waiting up to `maxWaitTimeMs` (then BUS_SESSION_CANNOT_BE_LOCKED). */
  async acceptNextSession(address: EntityAddress, options: AcceptSessionOptions = {}): Promise<SessionReceiver> {
    this.#open();
    const path = entityPath(address);
    const lock = await this.#broker.sessions.accept(path, undefined, {
      maxWaitTimeMs: options.maxWaitTimeMs ?? 60_000,
      signal: options.abortSignal,
    });
    return this.#track(new SessionReceiver(this.#broker, path, lock, options));
  }

  /** Runs `handler` for every message with bounded concurrency; completes on success, abandons on throw. */
  createProcessor(address: EntityAddress, handler: MessageHandler, options: ProcessorOptions = {}): Processor {
    this.#open();
    const path = entityPath(address);
    if (this.#broker.entity(path, 'receive').requiresSession) {
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
    if (!this.#broker.entity(path, 'receive').requiresSession) {
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
    const { createMemoryEngine } = await import('./engine/memory/engine.ts');
    return createMemoryEngine();
  }
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (dir === '') throw new BusError('BUS_INVALID_OPTION', 'url: file:// needs a directory (file://./data)');
    const { createFileEngine } = await import('./engine/file/engine.ts');
    return createFileEngine({ dir, clock });
  }
  throw new BusError(
    'BUS_INVALID_OPTION',
    `url: unsupported bus engine ${JSON.stringify(url)} (memory://, file://DIR)`,
    {
      detail: { option: 'url' },
    },
  );
}

/**
 * Opens a bus: on `options.broker`, or on the in-process broker over the engine `url` names
 * (recovering its state); then creates the declared entities that are missing.
 */
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
  const broker = options.broker ?? (await openLocalBroker(options, clock));
  try {
    if (config !== undefined) await applyEntities(broker.admin, config);
    if (options.entities !== undefined) await applyEntities(broker.admin, options.entities);
  } catch (err) {
    await broker.close();
    throw err;
  }
  return new Bus(broker);
}

async function openLocalBroker(options: BusOptions, clock: Clock): Promise<Broker> {
  const engine = options.engine ?? (await engineFromUrl(options.url ?? 'memory://', clock));
  return createLocalBroker({
    engine,
    clock,
    ...(options.ids === undefined ? {} : { ids: options.ids }),
    ...(options.visibility === undefined ? {} : { visibility: options.visibility }),
  });
}
