/**
 * Store errors: one class, stable `STORE_*` codes, an HTTP status per code. Tests and callers
 * match on `code`, never on the message.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

/** Every code a store operation can fail with, and the HTTP status the HTTP API answers with. */
export const StoreErrorStatus = {
  /** The database, container or item does not exist (or the item expired). */
  STORE_NOT_FOUND: 404,
  /** A database, container or item with that id already exists. */
  STORE_CONFLICT: 409,
  /** `ifMatch` named an etag that is no longer current, or a patch condition did not hold. */
  STORE_PRECONDITION_FAILED: 412,
  /** The item (with its system properties) is over the size limit (`detail.size`, `detail.limit`). */
  STORE_TOO_LARGE: 413,
  /** The query did not parse or uses something unsupported (`detail.position`, 1-based). */
  STORE_INVALID_QUERY: 400,
  /** The item is not a JSON object, or a field is invalid (`detail.field`). */
  STORE_INVALID_ITEM: 400,
  /** The caller set a system property such as `_etag` or `_ts` (`detail.property`). */
  STORE_RESERVED_PROPERTY: 400,
  /** The item's partition key value differs from the one the operation names. */
  STORE_PARTITION_KEY_MISMATCH: 400,
  /** A patch operation is malformed or cannot apply (`detail.index`, `detail.path`). */
  STORE_INVALID_PATCH: 400,
  /** A batch is empty, too long, or one of its operations is malformed (`detail.index`). */
  STORE_INVALID_BATCH: 400,
  /** A continuation token is malformed or belongs to another query or feed. */
  STORE_INVALID_CONTINUATION: 400,
  /** A request option (page size, partition key, …) is invalid (`detail.option`). */
  STORE_INVALID_REQUEST: 400,
  /** A database or container id is empty, too long or uses forbidden characters. */
  STORE_INVALID_NAME: 400,
  /** The HTTP request carries no valid key signature. */
  STORE_UNAUTHORIZED: 401,
  /** The key used may only read. */
  STORE_FORBIDDEN: 403,
  /** The HTTP method is not allowed on that resource. */
  STORE_METHOD_NOT_ALLOWED: 405,
  /** A change-feed lease was taken over by another consumer; the batch was not checkpointed. */
  STORE_LEASE_LOST: 409,
  /** The embedded database directory is held by another live process (`detail.dir`, `detail.pid`). */
  STORE_DIR_LOCKED: 409,
  /** The store was closed. */
  STORE_CLOSED: 503,
  /** The database server went away or refused the connection; the operation's outcome is unknown. */
  STORE_UNAVAILABLE: 503,
  /** The driver failed unexpectedly (a bug or an unexpected database error); see `cause`. */
  STORE_DRIVER_FAILURE: 500,
} as const;

export type StoreErrorCode = keyof typeof StoreErrorStatus;

/** A store failure with a stable {@link StoreErrorCode}. */
export class StoreError extends CodedError<StoreErrorCode> {
  static readonly statuses = StoreErrorStatus;
}

export const isStoreError = codeGuard(StoreError);

export const notFound = (what: string, detail: Record<string, unknown> = {}): StoreError =>
  new StoreError('STORE_NOT_FOUND', `${what} does not exist.`, { detail });

export const conflict = (what: string, detail: Record<string, unknown> = {}): StoreError =>
  new StoreError('STORE_CONFLICT', `${what} already exists.`, { detail });

export const preconditionFailed = (id: string): StoreError =>
  new StoreError('STORE_PRECONDITION_FAILED', `The item '${id}' was changed: its etag no longer matches.`, {
    detail: { id },
  });

export const invalidItem = (field: string, message: string): StoreError =>
  new StoreError('STORE_INVALID_ITEM', message, { detail: { field } });

export const invalidRequest = (option: string, message: string): StoreError =>
  new StoreError('STORE_INVALID_REQUEST', `${option}: ${message}`, { detail: { option } });

export const closedError = (): StoreError => new StoreError('STORE_CLOSED', 'The store is closed.');
