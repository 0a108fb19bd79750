/**
 * A small in-memory {@link BusPort} for tests and benchmarks of the functions host: queues by name
 * (a subscription is `topic/subscription`), peek-lock on the injected clock, dead-lettering at
 * `maxDeliveryCount`, sessions handed to one receiver at a time, and failures on demand. Hubbub's
 * real bus runs behind the same port in packages/system/test.
 * @module
 */
import { type Clock, systemClock } from '@hubbub/kernel';
import type { BusOutgoingMessage, BusPort, BusReceivedMessage, BusReceiveOptions, BusSource } from '../index.ts';

export interface MemoryMessage extends BusReceivedMessage {
  /** How the message ended: completed, dead-lettered, or still queued / locked. */
  readonly settled: 'completed' | 'deadLettered' | undefined;
  readonly renewals: number;
}

export interface MemoryBusOptions {
  clock?: Clock;
  /** @default 30_000 */
  lockDurationMs?: number;
  /** @default 10 */
  maxDeliveryCount?: number;
  /** Topic → its subscriptions: a send to the topic lands in each. @default {} */
  topics?: Readonly<Record<string, readonly string[]>>;
}

type Fields = Partial<Omit<BusReceivedMessage, 'complete' | 'abandon' | 'renewLock'>>;

/** A coded error, as a bus reports one (the host matches codes, never classes). */
export const codedError = (code: string, message = code) => Object.assign(new Error(message), { code });

export class MemoryBus implements BusPort {
  readonly #clock: Clock;
  readonly #lockMs: number;
  readonly #maxDeliveries: number;
  readonly #topics: Readonly<Record<string, readonly string[]>>;
  readonly #queues = new Map<string, MemoryMessage[]>();
  readonly #wake = new Set<() => void>();
  readonly #lockedSessions = new Set<string>();
  #sequence = 0;
  /** Every message delivered to a receiver, in order (redeliveries again). */
  readonly deliveries: MemoryMessage[] = [];
  /** Messages abandoned `maxDeliveryCount` times. */
  readonly deadLettered: MemoryMessage[] = [];
  #interruption: { readonly error: Error; readonly generation: number } | undefined;
  /** Set to make settlements or renewals fail. */
  fail: { complete?: Error; abandon?: Error; renew?: Error } = {};
  /** Every receive call, with its options. */
  readonly receives: { source: BusSource; sessions: boolean; maxMessages?: number; prefetch?: number }[] = [];

  constructor(options: MemoryBusOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#lockMs = options.lockDurationMs ?? 30_000;
    this.#maxDeliveries = options.maxDeliveryCount ?? 10;
    this.#topics = options.topics ?? {};
  }

  /** What is queued (not locked, not settled) on `entity`. */
  queued(entity: string): MemoryMessage[] {
    return this.#queue(entity).filter((m) => m.lockedUntil === undefined);
  }

