/**
 * Errors of the AMQP front: one class, stable codes. A client never sees these objects — it gets
 * an AMQP error condition on the detach, end or close that refused it — but the front reports every
 * connection it closes for cause through its `connectionError` event with one of these codes, and
 * `start()` rejects with one. Bad factory options are the kernel's `KERNEL_INVALID_OPTION`.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

export const AmqpFrontErrorCode = {
  /** A frame broke the AMQP framing rules (bad header, size under 8 or over `maxFrameSize`, undecodable or unknown performative). */
  FramingError: 'BUS_AMQP_FRAMING_ERROR',
  /** A well-formed frame arrived where the protocol forbids it (transfer without credit, bad handle, SASL skipped). */
  ProtocolViolation: 'BUS_AMQP_PROTOCOL_VIOLATION',
  /** A SAS token was refused (unknown key, bad signature, expired, wrong audience) or a link had no token. */
  Unauthorized: 'BUS_AMQP_UNAUTHORIZED',
  /** The connection passed one of its bounds: sessions, links, unsettled deliveries, or attaches per second. */
  LimitExceeded: 'BUS_AMQP_LIMIT_EXCEEDED',
  /** The peer sent nothing (not even a heartbeat) for twice the idle time-out, or did not open in time. */
  IdleTimeout: 'BUS_AMQP_IDLE_TIMEOUT',
  /** The front could not listen on its port (`detail.port`, `cause`). */
  ListenFailed: 'BUS_AMQP_LISTEN_FAILED',
  /** The front was closed. */
  Closed: 'BUS_AMQP_CLOSED',
} as const;

export type AmqpFrontErrorCode = (typeof AmqpFrontErrorCode)[keyof typeof AmqpFrontErrorCode];

/** A failure of the AMQP front with a stable {@link AmqpFrontErrorCode}. */
export class AmqpFrontError extends CodedError<AmqpFrontErrorCode> {}

export const isAmqpFrontError = codeGuard(AmqpFrontError);
