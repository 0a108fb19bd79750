/**
 * Pumps one Service Bus-triggered function: pulls deliveries (messages or batches) while fewer
 * than `maxConcurrentCalls` are in flight and runs each through `handle`.
 * @module
 */
import { backoffDelay, type Clock } from '@hubbub/kernel';

export interface ListenerOptions {
  readonly maxConcurrentCalls: number;
  /** Paces restarts after a failed receive (1 s doubling to 30 s). */
  readonly clock: Clock;
  /** Receiving failed; the listener receives again after `retryInMs`. */
  readonly receiveFailed: (error: unknown, retryInMs: number) => void;
  /** `handle` rejected (it settles its deliveries itself, so this is a bug it reports). */
  readonly handleFailed: (error: unknown) => void;
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

  // One settled promise per delivery (not a catch and a finally on top of the handler's).
  const dispatch = (delivery: T) => {
    const finished = () => {
      running.delete(task);
      wake?.();
      wake = undefined;
    };
    const task: Promise<void> = handle(delivery).then(finished, (err: unknown) => {
      try {
        options.handleFailed(err);
      } finally {
        finished();
      }
    });
    running.add(task);
  };

  /** Resolves after `ms` on the clock, or at once when the listener closes. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = options.clock.setTimeout(done, ms);
      function done() {
        timer.cancel();
        abort.signal.removeEventListener('abort', done);
        resolve();
      }
      abort.signal.addEventListener('abort', done, { once: true });
    });

  // Receiving restarts after a failure (a missing entity may be created later; a bus may recover).
  const pump = (async () => {
    let failures = 0;
    while (!abort.signal.aborted) {
      const iterator = receive(abort.signal)[Symbol.asyncIterator]();
      try {
        for (;;) {
          // Only wait when every slot is taken (an async call per message costs a promise even when none is).
          if (running.size >= options.maxConcurrentCalls) await slotFree();
          if (abort.signal.aborted) break;
          const next = await iterator.next();
          if (next.done) break;
          failures = 0;
          dispatch(next.value);
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        failures++;
        const retryInMs = backoffDelay(failures, { initialMs: 1_000, maxMs: 30_000, random: () => 1 });
        options.receiveFailed(err, retryInMs);
      } finally {
        await iterator.return?.();
      }
      if (!abort.signal.aborted)
        await pause(backoffDelay(Math.max(1, failures), { initialMs: 1_000, maxMs: 30_000, random: () => 1 }));
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
