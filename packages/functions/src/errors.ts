/**
 * Functions host errors: one class, stable codes, an HTTP status where one applies.
 * Tests and callers match on `code`, never on message text.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

/** Every code the functions host fails with, and the HTTP status an HTTP boundary answers with. */
export const FunctionsErrorStatus = {
  /** The app's package.json, `main` globs or entry files could not be loaded. */
  FUNCTIONS_APP_LOAD_FAILED: 500,
  /** A function uses a binding type this host does not implement. */
  FUNCTIONS_UNKNOWN_BINDING: 500,
  /** A binding is missing a required property or has an invalid one. */
  FUNCTIONS_INVALID_BINDING: 500,
  /** A `%Setting%` or connection setting is missing or malformed. */
  FUNCTIONS_INVALID_SETTING: 500,
  /** A timer schedule is not a valid six-field NCRONTAB expression. */
  FUNCTIONS_INVALID_SCHEDULE: 500,
  /** A binding needs a hub or bus the host was not given. */
  FUNCTIONS_BINDING_UNAVAILABLE: 500,
  /** The app asked for something this host does not support (e.g. self-settled messages). */
  FUNCTIONS_UNSUPPORTED: 500,
  /** The request cannot be bound: a query parameter a binding expression reads is given twice. */
  FUNCTIONS_BAD_REQUEST: 400,
  /** No function or route matches. */
  FUNCTIONS_NOT_FOUND: 404,
  /** A route matches but not for this HTTP method. */
  FUNCTIONS_METHOD_NOT_ALLOWED: 405,
  /** The function's auth level needs a key the request did not carry. */
  FUNCTIONS_UNAUTHORIZED: 401,
  /** The request body is larger than `maxRequestBodyBytes`. */
  FUNCTIONS_PAYLOAD_TOO_LARGE: 413,
  /** An upstream request's body is not in a format the trigger reads (MessagePack, say). */
  FUNCTIONS_UNSUPPORTED_MEDIA_TYPE: 415,
  /** The function (or a hook) threw. */
  FUNCTIONS_INVOCATION_FAILED: 500,
  /** The function succeeded but an output binding failed to deliver. */
  FUNCTIONS_OUTPUT_FAILED: 500,
  /** The host was used after `close()`. */
  FUNCTIONS_CLOSED: 503,
  /** An invocation worker thread (`workerThreads`) stopped or could not take an invocation. */
  FUNCTIONS_WORKER_FAILED: 500,
  /** The invocation ran longer than host.json `functionTimeout`. */
  FUNCTIONS_TIMEOUT: 500,
} as const;

export type FunctionsErrorCode = keyof typeof FunctionsErrorStatus;

export class FunctionsError extends CodedError<FunctionsErrorCode> {
  static readonly statuses = FunctionsErrorStatus;
}

export const isFunctionsError = codeGuard(FunctionsError);

/** What an invocation failed with, as a FunctionsError: its own, or FUNCTIONS_INVOCATION_FAILED with the cause chained. */
export function invocationError(err: unknown, functionName: string, invocationId?: string): FunctionsError {
  if (isFunctionsError(err)) return err;
  return new FunctionsError(
    'FUNCTIONS_INVOCATION_FAILED',
    `Function "${functionName}" failed${invocationId === undefined ? '' : ` (invocation ${invocationId})`}.`,
    {
      cause: err,
      detail: invocationId === undefined ? { function: functionName } : { function: functionName, invocationId },
    },
  );
}
