/**
 * The console logger of the commands and apps: readable, coloured lines on a terminal and JSON
 * lines when the output is piped or `--log-format json` (or `$HUBBUB_LOG_FORMAT`) asks for it;
 * colour off under `$NO_COLOR`.
 * @module
 */
import { createConsoleLogger, type Logger, type LogLevel } from '@hubbub/kernel';
import { UsageError } from './args.ts';

export type LogFormat = 'pretty' | 'json';

export const logFlagsHelp = `  --log-level L       debug, info (default), warn, error ($HUBBUB_LOG_LEVEL)
  --log-format F      pretty (default on a terminal) or json (default when piped) ($HUBBUB_LOG_FORMAT;
                      $NO_COLOR turns colour off)`;

const env = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
};

/** Checks `--log-level` / `--log-format` (or their variables) and makes the logger they ask for. */
export function consoleLogger(
  flags: { level?: string | undefined; format?: string | undefined },
  bindings?: Record<string, unknown>,
): Logger {
  const level = flags.level ?? env('HUBBUB_LOG_LEVEL') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new UsageError(`--log-level: '${level}' is not one of debug, info, warn, error.`);
  }
  const terminal = process.stderr.isTTY === true;
  const format = flags.format ?? env('HUBBUB_LOG_FORMAT') ?? (terminal ? 'pretty' : 'json');
  if (format !== 'pretty' && format !== 'json') {
    throw new UsageError(`--log-format: '${format}' is not one of pretty, json.`);
  }
  return createConsoleLogger({
    level: level as LogLevel,
    format,
    color: format === 'pretty' && terminal && env('NO_COLOR') === undefined,
    ...(bindings === undefined ? {} : { bindings }),
  });
}