  /** Takes everything queued on `entity` (as a receive-and-delete receiver would). */
  take(entity: string): { body: unknown; contentType: string | undefined }[] {
    const queue = this.#queue(entity);
    const taken = queue.filter((m) => m.lockedUntil === undefined);
    this.#queues.set(
      entity,
      queue.filter((m) => !taken.includes(m)),
    );
    return taken.map((m) => ({ body: m.body, contentType: m.contentType }));
  }

  async send(entity: string, messages: readonly BusOutgoingMessage[]): Promise<void> {
    for (const m of messages)
      this.enqueue(entity, { body: m.body, ...(m.contentType ? { contentType: m.contentType } : {}) });
  }

  /** Puts a message on a queue, or on each subscription of a topic. */
  enqueue(entity: string, fields: Fields & { body: unknown }): void {
    for (const target of this.#topics[entity]?.map((s) => `${entity}/${s}`) ?? [entity]) {
      this.#queue(target).push(this.#message(target, fields));
    }
    for (const wake of [...this.#wake]) wake();
  }

  /** Makes every receive in progress fail with `error` (receives started later work). */
  interrupt(error: Error): void {
    this.#interruption = { error, generation: (this.#interruption?.generation ?? 0) + 1 };
    for (const wake of [...this.#wake]) wake();
  }

  receive(source: BusSource, options: BusReceiveOptions): AsyncIterable<BusReceivedMessage> {
    this.receives.push({
      source,
      sessions: options.sessions,
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
    });
    return this.#pump(source, options.signal, options.sessions);
  }

  async *receiveBatches(
    source: BusSource,
    options: BusReceiveOptions & { readonly maxMessages: number },
  ): AsyncIterable<readonly BusReceivedMessage[]> {
    this.receives.push({ source, sessions: options.sessions, maxMessages: options.maxMessages });
    for await (const first of this.#pump(source, options.signal, false)) {
      const batch = [first];
      while (batch.length < options.maxMessages) {
        const next = this.#next(this.#path(source), undefined);
        if (next === undefined) break;
        batch.push(this.#lock(next));
      }
      yield batch;
    }
  }

  async *#pump(source: BusSource, signal: AbortSignal, sessions: boolean): AsyncGenerator<MemoryMessage> {
    const generation = this.#interruption?.generation ?? 0;
    const path = this.#path(source);
    let session: string | undefined;
    try {
      while (!signal.aborted) {
        const interruption = this.#interruption;
        if (interruption !== undefined && interruption.generation > generation) throw interruption.error;
        const next = this.#next(path, sessions ? (session ?? null) : undefined);
        if (next !== undefined) {
          if (sessions && session === undefined) {
            session = next.sessionId ?? '';
            this.#lockedSessions.add(session);
          }
          yield this.#lock(next);
          continue;
        }
        if (session !== undefined && !this.#queue(path).some((m) => (m.sessionId ?? '') === session)) {
          this.#lockedSessions.delete(session); // the session is drained: release it
          session = undefined;
          continue;
        }
        await new Promise<void>((resolve) => {
          const done = () => {
            this.#wake.delete(done);
            signal.removeEventListener('abort', done);
            resolve();
          };
          this.#wake.add(done);
          signal.addEventListener('abort', done, { once: true });
        });
      }
    } finally {
      if (session !== undefined) this.#lockedSessions.delete(session);
    }
  }

  /** The first available message; `session`: undefined = any, null = any unlocked session, else that one. */
  #next(path: string, session: string | null | undefined): MemoryMessage | undefined {
    return this.#queue(path).find((m) => {
      if (m.lockedUntil !== undefined) return false;
      if (session === undefined) return true;
      if (session === null) return !this.#lockedSessions.has(m.sessionId ?? '');
      return (m.sessionId ?? '') === session;
    });
  }

  #lock(message: MemoryMessage): MemoryMessage {
    (message as { lockedUntil: Date | undefined }).lockedUntil = new Date(this.#clock.now() + this.#lockMs);
    this.deliveries.push(message);
    return message;
  }

  #queue(path: string): MemoryMessage[] {
    let queue = this.#queues.get(path);
    if (queue === undefined) {
      queue = [];
      this.#queues.set(path, queue);
    }
    return queue;
  }

  #path = (source: BusSource) => ('queue' in source ? source.queue : `${source.topic}/${source.subscription}`);

  #message(path: string, fields: Fields & { body: unknown }): MemoryMessage {
    const bus = this;
    const sequenceNumber = ++this.#sequence;
    const held = () => {
      if (m.lockedUntil === undefined || m.lockedUntil.getTime() < bus.#clock.now()) {
        throw codedError('LOCK_LOST', `message ${m.messageId ?? sequenceNumber}: its lock is not held`);
      }
    };
    const release = (settled: MemoryMessage['settled']) => {
      m.lockedUntil = undefined;
      m.settled = settled;
      if (settled !== undefined)
        bus.#queues.set(
          path,
          bus.#queue(path).filter((x) => x !== m),
        );
      if (settled === 'deadLettered') bus.deadLettered.push(m);
      for (const wake of [...bus.#wake]) wake();
    };
    const m = {
      messageId: `m-${sequenceNumber}`,
      sequenceNumber,
      enqueuedTime: new Date(this.#clock.now()),
      deliveryCount: 0,
      lockToken: `lock-${sequenceNumber}`,
      ...fields,
      lockedUntil: undefined as Date | undefined,
      settled: undefined as MemoryMessage['settled'],
      renewals: 0,
      async complete() {
        if (bus.fail.complete) throw bus.fail.complete;
        held();
        release('completed');
      },
      async abandon() {
        if (bus.fail.abandon) throw bus.fail.abandon;
        held();
        m.deliveryCount++;
        release(m.deliveryCount >= bus.#maxDeliveries ? 'deadLettered' : undefined);
      },
      async renewLock() {
        if (bus.fail.renew) throw bus.fail.renew;
        held();
        m.renewals++;
        m.lockedUntil = new Date(bus.#clock.now() + bus.#lockMs);
        return m.lockedUntil;
      },
    };
    return m;
  }
}
