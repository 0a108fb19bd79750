/**
 * Hubbub's bus as the functions host's Service Bus extension sees it ({@link BusPort}): a sender
 * per entity, a peek-lock receiver per trigger, a session-enabled trigger served one session at a
 * time (accept the next, drain it in order, release it), batches for `cardinality: 'many'`; and,
 * when asked, the queue or subscription a trigger receives from created when it is missing (as
 * `func start` against a fresh emulator namespace would need by hand). Bus errors are recognised
 * by their stable `code`.
 * @module
 */
import { type Bus, type EntityAddress, openBus, type Sender, type ServiceBusMessage } from '@hubbub/bus';
import type { BusPort, BusReceivedMessage, BusResolver, BusSource } from '@hubbub/functions';
import type { Clock } from '@hubbub/kernel';

export interface BusBridgeOptions {
  /** Create the queue, or the topic and subscription, a trigger receives from when missing. @default false */
  createEntities?: boolean;
  /** A session is released after it has had no message for this long, in ms. @default 1_000 */
  sessionIdleTimeoutMs?: number;
  /** How long one attempt to lock the next session waits, in ms. @default 5_000 */
  acceptSessionWaitMs?: number;
}

export interface BusBridge extends BusPort {
  /** Resolves once every entity a trigger has asked for so far exists (with `createEntities`). */
  ready(): Promise<void>;
}

const codeOf = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

const addressOf = (source: BusSource): EntityAddress =>
  'queue' in source ? { queue: source.queue } : { topic: source.topic, subscription: source.subscription };

export function bridgeBus(bus: Bus, options: BusBridgeOptions = {}): BusBridge {
  const idleMs = options.sessionIdleTimeoutMs ?? 1_000;
  const acceptWaitMs = options.acceptSessionWaitMs ?? 5_000;
  const senders = new Map<string, Sender>();
  /** The creation of each trigger's entity, by entity path; a failed one is tried again. */
  const ensured = new Map<string, Promise<void>>();
  const failed = new WeakSet<Promise<void>>();
  const ensure = (source: BusSource): Promise<void> => {
    const key = 'queue' in source ? source.queue : `${source.topic}/${source.subscription}`;
    const pending = ensured.get(key);
    if (pending !== undefined && !failed.has(pending)) return pending;
    const done = ensureEntity(bus, source);
    done.catch(() => failed.add(done));
    ensured.set(key, done);
    return done;
  };

  async function* plain(source: BusSource, signal: AbortSignal, prefetch: number): AsyncGenerator<BusReceivedMessage> {
    // With prefetch one broker receive takes what is there (up to that many), held locked in the receiver.
    const receiver = bus.createReceiver(addressOf(source), { receiveMode: 'peekLock', prefetch });
    const stop = () => void receiver.close();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const message of receiver) yield message;
    } finally {
      signal.removeEventListener('abort', stop);
      await receiver.close();
    }
  }

  async function* sessions(source: BusSource, signal: AbortSignal): AsyncGenerator<BusReceivedMessage> {
    while (!signal.aborted) {
      let receiver: Awaited<ReturnType<Bus['acceptNextSession']>>;
      try {
        receiver = await bus.acceptNextSession(addressOf(source), { maxWaitTimeMs: acceptWaitMs, abortSignal: signal });
      } catch (err) {
        if (signal.aborted) return;
        if (codeOf(err) === 'BUS_SESSION_CANNOT_BE_LOCKED') continue;
        throw err;
      }
      try {
        while (!signal.aborted) {
          const [message] = await receiver.receiveMessages(1, { maxWaitTimeMs: idleMs, abortSignal: signal });
          if (message === undefined) break;
          yield message;
        }
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        await receiver.close();
      }
    }
  }

  async function* batches(source: BusSource, signal: AbortSignal, max: number): AsyncGenerator<BusReceivedMessage[]> {
    const receiver = bus.createReceiver(addressOf(source), { receiveMode: 'peekLock' });
    try {
      while (!signal.aborted) {
        const batch = await receiver.receiveMessages(Math.min(max, 10_000), {
          maxWaitTimeMs: 60_000,
          abortSignal: signal,
        });
        if (batch.length > 0) yield batch;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      await receiver.close();
    }
  }

  /** Receives from `source` once it exists (created first with `createEntities`). */
  function after<T>(source: BusSource, items: () => AsyncIterable<T>): AsyncIterable<T> {
    if (options.createEntities !== true) return items();
    const done = ensure(source);
    return (async function* () {
      await done;
      yield* items();
    })();
  }

  return {
    async send(entity, messages) {
      let sender = senders.get(entity);
      if (sender === undefined) {
        sender = bus.createSender(entity);
        senders.set(entity, sender);
      }
      await sender.send(
        messages.map(
          (m): ServiceBusMessage =>
            m.contentType === undefined ? { body: m.body } : { body: m.body, contentType: m.contentType },
        ),
      );
    },
    receive(source, { sessions: useSessions, signal, prefetch }) {
      return after(source, () => (useSessions ? sessions(source, signal) : plain(source, signal, prefetch ?? 0)));
    },
    receiveBatches(source, { sessions: useSessions, signal, maxMessages }) {
      // Session batches stay one message at a time (a session is drained in order).
      return after(source, () =>
        useSessions ? singles(sessions(source, signal)) : batches(source, signal, maxMessages),
      );
    },
    async ready() {
      await Promise.all(ensured.values());
    },
  };
}

/** Creates what is missing; one created meanwhile by someone else (BUS_ENTITY_EXISTS) is as good. */
async function ensureEntity(bus: Bus, source: BusSource): Promise<void> {
  const created = (create: () => Promise<unknown>) =>
    create().catch((err: unknown) => {
      if (codeOf(err) !== 'BUS_ENTITY_EXISTS') throw err;
    });
  if ('queue' in source) {
    if (!(await bus.admin.queueExists(source.queue))) await created(() => bus.admin.createQueue(source.queue));
    return;
  }
  if (!(await bus.admin.topicExists(source.topic))) await created(() => bus.admin.createTopic(source.topic));
  const subscriptions = await bus.admin.listSubscriptions(source.topic);
  if (!subscriptions.some((s) => s.subscriptionName === source.subscription)) {
    await created(() => bus.admin.createSubscription(source.topic, source.subscription));
  }
}

async function* singles<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of items) yield [item];
}

export interface BusConnections {
  /** For the host's `bus` option. */
  readonly resolve: BusResolver;
  /** Closes the buses opened. */
  close(): Promise<void>;
}

/**
 * A bus per connection setting whose value is an engine URL (`memory://`, `file://DIR`), opened on
 * first use; any other value names no bus (the binding is FUNCTIONS_BINDING_UNAVAILABLE).
 */
export function busConnections(options: { clock?: Clock } = {}): BusConnections {
  const opened: Bus[] = [];
  return {
    async resolve({ value }) {
      if (!/^(memory|file):\/\//.test(value.trim())) return undefined;
      const bus = await openBus({
        url: value.trim(),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      });
      opened.push(bus);
      return bridgeBus(bus);
    },
    async close() {
      await Promise.allSettled(opened.splice(0).map((b) => b.close()));
    },
  };
}
