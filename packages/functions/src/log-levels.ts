/**
 * host.json `logging.logLevel`: the least level a category's lines are written at, as Azure's host
 * filters them. Categories are Azure's: `Function.<name>` (the `Executing` / `Executed` lines of a
 * function), `Function.<name>.User` (what its code logs through the context), `Function` (every
 * function) and `default`. A line's category takes the most specific key that is the category
 * itself or one of its dot-separated prefixes (case-insensitive), else `default`, else no filter
 * beyond the host's logger. Levels: Trace, Debug, Information, Warning, Error, Critical, None.
 *
 * ```json
 * { "logging": { "logLevel": { "Function.forwardLocation": "Warning", "default": "Information" } } }
 * ```
 * @module
 */
import type { LogLevel } from '@hubbub/kernel';
import { FunctionsError } from './errors.ts';

/** A category's least level; `none` writes nothing. */
export type Threshold = LogLevel | 'none';

/** `logging.logLevel` as read: lower-cased category → threshold. */
export type LogLevelTable = Readonly<Record<string, Threshold>>;

/** Azure's level names (host.json's, any case; the worker's RPC log levels), lower-cased, as thresholds. */
const AZURE_LOG_LEVELS: Readonly<Record<string, Threshold>> = {
  trace: 'debug',
  debug: 'debug',
  information: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
  none: 'none',
};

/** The threshold of an Azure level name in lower case (the RPC log levels); undefined when it is none of them. */
export const azureThreshold = (name: string): Threshold | undefined =>
  Object.hasOwn(AZURE_LOG_LEVELS, name) ? AZURE_LOG_LEVELS[name] : undefined;

const rank: Readonly<Record<Threshold, number>> = { debug: 10, info: 20, warn: 30, error: 40, none: 50 };

/** Reads host.json `logging.logLevel` (absent: no table); a bad value fails with FUNCTIONS_INVALID_SETTING. */
export function parseLogLevels(logging: unknown): LogLevelTable | undefined {
  if (logging === undefined || logging === null) return undefined;
  const invalid = (field: string, message: string) =>
    new FunctionsError('FUNCTIONS_INVALID_SETTING', `host.json ${field} ${message}`, { detail: { field } });
  if (typeof logging !== 'object' || Array.isArray(logging)) throw invalid('logging', 'must be an object.');
  const levels = (logging as { logLevel?: unknown }).logLevel;
  if (levels === undefined || levels === null) return undefined;
  if (typeof levels !== 'object' || Array.isArray(levels)) throw invalid('logging.logLevel', 'must be an object.');
  const table: Record<string, Threshold> = Object.create(null);
  for (const [category, value] of Object.entries(levels)) {
    const threshold = typeof value === 'string' ? azureThreshold(value.toLowerCase()) : undefined;
    if (threshold === undefined || category === '') {
      throw invalid(
        `logging.logLevel.${category}`,
        'must be one of Trace, Debug, Information, Warning, Error, Critical or None.',
      );
    }
    table[category.toLowerCase()] = threshold;
  }
  return table;
}

/** Each table's answers by category, worked out once: a function logs under the same few categories. */
const answered = new WeakMap<LogLevelTable, Map<string, Threshold | undefined>>();

/** The threshold of `category`: its most specific key, else `default`; undefined when none applies. */
export function thresholdOf(table: LogLevelTable | undefined, category: string): Threshold | undefined {
  if (table === undefined) return undefined;
  let answers = answered.get(table);
  if (answers === undefined) {
    answers = new Map();
    answered.set(table, answers);
  }
  if (!answers.has(category)) answers.set(category, lookUp(table, category.toLowerCase()));
  return answers.get(category);
}

function lookUp(table: LogLevelTable, name: string): Threshold | undefined {
  // Own keys only: the table crosses to worker threads as a plain object.
  for (;;) {
    if (Object.hasOwn(table, name)) return table[name];
    const dot = name.lastIndexOf('.');
    if (dot < 0) return Object.hasOwn(table, 'default') ? table.default : undefined;
    name = name.slice(0, dot);
  }
}

/** Whether a line of `level` passes `threshold` (no threshold: it does). */
export const passes = (threshold: Threshold | undefined, level: LogLevel): boolean =>
  threshold === undefined || rank[level] >= rank[threshold];
