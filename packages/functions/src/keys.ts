/**
 * Function keys for `authLevel: 'function' | 'admin'`: a master key (admin), host keys (any
 * function) and per-function keys, presented as `x-functions-key` or the `code` query parameter.
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface FunctionKeysOptions {
  /** Admin key; also accepted for every function. @default random (see `host.keys`) */
  master?: string;
  /** Keys accepted for every function-level function. @default one random key */
  host?: string | readonly string[];
  /** Keys accepted only for the named function. @default {} */
  functions?: Readonly<Record<string, string | readonly string[]>>;
}

export interface FunctionKeys {
  readonly master: string;
  readonly host: readonly string[];
  readonly functions: Readonly<Record<string, readonly string[]>>;
}

const list = (v: string | readonly string[] | undefined): string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : [...v];

export function createFunctionKeys(options: FunctionKeysOptions = {}): FunctionKeys {
  const random = () => randomBytes(30).toString('base64url');
  const host = list(options.host);
  const functions: Record<string, string[]> = {};
  for (const [name, keys] of Object.entries(options.functions ?? {})) functions[name] = list(keys);
  return { master: options.master ?? random(), host: host.length > 0 ? host : [random()], functions };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `presented` opens a function of `authLevel` named `functionName`. */
export function authorize(
  keys: FunctionKeys,
  authLevel: string,
  functionName: string,
  presented: string | undefined,
): boolean {
  const level = authLevel.toLowerCase();
  if (level === 'anonymous') return true;
  if (presented === undefined || presented === '') return false;
  if (same(presented, keys.master)) return true;
  if (level === 'admin') return false;
  return [...keys.host, ...(keys.functions[functionName] ?? [])].some((k) => same(presented, k));
}

/** Setting names that carry keys (`options.keys` wins over them). */
export const KEY_SETTINGS = {
  master: 'HUBBUB_FUNCTIONS_MASTER_KEY',
  /** Comma-separated host keys. */
  host: 'HUBBUB_FUNCTIONS_HOST_KEYS',
  /** Prefix of per-function keys: `HUBBUB_FUNCTIONS_KEY_<functionName>` (comma-separated). */
  functionPrefix: 'HUBBUB_FUNCTIONS_KEY_',
} as const;

/** Keys named by settings, overlaid with explicit options. */
export function keysFromSettings(
  settings: Readonly<Record<string, string>>,
  options: FunctionKeysOptions = {},
): FunctionKeysOptions {
  const split = (v: string | undefined) =>
    v === undefined
      ? undefined
      : v
          .split(',')
          .map((k) => k.trim())
          .filter(Boolean);
  const functions: Record<string, readonly string[]> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (name.startsWith(KEY_SETTINGS.functionPrefix))
      functions[name.slice(KEY_SETTINGS.functionPrefix.length)] = split(value) ?? [];
  }
  const master = options.master ?? settings[KEY_SETTINGS.master];
  const host = options.host ?? split(settings[KEY_SETTINGS.host]);
  return {
    ...(master === undefined || master === '' ? {} : { master }),
    ...(host === undefined || host.length === 0 ? {} : { host }),
    functions: { ...functions, ...(options.functions ?? {}) },
  };
}
