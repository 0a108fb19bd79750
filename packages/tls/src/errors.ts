/**
 * TLS errors: one class, stable codes. Callers and tests match on `code`, never on message text.
 * Bad options are the kernel's `KERNEL_INVALID_OPTION`, thrown by `ensureLocalCa()`.
 * @module
 */
import { CodedError, codeGuard } from '@hubbub/kernel';

/** Every code the local CA fails with (add new ones here, with a line in docs/errors.md). */
export const TlsErrorCode = {
  /** The local CA's directory could not be read, written or locked (`detail.path`); the cause is chained. */
  Unavailable: 'TLS_UNAVAILABLE',
} as const;

export type TlsErrorCode = (typeof TlsErrorCode)[keyof typeof TlsErrorCode];

/** A local CA failure with a stable {@link TlsErrorCode}. */
export class TlsError extends CodedError<TlsErrorCode> {}

export const isTlsError = codeGuard(TlsError);
