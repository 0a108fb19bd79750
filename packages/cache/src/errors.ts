/**
 * Cache errors: one class, stable codes. Tests and callers match on `code`, never on message text.
 * Bad factory options are the kernel's `KERNEL_INVALID_OPTION`, thrown by `createCache()`.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

/** Every code a cache operation fails with. */
export const CacheErrorCode = {
  /** The key is not a non-empty string. */
  InvalidKey: 'CACHE_INVALID_KEY',
  /** The key (prefix included) or the serialised value is over its bound (`detail.what`, `detail.limit`, `detail.size`). */
  TooLarge: 'CACHE_TOO_LARGE',
  /** The value cannot be stored (undefined, a function, a bigint, a cycle), or what is stored is not a value this cache wrote. */
  InvalidValue: 'CACHE_INVALID_VALUE',
  /** A call argument is out of range: `ttlMs` not a positive integer, `by` not a safe integer. */
  InvalidArgument: 'CACHE_INVALID_ARGUMENT',
  /** `increment` on a key whose value is not an integer, or a result past ±2^53. */
  NotANumber: 'CACHE_NOT_A_NUMBER',
  /** The engine's server cannot be reached, or the connection dropped during the call. */
  Unavailable: 'CACHE_UNAVAILABLE',
  /** The engine answered with an error this cache does not expect (`cause` holds it). */
  EngineFailure: 'CACHE_ENGINE_FAILURE',
  /** The cache is not running: not started yet, closing or closed. */
  Closed: 'CACHE_CLOSED',
} as const;

export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

/** A cache failure with a stable {@link CacheErrorCode}. */
export class CacheError extends CodedError<CacheErrorCode> {}

export const isCacheError = codeGuard(CacheError);

/** `state`: `'idle'` (never started), `'closing'` or `'closed'`. */
export const closedError = (state: string): CacheError =>
  new CacheError(
    CacheErrorCode.Closed,
    state === 'idle' ? 'The cache is not started; call start() first.' : `The cache is ${state}.`,
    { detail: { state } },
  );
