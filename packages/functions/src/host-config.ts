/**
 * host.json and local.settings.json, read once at start. Each extension reads its own section of
 * host.json `extensions` (with the helpers here, so every bad value fails the same way).
 * @module
 */
import { join } from 'node:path';
import { readJsonFile } from './app-loader.ts';
import { FunctionsError } from './errors.ts';
import { type LogLevelTable, parseLogLevels } from './log-levels.ts';

/** host.json: the sections of `extensions`, each handed to the extension of that name. */
export interface HostJson {
  readonly extensions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** `functionTimeout` in ms; undefined for unbounded ("-1" or null). */
  readonly functionTimeoutMs: number | undefined;
  /** `logging.logLevel`: each category's least level (see `log-levels.ts`); undefined when absent. */
  readonly logLevels: LogLevelTable | undefined;
}

/**
 * host.json `functionTimeout` when absent: 30 minutes, Azure's default on Premium and Dedicated
 * plans. A self-hosted host is not billed per second as Consumption is (5 minutes there), but a
 * handler that never settles must not hold its request and its concurrency slot forever.
 */
export const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;
/** The bounds of `functionTimeout`: 1 second to 24 hours (or "-1"/null: unbounded). */
export const MIN_FUNCTION_TIMEOUT_MS = 1000;
export const MAX_FUNCTION_TIMEOUT_MS = 24 * 3_600_000;

/** host.json `functionTimeout` (`hh:mm:ss`) in ms, undefined for unbounded ("-1" or null). */
export function functionTimeoutMs(value: unknown): number | undefined {
  if (value === null || value === '-1' || value === -1) return undefined;
  const ms = timeSpanMs(value, DEFAULT_FUNCTION_TIMEOUT_MS, 'functionTimeout');
  if (ms < MIN_FUNCTION_TIMEOUT_MS || ms > MAX_FUNCTION_TIMEOUT_MS) {
    throw new FunctionsError(
      'FUNCTIONS_INVALID_SETTING',
      'host.json functionTimeout must be between "00:00:01" and "24:00:00", or "-1" for none.',
      { detail: { field: 'functionTimeout' } },
    );
  }
  return ms;
}

/** A positive integer host.json value, `fallback` when absent; `field` names it in the error. */
export function positiveInteger(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `host.json ${field} must be a positive integer.`, {
      detail: { field },
    });
  }
  return value;
}

/** A host.json TimeSpan (`[d.]hh:mm:ss[.fff]`) in ms, `fallback` when absent. */
export function timeSpanMs(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  const m =
    typeof value === 'string' ? /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(value.trim()) : null;
  if (m === null) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `host.json ${field} must be a TimeSpan such as "00:05:00".`, {
      detail: { field },
    });
  }
  const [, d = '0', h = '0', min = '0', sec = '0', ms = '0'] = m;
  return (((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(sec)) * 1000 + Number(ms.padEnd(3, '0'));
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export async function readHostJson(appDir: string): Promise<HostJson> {
  const json = await readJsonFile<{ extensions?: unknown; functionTimeout?: unknown; logging?: unknown }>(
    join(appDir, 'host.json'),
    'host.json',
    true,
  );
  const extensions: Record<string, Readonly<Record<string, unknown>>> = {};
  if (isRecord(json?.extensions)) {
    for (const [name, section] of Object.entries(json.extensions)) if (isRecord(section)) extensions[name] = section;
  }
  return {
    extensions,
    functionTimeoutMs: functionTimeoutMs(json?.functionTimeout),
    logLevels: parseLogLevels(json?.logging),
  };
}

/** `Values` of local.settings.json (absent file → {}). */
export async function readLocalSettings(appDir: string): Promise<Record<string, string>> {
  const json = await readJsonFile<{ Values?: unknown }>(
    join(appDir, 'local.settings.json'),
    'local.settings.json',
    true,
  );
  const values = json?.Values;
  if (values === undefined) return {};
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', 'local.settings.json "Values" must be an object.', {
      detail: { field: 'Values' },
    });
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `local.settings.json Values.${key} must be a string.`, {
        detail: { field: `Values.${key}`, setting: key },
      });
    }
    out[key] = String(value);
  }
  return out;
}
