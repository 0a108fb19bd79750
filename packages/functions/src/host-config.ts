/**
 * host.json and local.settings.json, read once at start.
 * @module
 */
import { join } from 'node:path';
import { readJsonFile } from './app-loader.ts';
import { FunctionsError } from './errors.ts';

export interface HostConfig {
  /** extensions.http.routePrefix. @default 'api' */
  readonly routePrefix: string;
  /** extensions.serviceBus.maxConcurrentCalls (also read from messageHandlerOptions). @default 16 */
  readonly maxConcurrentCalls: number;
  /** extensions.serviceBus.maxConcurrentSessions. @default 8 */
  readonly maxConcurrentSessions: number;
  /** extensions.serviceBus.maxMessageBatchSize (cardinality 'many'). @default 1000 */
  readonly maxMessageBatchSize: number;
  /** extensions.serviceBus.maxAutoLockRenewalDuration in ms (`hh:mm:ss` in host.json). @default 300_000 */
  readonly maxAutoLockRenewalMs: number;
}

interface HostJson {
  version?: string;
  extensions?: {
    http?: { routePrefix?: unknown };
    serviceBus?: {
      maxConcurrentCalls?: unknown;
      maxConcurrentSessions?: unknown;
      maxMessageBatchSize?: unknown;
      maxAutoLockRenewalDuration?: unknown;
      messageHandlerOptions?: { maxConcurrentCalls?: unknown };
      sessionHandlerOptions?: { maxConcurrentSessions?: unknown };
    };
  };
}

function positive(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `host.json ${field} must be a positive integer.`, {
      detail: { field },
    });
  }
  return value;
}

/** A host.json TimeSpan (`[d.]hh:mm:ss[.fff]`) in ms. */
function timeSpan(value: unknown, fallback: number, field: string): number {
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

export async function readHostConfig(appDir: string): Promise<HostConfig> {
  const json = (await readJsonFile<HostJson>(join(appDir, 'host.json'), 'host.json', true)) ?? {};
  const prefix = json.extensions?.http?.routePrefix;
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', 'host.json extensions.http.routePrefix must be a string.', {
      detail: { field: 'extensions.http.routePrefix' },
    });
  }
  const sb = json.extensions?.serviceBus ?? {};
  return {
    routePrefix: (prefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    maxConcurrentCalls: positive(
      sb.maxConcurrentCalls ?? sb.messageHandlerOptions?.maxConcurrentCalls,
      16,
      'extensions.serviceBus.maxConcurrentCalls',
    ),
    maxConcurrentSessions: positive(
      sb.maxConcurrentSessions ?? sb.sessionHandlerOptions?.maxConcurrentSessions,
      8,
      'extensions.serviceBus.maxConcurrentSessions',
    ),
    maxMessageBatchSize: positive(sb.maxMessageBatchSize, 1000, 'extensions.serviceBus.maxMessageBatchSize'),
    maxAutoLockRenewalMs: timeSpan(
      sb.maxAutoLockRenewalDuration,
      300_000,
      'extensions.serviceBus.maxAutoLockRenewalDuration',
    ),
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
