/**
 * The root of every Hubbub error: a stable `code` that callers and tests match on, an optional
 * HTTP `status` for errors that cross an HTTP boundary, and a chained `cause`.
 * @module
 */

export interface HubbubErrorOptions extends ErrorOptions {
  /** HTTP status to answer with when this error reaches an HTTP boundary. */
  status?: number;
  /** Extra machine-readable detail (the offending field, position, entity …). */
  detail?: Readonly<Record<string, unknown>>;
}

export class HubbubError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options: HubbubErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status;
    this.detail = options.detail;
  }

  /** The JSON body an HTTP boundary answers with. */
  toJSON(): { code: string; message: string; detail?: Readonly<Record<string, unknown>> } {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

/**
 * The one error idiom of the packages: each has one class over its own codes, and a table from code
 * to the HTTP status an HTTP boundary answers with (`static statuses`; codes absent from it, or a
 * class without one, carry none unless given):
 *
 * ```ts
 * export class BusError extends CodedError<BusErrorCode> {
 *   static readonly statuses = BusErrorStatus;
 * }
 * export const isBusError = codeGuard(BusError);
 * ```
 */
export abstract class CodedError<Code extends string> extends HubbubError {
  declare readonly code: Code;

  constructor(code: Code, message: string, options: HubbubErrorOptions = {}) {
    const status = options.status ?? (new.target as { statuses?: Readonly<Record<string, number>> }).statuses?.[code];
    super(code, message, status === undefined ? options : { ...options, status });
  }
}

/** `isXError(value, code?)` for an error class: an instance of it, with `code` when given. */
export function codeGuard<E extends HubbubError>(
  errorClass: abstract new (...args: never[]) => E,
): (value: unknown, code?: E['code']) => value is E {
  return (value: unknown, code?: E['code']): value is E =>
    value instanceof errorClass && (code === undefined || value.code === code);
}

/** Options given to a factory were invalid; thrown at construction, never later. */
export class InvalidOptionError extends HubbubError {
  constructor(option: string, message: string) {
    super('KERNEL_INVALID_OPTION', `${option}: ${message}`, { detail: { option } });
  }
}

/** An operation was abandoned because its AbortSignal fired or its owner closed. */
export class AbortedError extends HubbubError {
  constructor(message = 'The operation was aborted.', options: HubbubErrorOptions = {}) {
    super('KERNEL_ABORTED', message, options);
  }
}

export function isHubbubError(value: unknown, code?: string): value is HubbubError {
  return value instanceof HubbubError && (code === undefined || value.code === code);
}
