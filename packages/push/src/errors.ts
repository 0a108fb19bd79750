/**
 * Push errors: one class, stable codes. Callers and tests match on `code`, never on message text.
 * Bad factory options are the kernel's `KERNEL_INVALID_OPTION`.
 * @module
 */
import { HubbubError, type HubbubErrorOptions } from '@hubbub/kernel';

/** Every code a push operation fails with (add new ones here, with a line in docs/errors.md). */
export const PushErrorCode = {
  /** The installation names a platform Hubbub does not deliver to. */
  UnknownPlatform: 'PUSH_UNKNOWN_PLATFORM',
  /** The push channel is malformed for its platform (`detail.reason`). */
  InvalidChannel: 'PUSH_INVALID_CHANNEL',
  /** The rendered payload is over the platform's limit (`detail.limit`, `detail.size`). */
  PayloadTooLarge: 'PUSH_PAYLOAD_TOO_LARGE',
} as const;

export type PushErrorCode = (typeof PushErrorCode)[keyof typeof PushErrorCode];

/** A push failure with a stable {@link PushErrorCode}. */
export class PushError extends HubbubError {
  declare readonly code: PushErrorCode;

  constructor(code: PushErrorCode, message: string, options: HubbubErrorOptions = {}) {
    super(code, message, options);
  }
}

export function isPushError(value: unknown, code?: PushErrorCode): value is PushError {
  return value instanceof PushError && (code === undefined || value.code === code);
}
