/**
 * Bus errors as the AMQP error conditions `@azure/core-amqp` turns into `ServiceBusError.code`
 * (`MessagingEntityNotFound`, `MessageLockLost`, `SessionLockLost`, `SessionCannotBeLocked`,
 * `MessageSizeExceeded`, `QuotaExceeded`, `UnauthorizedAccess`, `ServiceBusy` …), and the status
 * codes management replies carry.
 * @module
 */
import { isBusError } from '@hubbub/bus';
import type { AmqpError } from './rhea.ts';

export const Condition = {
  NotFound: 'amqp:not-found',
  Unauthorized: 'amqp:unauthorized-access',
  ResourceLimit: 'amqp:resource-limit-exceeded',
  InternalError: 'amqp:internal-error',
  NotImplemented: 'amqp:not-implemented',
  InvalidField: 'amqp:invalid-field',
  DecodeError: 'amqp:decode-error',
  FramingError: 'amqp:connection:framing-error',
  MessageSizeExceeded: 'amqp:link:message-size-exceeded',
  TransferLimitExceeded: 'amqp:link:transfer-limit-exceeded',
  ServerBusy: 'com.microsoft:server-busy',
  MessageLockLost: 'com.microsoft:message-lock-lost',
  SessionLockLost: 'com.microsoft:session-lock-lost',
  SessionCannotBeLocked: 'com.microsoft:session-cannot-be-locked',
  EntityExists: 'com.microsoft:entity-already-exists',
  MessageNotFound: 'com.microsoft:message-not-found',
  ArgumentError: 'com.microsoft:argument-error',
  DeadLetter: 'com.microsoft:dead-letter',
  Timeout: 'com.microsoft:timeout',
} as const;

const byCode: Record<string, string> = {
  BUS_ENTITY_NOT_FOUND: Condition.NotFound,
  BUS_ENTITY_EXISTS: Condition.EntityExists,
  BUS_MESSAGE_TOO_LARGE: Condition.MessageSizeExceeded,
  BUS_QUOTA_EXCEEDED: Condition.ResourceLimit, // core-amqp: QuotaExceededError → ServiceBusError code QuotaExceeded
  BUS_LOCK_LOST: Condition.MessageLockLost,
  BUS_SESSION_CANNOT_BE_LOCKED: Condition.SessionCannotBeLocked,
  BUS_SESSION_LOCK_LOST: Condition.SessionLockLost,
  BUS_MESSAGE_NOT_FOUND: Condition.MessageNotFound,
  BUS_CLOSED: Condition.ServerBusy,
  BUS_NOT_STARTED: Condition.ServerBusy,
  BUS_ENGINE_FAILURE: Condition.ServerBusy,
};

/** The AMQP error for a failure of a bus operation. */
export function toAmqpError(err: unknown): AmqpError {
  if (isBusError(err)) {
    const condition = byCode[err.code] ?? (err.status === 400 ? Condition.ArgumentError : Condition.InternalError);
    return { condition, description: err.message };
  }
  return { condition: Condition.InternalError, description: 'The operation failed on the server.' };
}

/** The status code of a management reply for a failure. */
export function toStatus(err: unknown): number {
  if (isBusError(err)) return err.status ?? 500;
  return 500;
}

/** What core-amqp matches to report `MessagingEntityNotFound`. */
export const notFound = (entity: string): AmqpError => ({
  condition: Condition.NotFound,
  description: `The messaging entity '${entity}' could not be found.`,
});
