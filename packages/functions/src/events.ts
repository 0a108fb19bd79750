/**
 * What the functions host tells its owner. Every failure that happens away from a caller (a
 * function run by a message or a timer, a settlement, a lock renewal, a receive, a hook at close)
 * is emitted here first; the log line comes second.
 * @module
 */
import type { FunctionsError } from './errors.ts';

export interface InvocationFailure {
  readonly function: string;
  /** The trigger binding type: `httpTrigger`, `serviceBusTrigger`, `timerTrigger`, … */
  readonly trigger: string;
  /** Absent when the failure came before an invocation began. */
  readonly invocationId?: string;
}

export type FunctionsHostEvents = {
  /**
   * A function, one of its hooks or one of its bindings failed (after its retries): an HTTP
   * trigger answered 500, a Service Bus message is being abandoned, a timer keeps its schedule.
   * The error is `FUNCTIONS_INVOCATION_FAILED` or `FUNCTIONS_OUTPUT_FAILED` (or another 5xx code of
   * a binding), the cause chained.
   */
  'invocation:failed': (error: FunctionsError, info: InvocationFailure) => void;
  /** An attempt failed and the function's `retry` policy runs it again after `delayMs`. */
  'invocation:retrying': (
    error: unknown,
    info: { readonly function: string; readonly invocationId: string; readonly retryCount: number },
  ) => void;
  /** An HTTP request failed outside any function (it was answered 500 or the socket closed). */
  'request:failed': (error: FunctionsError, info: { readonly method: string; readonly path: string }) => void;
  /**
   * A trigger could not receive (say, its queue or container does not exist yet); it tries again
   * after `retryInMs`. `source` names the queue, subscription or `database/container`.
   */
  'receive:failed': (
    error: unknown,
    info: { readonly function: string; readonly source: string; readonly retryInMs: number },
  ) => void;
  /** Completing or abandoning a message failed; the bus delivers it again once its lock runs out. */
  'settle:failed': (
    error: unknown,
    info: {
      readonly function: string;
      readonly messageId: string | undefined;
      readonly action: 'complete' | 'abandon';
    },
  ) => void;
  /**
   * A `cosmosDBTrigger`'s change feed could not checkpoint a batch its function handled (the batch
   * may come again: delivery is at least once) or keep its leases (the feed retries).
   */
  'feed:failed': (
    error: unknown,
    info: { readonly function: string; readonly source: string; readonly operation: 'checkpoint' | 'lease' },
  ) => void;
  /** Renewing a message's lock failed: it may be delivered again while its function still runs. */
  'lock:lost': (error: unknown, info: { readonly function: string; readonly messageId: string | undefined }) => void;
  /**
   * A function could not be loaded (a binding type the host lacks, a bad binding property, a
   * missing setting) and the rest of the app runs without it, as under Core Tools. With the
   * host's `strict` option the start fails instead.
   */
  'function:skipped': (error: FunctionsError, info: { readonly function: string }) => void;
  /** An app-level hook (`appTerminate`) threw. */
  'hook:failed': (error: unknown, info: { readonly hook: string }) => void;
  /** `close()` stopped waiting for running invocations after `drainTimeoutMs`. */
  'drain:timeout': (info: { readonly running: number; readonly drainTimeoutMs: number }) => void;
};
