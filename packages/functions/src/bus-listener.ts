/**
 * Pumps one Service Bus-triggered function: pulls deliveries (messages or batches) while fewer
 * than `maxConcurrentCalls` are in flight and runs each through `handle`.
 * @module
 */
import type { Logger } from '@hubbub/kernel';

export interface ListenerOptions {
  readonly maxConcurrentCalls: number;
  readonly logger: Logger;
  /** Named in the log line when receiving fails. */
  readonly what: string;
}

export interface BusListener {
  /** Stops pulling and waits for in-flight deliveries to settle. */
  close(): Promise<void>;
  /** Deliveries currently being handled. */
  readonly inFlight: number;
}

/** `receive(signal)` yields deliveries until `signal` aborts. */
export function startListener<T>(
  receive: (signal: AbortSignal) => AsyncIterable<T>,
  options: ListenerOptions,
  handle: (delivery: T) => Promise<void>,
): BusListener {
  const abort = new AbortController();
  const running = new Set<Promise<void>>();
  let wake: (() => void) | undefined;

  const slotFree = async () => {
    while (running.size >= options.maxConcurrentCalls && !abort.signal.aborted) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };

  const dispatch = (delivery: T) => {
    const task: Promise<void> = handle(delivery)
      .catch((err: unknown) => options.logger.error({ err }, 'Service Bus delivery handler failed.'))
      .finally(() => {
        running.delete(task);
        wake?.();
        wake = undefined;
      });
    running.add(task);
  };

  const pump = (async () => {
    const iterator = receive(abort.signal)[Symbol.asyncIterator]();
    try {
      for (;;) {
        await slotFree();
        if (abort.signal.aborted) break;
        const next = await iterator.next();
        if (next.done) break;
        dispatch(next.value);
      }
    } catch (err) {
      if (!abort.signal.aborted) options.logger.error({ err, source: options.what }, 'Service Bus receive failed.');
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
