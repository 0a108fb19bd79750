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
  /**
   * Whether lines of `level` are written, so a caller can skip the work of making one (a clock
   * read and a listener per request). Absent: assume they are.
   */
  isLevelEnabled?(level: LogLevel): boolean;
}

/** Whether `logger` writes lines of `level` (true when it cannot say). */
export const logsAt = (logger: Logger, level: LogLevel): boolean => logger.isLevelEnabled?.(level) ?? true;

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
  isLevelEnabled: () => false,
};

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface ConsoleLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /** Where lines go. @default process.stderr */
  write?: (line: string) => void;
  /** Fields on every line. @default {} */
  bindings?: Record<string, unknown>;
  /**
   * `json`: one JSON object per line (for files and collectors); `pretty`: one readable line per
   * entry, `time LEVEL [scope] message key=value`, the error below it (for a terminal).
   * @default 'json'
   */
  format?: 'json' | 'pretty';
  /** Colour the level and dim the time in `pretty` lines (ANSI). @default false */
  color?: boolean;
}

/** How many different stack traces a logger remembers, to print each one in full only once. */
const STACKS_REMEMBERED = 256;

/**
 * Writes `json` lines with pino-compatible field names (`level`, `time`, `msg`) or `pretty`
 * lines. An error's stack trace is written in full the first time; the same trace again (a poison
 * message failing on every delivery) is written as one line saying how often it repeated.
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  return makeLogger(options, options.bindings ?? {}, new Map());
}

function makeLogger(options: ConsoleLoggerOptions, bindings: Record<string, unknown>, stacks: Map<string, number>) {
  const min = rank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const pretty = options.format === 'pretty';
  const at =
    (level: LogLevel) =>
    (fields: Record<string, unknown>, msg: string): void => {
      if (rank[level] < min) return;
      const error = fields.err instanceof Error ? serializeError(fields.err, stacks) : undefined;
      if (pretty) {
        write(prettyLine(level, { ...bindings, ...fields }, msg, error, options.color === true));
        return;
      }
      const err = error === undefined ? {} : { err: error };
      write(`${JSON.stringify({ level, time: Date.now(), ...bindings, ...fields, ...err, msg }, bigintAsString)}\n`);
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => makeLogger(options, { ...bindings, ...fields }, stacks),
    isLevelEnabled: (level) => rank[level] >= min,
  };
  return logger;
}

/** A bigint (a sequence number) is written as its decimal string: JSON.stringify throws on one. */
const bigintAsString = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? String(value) : value);

interface SerializedError {
  type: string;
  message: string;
  code?: unknown;
  stack?: string | undefined;
  /** Set instead of `stack` when this trace was logged before: how many times it has been seen. */
  repeated?: number;
}

function serializeError(err: Error, stacks: Map<string, number>): SerializedError {
  const code = (err as { code?: unknown }).code;
  const base: SerializedError = { type: err.name, message: err.message, ...(code === undefined ? {} : { code }) };
  if (err.stack === undefined) return base;
  // The frames, without the first line (the message may carry ids that differ every time).
  const frames = `${err.name}\n${err.stack.split('\n').slice(1).join('\n')}`;
  const seen = stacks.get(frames);
  if (seen === undefined) {
    if (stacks.size >= STACKS_REMEMBERED) stacks.delete(stacks.keys().next().value as string);
    stacks.set(frames, 1);
    return { ...base, stack: err.stack };
  }
  stacks.set(frames, seen + 1);
  return { ...base, repeated: seen + 1 };
}

const ansi = { dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', reset: '\x1b[0m' };
const levelColor: Record<LogLevel, string> = { debug: ansi.dim, info: ansi.green, warn: ansi.yellow, error: ansi.red };

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'bigint') return String(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value, bigintAsString) ?? String(value);
}

function prettyLine(
  level: LogLevel,
  fields: Record<string, unknown>,
  msg: string,
  error: SerializedError | undefined,
  color: boolean,
): string {
  const paint = (code: string, text: string) => (color ? `${code}${text}${ansi.reset}` : text);
  const time = new Date().toISOString().slice(11, 23);
  const { part, err: _err, ...rest } = fields;
  const scope = part === undefined ? '' : `[${String(part)}] `;
  // A field the message already says (an id, an entity) is not repeated after it.
  const pairs = Object.entries(rest)
    .filter(
      ([, v]) => v !== undefined && !((typeof v === 'string' || typeof v === 'bigint') && msg.includes(String(v))),
    )
    .map(([k, v]) => `${k}=${prettyValue(v)}`)
    .join(' ');
  let line = `${paint(ansi.dim, time)} ${paint(levelColor[level], level.toUpperCase().padEnd(5))} ${scope}${msg}${pairs === '' ? '' : `  ${paint(ansi.dim, pairs)}`}\n`;
  if (error !== undefined) {
    const code = error.code === undefined ? '' : ` [${String(error.code)}]`;
    line += `  ${error.type}: ${error.message}${code}\n`;
    if (error.repeated !== undefined)
      line += paint(ansi.dim, `    (same stack trace as before, ${error.repeated} times now)\n`);
    else if (error.stack !== undefined) line += `${paint(ansi.dim, error.stack.split('\n').slice(1).join('\n'))}\n`;
  }
  return line;
}
