/**
 * The logger port. Library code receives a `Logger` and never calls `console.*`; apps pass pino or
 * {@link createConsoleLogger}.
 * @module
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /** A logger whose every line carries `fields` (a scope such as `{ hub: 'chat' }`). */
  child(fields: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface ConsoleLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /** Where lines go. @default process.stderr */
  write?: (line: string) => void;
  /** Fields on every line. @default {} */
  bindings?: Record<string, unknown>;
}

/** One JSON object per line, pino-compatible field names (`level`, `time`, `msg`). */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = rank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const bindings = options.bindings ?? {};
  const at =
    (level: LogLevel) =>
    (fields: Record<string, unknown>, msg: string): void => {
      if (rank[level] < min) return;
      const err = fields.err instanceof Error ? { err: serializeError(fields.err) } : {};
      write(`${JSON.stringify({ level, time: Date.now(), ...bindings, ...fields, ...err, msg })}\n`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => createConsoleLogger({ ...options, bindings: { ...bindings, ...fields } }),
  };
}

function serializeError(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(code === undefined ? {} : { code }), stack: err.stack };
}
