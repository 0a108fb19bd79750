/**
 * Adapts a `@hubbub/bus` {@link Bus} to the {@link FunctionsBus} port: senders per entity, a
 * peek-lock receiver per trigger, and for session-enabled triggers one session at a time (accept
 * the next session, drain it in order, release it, accept the next).
 * @module
 */
import { type Bus, type EntityAddress, isBusError, type Sender, type ServiceBusMessage } from '@hubbub/bus';
import type { BusReceivedMessage, BusSource, FunctionsBus } from './service-bus.ts';

export interface BusAdapterOptions {
  /** A session is released after it has had no message for this long, in ms. @default 1_000 */
  sessionIdleTimeoutMs?: number;
  /** How long one attempt to lock the next session waits, in ms. @default 5_000 */
  acceptSessionWaitMs?: number;
}

/** True for a `@hubbub/bus` Bus (as opposed to a {@link FunctionsBus}). */
export function isHubbubBus(value: unknown): value is Bus {
  const v = value as Partial<Bus> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.createSender === 'function' &&
    typeof v.createReceiver === 'function'
  );
}

const addressOf = (source: BusSource): EntityAddress =>
  'queue' in source ? { queue: source.queue } : { topic: source.topic, subscription: source.subscription };

export function fromHubbubBus(bus: Bus, options: BusAdapterOptions = {}): FunctionsBus {
  const idleMs = options.sessionIdleTimeoutMs ?? 1_000;
  const acceptWaitMs = options.acceptSessionWaitMs ?? 5_000;
  const senders = new Map<string, Sender>();

  async function* plain(source: BusSource, signal: AbortSignal): AsyncGenerator<BusReceivedMessage> {
    const receiver = bus.createReceiver(addressOf(source), { receiveMode: 'peekLock' });
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
        if (isBusError(err, 'BUS_SESSION_CANNOT_BE_LOCKED')) continue;
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
    receive(source, { sessions: useSessions, signal }) {
      return useSessions ? sessions(source, signal) : plain(source, signal);
    },
    receiveBatches(source, { sessions: useSessions, signal, maxMessages }) {
      // Session batches stay one message at a time (a session is drained in order).
      return useSessions ? wrapSingles(sessions(source, signal)) : batches(source, signal, maxMessages);
    },
  };
}

async function* wrapSingles<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of items) yield [item];
}
