/**
 * A processor: receives continuously and runs a handler with bounded concurrency. With
 * `autoComplete` a message is completed when the handler resolves and abandoned when it throws
 * (so it is retried, then dead-lettered after the maximum delivery count).
 * @module
 */
import type { Broker, ReceiveMode } from './broker/port.ts';
import { BusError } from './errors.ts';
import { ServiceBusReceivedMessage } from './received-message.ts';
import type { Receiver, SessionReceiver } from './receiver.ts';

export type MessageHandler = (message: ServiceBusReceivedMessage) => Promise<void> | void;

export interface ProcessorOptions {
  /** Handler calls in flight at once. @default 1 */
  maxConcurrentCalls?: number;
  /** Complete on success, abandon on failure (peek-lock only). @default true */
  autoComplete?: boolean;
  /** @default 'peekLock' */
  receiveMode?: ReceiveMode;
  /** Handler failures and settlement/receive errors; never thrown from the pump. @default ignore */
  onError?: (error: unknown, message: ServiceBusReceivedMessage | undefined) => void;
}

export interface Processor {
  readonly running: boolean;
  /** Messages handled so far (handler returned or threw). */
  readonly handled: number;
  /** Stops receiving and waits for in-flight handlers to finish. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const FOREVER = 2_147_483_647;

/** Validates a processor's concurrency option and handler once, at construction. */
function checkConcurrency(option: string, value: number, max: number, handler: unknown): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BusError('BUS_INVALID_OPTION', `${option}: must be an integer in 1…${max}`, { detail: { option } });
  }
  if (typeof handler !== 'function') {
    throw new BusError('BUS_INVALID_OPTION', 'handler: must be a function', { detail: { option: 'handler' } });
  }
  return value;
}

export function createProcessor(
  broker: Broker,
  receiver: Receiver,
  handler: MessageHandler,
  options: ProcessorOptions,
): Processor {
  const max = checkConcurrency('maxConcurrentCalls', options.maxConcurrentCalls ?? 1, 10_000, handler);
  const autoComplete = options.autoComplete ?? true;
  const peekLock = receiver.receiveMode === 'peekLock';
  const onError = options.onError ?? (() => {});
  const abort = new AbortController();
  let inFlight = 0;
  let handled = 0;
  let running = true;
  let slot: (() => void) | undefined;
  const idle: Array<() => void> = [];

  const run = async (m: ServiceBusReceivedMessage): Promise<void> => {
    try {
      await handler(m);
      if (autoComplete && peekLock) await m.complete();
    } catch (err) {
      onError(err, m);
      if (autoComplete && peekLock) await m.abandon().catch((e: unknown) => onError(e, m));
    } finally {
      handled++;
      inFlight--;
      slot?.();
      if (inFlight === 0) for (const r of idle.splice(0)) r();
    }
  };

  const pump = async (): Promise<void> => {
    while (running) {
      if (inFlight >= max) {
        await new Promise<void>((r) => {
          slot = r;
        });
        slot = undefined;
        continue;
      }
      try {
        const got = await broker.receive(receiver.entityPath, {
          maxMessages: max - inFlight,
          mode: receiver.receiveMode,
          maxWaitTimeMs: FOREVER,
          signal: abort.signal,
        });
        for (const d of got) {
          inFlight++;
          void run(new ServiceBusReceivedMessage(d, broker));
        }
      } catch (err) {
        if (!running) return;
        onError(err, undefined);
        if (broker.closed) return;
        await new Promise((r) => setTimeout(r, 100)); // back off after a receive failure
      }
    }
  };
  void pump();

  const close = async (): Promise<void> => {
    if (!running) return;
    running = false;
    abort.abort();
    slot?.();
    if (inFlight > 0) await new Promise<void>((r) => idle.push(r));
    await receiver.close();
  };
  return {
    get running() {
      return running;
    },
    get handled() {
      return handled;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface SessionProcessorOptions {
  /** Sessions handled at once (one handler call at a time within a session, in order). @default 8 */
  maxConcurrentSessions?: number;
  /** Complete on success, abandon on failure. @default true */
  autoComplete?: boolean;
  /** Release a session after it had no message for this long. @default 1_000 */
  sessionIdleTimeoutMs?: number;
  /** Handler and settlement failures. @default ignore */
  onError?: (error: unknown, message: ServiceBusReceivedMessage | undefined) => void;
}

/** What a session processor needs from the bus: accepting the next session. */
export type AcceptNext = (signal: AbortSignal) => Promise<SessionReceiver>;

/**
 * Processes sessions: each slot accepts the next session with messages, hands its messages to the
 * handler one at a time in order, and releases the session after `sessionIdleTimeoutMs` of quiet.
 */
export function createSessionProcessor(
  acceptNext: AcceptNext,
  handler: MessageHandler,
  options: SessionProcessorOptions,
): Processor {
  const slots = checkConcurrency('maxConcurrentSessions', options.maxConcurrentSessions ?? 8, 1_000, handler);
  const idle = options.sessionIdleTimeoutMs ?? 1_000;
  const autoComplete = options.autoComplete ?? true;
  const onError = options.onError ?? (() => {});
  const abort = new AbortController();
  let running = true;
  let handled = 0;
  const open = new Set<SessionReceiver>();

  const slot = async (): Promise<void> => {
    while (running) {
      let session: SessionReceiver;
      try {
        session = await acceptNext(abort.signal);
      } catch (err) {
        if (!running) return;
        if ((err as { code?: string }).code !== 'BUS_SESSION_CANNOT_BE_LOCKED') {
          onError(err, undefined);
          await new Promise((r) => setTimeout(r, 100));
        }
        continue;
      }
      open.add(session);
      try {
        while (running) {
          const [m] = await session.receiveMessages(1, { maxWaitTimeMs: idle });
          if (m === undefined) break;
          try {
            await handler(m);
            if (autoComplete) await m.complete();
          } catch (err) {
            onError(err, m);
            if (autoComplete) await m.abandon().catch((e: unknown) => onError(e, m));
          } finally {
            handled++;
          }
        }
      } catch (err) {
        if (running) onError(err, undefined);
      } finally {
        open.delete(session);
        await session.close();
      }
    }
  };
  const loops = Array.from({ length: slots }, slot);

  const close = async (): Promise<void> => {
    if (!running) return;
    running = false;
    abort.abort();
    await Promise.allSettled([...open].map((s) => s.close())); // ends their idle waits
    await Promise.allSettled(loops);
  };
  return {
    get running() {
      return running;
    },
    get handled() {
      return handled;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
