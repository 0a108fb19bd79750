/**
 * `createBus({ url })`: the bus as a library — senders, receivers, session receivers, processors
 * and admin in the Azure SDK's shapes. Every operation goes to a {@link Broker} (the operations
 * port, `broker/port.ts`): the in-process one over the engine the URL names (`memory://`,
 * `file://DIR`), or one passed in. The bus is a part like every other: `createBus()` starts
 * nothing, `start()` opens the engine (recovering its state) and creates the declared entities;
 * `openBus()` does both.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { type Clock, type IdSource, type Part, systemClock, TypedEmitter } from '@hubbub/kernel';
import { type EntityAddress, entityPath } from './address.ts';
import type { BusAdmin } from './admin.ts';
import { createLocalBroker, type Visibility } from './broker/local-broker.ts';
import type { Broker, BusEvents } from './broker/port.ts';
import { applyEntities, fromEmulatorConfig } from './config.ts';
import type { BusEngine } from './engine/port.ts';
import type { EntitiesConfig } from './entities.ts';
import { BusError, closedError, notStartedError } from './errors.ts';
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
  /**
   * `memory://`, `file://DIR` (relative to the working directory, or `file:///abs`), or
   * `nats://HOST:PORT[,HOST:PORT…][?namespace=NAME&replicas=N]` — NATS JetStream, shared by many
   * nodes (`@hubbub/bus/nats`). @default 'memory://'
   */
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
  /**
   * How long a complete's write may wait for the next send's write to share one log flush, while
   * sends are flowing; 0 writes each at once. A complete still resolves only once durable.
   * A consumer that waits for its completes before receiving more slows down by up to that much.
   * @default 0 (`startSystem` sets 2 on a file bus)
   */
  settleLingerMs?: number;
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

  /**
   * Sends one message or a batch (atomically); resolves once durable. Not async: a send in flight
   * holds the broker's promise and one reaction, no suspended frame of its own.
   */
  send(messages: ServiceBusMessage | readonly ServiceBusMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('sender'));
    return this.#broker
      .send(this.entityPath, Array.isArray(messages) ? messages : [messages as ServiceBusMessage])
      .then(ignore);
  }

  /**
   * Hubbub's own (Service Bus's SDK answers nothing): sends like {@link send} and resolves, once
   * durable, with whether each message was taken — false for one the entity's duplicate detection
   * dropped (its `messageId` was sent within the window). Without duplicate detection, all true.
   */
  async sendReportingDuplicates(messages: ServiceBusMessage | readonly ServiceBusMessage[]): Promise<boolean[]> {
    if (this.#closed) throw closedError('sender');
    const list = Array.isArray(messages) ? messages : [messages as ServiceBusMessage];
    return (await this.#broker.send(this.entityPath, list)).map((seq) => seq !== 0n);
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

export class Bus implements Part<BusEvents> {
  readonly #options: BusOptions;
  readonly #events: TypedEmitter<BusEvents>;
  readonly #closables = new Set<{ close(): Promise<void> }>();
  #broker: Broker | undefined;
  #starting: Promise<void> | undefined;
  #closed = false;

  /** Use {@link createBus} or {@link openBus}. */
  constructor(options: BusOptions) {
    this.#options = options;
    this.#events = options.broker?.events ?? new TypedEmitter<BusEvents>();
  }

  /**
   * Opens the broker — the in-process one over the engine (recovering its state), or the one given
   * — and creates the declared entities that are missing. A second call returns the first's promise.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('bus'));
    this.#starting ??= this.#open();
    return this.#starting;
  }

  async #open(): Promise<void> {
    const options = this.#options;
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
    const broker =
      options.broker ??
      (options.engine === undefined && options.url?.startsWith('nats://')
        ? await openNatsBroker(options, options.url, clock, this.#events)
        : await openLocalBroker(options, clock, this.#events));
    try {
      if (config !== undefined) await applyEntities(broker.admin, config);
      if (options.entities !== undefined) await applyEntities(broker.admin, options.entities);
    } catch (err) {
      await broker.close();
      throw err;
    }
    if (this.#closed) {
      await broker.close();
      throw closedError('bus');
    }
    this.#broker = broker;
  }

  /** Typed events: sent, deadLettered, expired, lockExpired, error. Listeners may be added before start. */
  get events(): TypedEmitter<BusEvents> {
    return this.#events;
  }

  on<E extends keyof BusEvents>(event: E, listener: BusEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** Queues, topics, subscriptions and rules (BUS_NOT_STARTED before start; after close its calls reject BUS_CLOSED). */
  get admin(): BusAdmin {
    return this.broker.admin;
  }

  /** The broker underneath: the operations port, for the HTTP API and other front-ends. */
  get broker(): Broker {
    if (this.#broker === undefined) throw this.#closed ? closedError('bus') : notStartedError();
    return this.#broker;
  }

  #track<T extends Receiver>(x: T): T {
    this.#closables.add(x);
    x.onClosed = () => this.#closables.delete(x);
    return x;
  }

  #running(): Broker {
    const broker = this.#broker;
    if (broker === undefined || broker.closed)
      throw this.#closed || broker !== undefined ? closedError('bus') : notStartedError();
    return broker;
  }

  /** A sender for a queue or topic (BUS_ENTITY_NOT_FOUND if it does not exist). */
  createSender(entity: string): Sender {
    return new Sender(this.#running(), entity);
  }

  /** A receiver for a queue, subscription or dead-letter queue. */
  createReceiver(address: EntityAddress, options: ReceiverOptions = {}): Receiver {
    return this.#track(new Receiver(this.#running(), entityPath(address), options));
  }

  /** Locks a named session (BUS_SESSION_CANNOT_BE_LOCKED if another receiver holds it). */
  async acceptSession(
    address: EntityAddress,
    sessionId: string,
    options: AcceptSessionOptions = {},
  ): Promise<SessionReceiver> {
    const broker = this.#running();
    const path = entityPath(address);
    const lock = await broker.sessions.accept(path, sessionId, { maxWaitTimeMs: 0 });
    return this.#track(new SessionReceiver(broker, path, lock, options));
  }

  /** Locks the next session with messages, waiting up to `maxWaitTimeMs` (then BUS_SESSION_CANNOT_BE_LOCKED). */
  async acceptNextSession(address: EntityAddress, options: AcceptSessionOptions = {}): Promise<SessionReceiver> {
    const broker = this.#running();
    const path = entityPath(address);
    const lock = await broker.sessions.accept(path, undefined, {
      maxWaitTimeMs: options.maxWaitTimeMs ?? 60_000,
      signal: options.abortSignal,
    });
    return this.#track(new SessionReceiver(broker, path, lock, options));
  }

  /** Runs `handler` for every message with bounded concurrency; completes on success, abandons on throw. */
  createProcessor(address: EntityAddress, handler: MessageHandler, options: ProcessorOptions = {}): Processor {
    const broker = this.#running();
    const path = entityPath(address);
    if (broker.entity(path, 'receive').requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${path} requires sessions: accept sessions to process it.`, {
        detail: { entity: path },
      });
    }
    const receiver = this.#track(new Receiver(broker, path, { receiveMode: options.receiveMode ?? 'peekLock' }));
    const processor = createProcessor(broker, receiver, handler, options);
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
    const path = entityPath(address);
    if (!this.#running().entity(path, 'receive').requiresSession) {
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

  /** Drains processors and receivers, then closes the broker. Idempotent; also before or during start. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    const broker = this.#broker;
    if (broker === undefined || broker.closed) return;
    await Promise.allSettled([...this.#closables].map((c) => c.close()));
    await broker.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Throws BUS_INVALID_OPTION unless `url` names a bus it opens itself (`memory://`, `file://DIR`, `nats://HOST:PORT`). */
function checkEngineUrl(url: unknown, nats = false): void {
  if (typeof url !== 'string')
    throw new BusError('BUS_INVALID_OPTION', 'url: must be a string', { detail: { option: 'url' } });
  if (url === 'memory://' || url === 'memory:') return;
  if (nats && url.startsWith('nats://')) return;
  if (url.startsWith('file://')) {
    if (url === 'file://') {
      throw new BusError('BUS_INVALID_OPTION', 'url: file:// needs a directory (file://./data)', {
        detail: { option: 'url' },
      });
    }
    return;
  }
  throw new BusError(
    'BUS_INVALID_OPTION',
    `url: unsupported bus engine ${JSON.stringify(url)} (memory://, file://DIR${nats ? ', nats://HOST:PORT' : ''})`,
    {
      detail: { option: 'url' },
    },
  );
}

/** Opens an engine for a URL: `memory://` or `file://DIR`. */
export async function engineFromUrl(url: string, clock: Clock = systemClock): Promise<BusEngine> {
  checkEngineUrl(url);
  if (url.startsWith('file://')) {
    const { createFileEngine } = await import('./engine/file/engine.ts');
    return createFileEngine({ dir: url.slice('file://'.length), clock });
  }
  const { createMemoryEngine } = await import('./engine/memory/engine.ts');
  return createMemoryEngine();
}

/**
 * A bus on `options.broker`, or on the in-process broker over the engine `url` (or `engine`)
 * names. Starts nothing: {@link Bus.start} opens it. Invalid options throw BUS_INVALID_OPTION here.
 */
export function createBus(options: BusOptions = {}): Bus {
  if (options.broker === undefined && options.engine === undefined) checkEngineUrl(options.url ?? 'memory://', true);
  if (options.visibility !== undefined && options.visibility !== 'accepted' && options.visibility !== 'durable') {
    throw new BusError(
      'BUS_INVALID_OPTION',
      `visibility: must be 'accepted' or 'durable', got '${String(options.visibility)}'`,
      { detail: { option: 'visibility' } },
    );
  }
  const linger = options.settleLingerMs;
  if (linger !== undefined && !(typeof linger === 'number' && linger >= 0 && linger <= 1_000)) {
    throw new BusError('BUS_INVALID_OPTION', `settleLingerMs: must be a number in 0…1000, got ${String(linger)}`, {
      detail: { option: 'settleLingerMs' },
    });
  }
  return new Bus(options);
}

/** {@link createBus}, started: the engine open (its state recovered) and the declared entities there. */
export async function openBus(options: BusOptions = {}): Promise<Bus> {
  const bus = createBus(options);
  await bus.start();
  return bus;
}

/** The JetStream broker (`nats://…`), loaded only when a URL names it. */
async function openNatsBroker(
  options: BusOptions,
  url: string,
  clock: Clock,
  events: TypedEmitter<BusEvents>,
): Promise<Broker> {
  const { createNatsBroker, natsOptionsFromUrl } = await import('./nats/index.ts');
  return createNatsBroker({
    ...natsOptionsFromUrl(url),
    clock,
    events,
    ...(options.ids === undefined ? {} : { ids: options.ids }),
  });
}

async function openLocalBroker(options: BusOptions, clock: Clock, events: TypedEmitter<BusEvents>): Promise<Broker> {
  const engine = options.engine ?? (await engineFromUrl(options.url ?? 'memory://', clock));
  return createLocalBroker({
    engine,
    clock,
    events,
    ...(options.ids === undefined ? {} : { ids: options.ids }),
    ...(options.visibility === undefined ? {} : { visibility: options.visibility }),
    ...(options.settleLingerMs === undefined ? {} : { settleLingerMs: options.settleLingerMs }),
  });
}

/** Drops a send's sequence numbers (one shared function, not a closure per send). */
function ignore(): void {}
