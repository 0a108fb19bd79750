/**
 * Bus errors: one class, stable codes, an HTTP status per code. Tests and callers match on `code`.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

/** Every code a bus operation can fail with, and the HTTP status an HTTP boundary answers with. */
export const BusErrorStatus = {
  /** The queue, topic, subscription or rule does not exist. */
  BUS_ENTITY_NOT_FOUND: 404,
  /** An entity or rule with that name already exists. */
  BUS_ENTITY_EXISTS: 409,
  /** The message (or batch) is larger than the entity's maximum message size. */
  BUS_MESSAGE_TOO_LARGE: 413,
  /** The queue or topic holds `maxSizeInMegabytes` of messages already; the send was refused (`QuotaExceeded`). */
  BUS_QUOTA_EXCEEDED: 403,
  /** The message lock expired, was already settled or the lock token is unknown. */
  BUS_LOCK_LOST: 410,
  /** The session is locked by another receiver, or no session became available in time. */
  BUS_SESSION_CANNOT_BE_LOCKED: 409,
  /** The session lock expired or the session receiver was closed. */
  BUS_SESSION_LOCK_LOST: 410,
  /** A SQL or correlation filter did not compile (`detail.position` is a 1-based char offset). */
  BUS_INVALID_FILTER: 400,
  /** A rule's LIKEs spent more than `maxEvaluationSteps` comparisons on one message (a filter evaluation exception). */
  BUS_FILTER_BUDGET_EXCEEDED: 400,
  /** A SQL rule action did not compile. */
  BUS_INVALID_ACTION: 400,
  /** A message field is invalid (wrong type, too long, missing session id on a session entity …). */
  BUS_INVALID_MESSAGE: 400,
  /** No message with that sequence number (deferred / scheduled) exists. */
  BUS_MESSAGE_NOT_FOUND: 404,
  /** The bus, sender or receiver was closed. */
  BUS_CLOSED: 503,
  /** The bus was used before `start()` (use `openBus()`, or await `bus.start()` first). */
  BUS_NOT_STARTED: 503,
  /** An entity name is empty, too long or uses characters Service Bus forbids. */
  BUS_INVALID_ENTITY_NAME: 400,
  /** An option or entity property is out of range. */
  BUS_INVALID_OPTION: 400,
  /** The operation is not allowed on this entity (send to a subscription, dead-letter from a DLQ …). */
  BUS_INVALID_OPERATION: 400,
  /** The engine's directory is locked by a live process (`detail.dir`, `detail.pid`; this one when opened twice). */
  BUS_DIR_LOCKED: 409,
  /** The storage engine failed (I/O error); the operation was not acknowledged. */
  BUS_ENGINE_FAILURE: 500,
} as const;

export type BusErrorCode = keyof typeof BusErrorStatus;

/** A bus failure with a stable {@link BusErrorCode}. */
export class BusError extends CodedError<BusErrorCode> {
  static readonly statuses = BusErrorStatus;
}

export const isBusError = codeGuard(BusError);

export const entityNotFound = (entity: string): BusError =>
  new BusError('BUS_ENTITY_NOT_FOUND', `The messaging entity '${entity}' could not be found.`, {
    detail: { entity },
  });

export const entityExists = (entity: string): BusError =>
  new BusError('BUS_ENTITY_EXISTS', `The messaging entity '${entity}' already exists.`, { detail: { entity } });

export const lockLost = (lockToken: string): BusError =>
  new BusError(
    'BUS_LOCK_LOST',
    'The lock supplied is invalid: it expired, or the message was already settled or removed.',
    { detail: { lockToken } },
  );

export const closedError = (what: string): BusError => new BusError('BUS_CLOSED', `The ${what} is closed.`);

export const notStartedError = (): BusError =>
  new BusError('BUS_NOT_STARTED', 'The bus is not started: await bus.start() first, or open it with openBus().');

export const sessionLockLost = (entity: string, sessionId: string): BusError =>
  new BusError('BUS_SESSION_LOCK_LOST', `The session lock on '${sessionId}' in ${entity} was lost.`, {
    detail: { entity, sessionId },
  });

/** A receive or session accept that was waiting on an entity deleted meanwhile. */
export const entityDeleted = (entity: string): BusError =>
  new BusError('BUS_ENTITY_NOT_FOUND', `The messaging entity '${entity}' was deleted.`, { detail: { entity } });

/** A send that would take `entity` past its `maxSizeInMegabytes` (`maxBytes`), holding `heldBytes` already. */
export const quotaExceeded = (entity: string, heldBytes: number, addingBytes: number, maxBytes: number): BusError =>
  new BusError(
    'BUS_QUOTA_EXCEEDED',
    `${entity} holds ${heldBytes} bytes of messages; ${addingBytes} more would pass its maxSizeInMegabytes (${maxBytes / 1024 / 1024} MiB).`,
    { detail: { entity, heldBytes, addingBytes, maxSizeInMegabytes: maxBytes / 1024 / 1024 } },
  );
