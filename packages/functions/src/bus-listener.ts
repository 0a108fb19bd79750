/**
 * Pumps one Service Bus-triggered function: pulls peek-locked messages while fewer than
 * `maxConcurrentCalls` are in flight, runs each through `handle`, and keeps a session's messages
 * in order (one at a time per session) when sessions are enabled.
 * @module
 */
import type { Logger } from '@hubbub/kernel';
import type { BusReceivedMessage, BusSource, FunctionsBus } from './service-bus.ts';

export interface ListenerOptions {
  readonly source: BusSource;
  readonly sessions: boolean;
  readonly maxConcurrentCalls: number;
  readonly logger: Logger;
}

export interface BusListener {
  /** Stops pulling and waits for in-flight messages to settle. */
  close(): Promise<void>;
  /** Messages currently being handled. */
  readonly inFlight: number;
}

export function startListener(
  bus: FunctionsBus,
  options: ListenerOptions,
  handle: (message: BusReceivedMessage) => Promise<void>,
): BusListener {
  const abort = new AbortController();
  const running = new Set<Promise<void>>();
  const sessionTails = new Map<string, Promise<void>>();
  let wake: (() => void) | undefined;

  const slotFree = async () => {
    while (running.size >= options.maxConcurrentCalls && !abort.signal.aborted) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

  const dispatch = (message: BusReceivedMessage) => {
    const session = options.sessions ? message.sessionId : undefined;
    const previous = session === undefined ? undefined : sessionTails.get(session);
    const task = (async () => {
      if (previous !== undefined) await previous;
      await handle(message);
    })()
      .catch((err: unknown) => options.logger.error({ err }, 'Service Bus message handler failed.'))
      .finally(() => {
        running.delete(task);
        if (session !== undefined && sessionTails.get(session) === task) sessionTails.delete(session);
        wake?.();
        wake = undefined;
      });
    running.add(task);
    if (session !== undefined) sessionTails.set(session, task);
  };

  const pump = (async () => {
    const iterator = bus
      .receive(options.source, { sessions: options.sessions, signal: abort.signal })
      [Symbol.asyncIterator]();
    try {
      for (;;) {
        await slotFree();
        if (abort.signal.aborted) break;
        const next = await iterator.next();
        if (next.done) break;
        dispatch(next.value);
      }
    } catch (err) {
      if (!abort.signal.aborted) options.logger.error({ err, source: options.source }, 'Service Bus receive failed.');
    } finally {
      await iterator.return?.();
    }
  })();

  return {
    get inFlight() {
      return running.size;
    },
    async close() {
      abort.abort();
      wake?.();
      await pump;
      await Promise.allSettled([...running]);
    },
  };
}
