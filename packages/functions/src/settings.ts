/**
 * App settings: `local.settings.json` `Values` overlaid with the settings the host was given (the CLI
 * passes the environment). `%Name%` references in binding properties resolve against them.
 * @module
 */
import { FunctionsError } from './errors.ts';

export type Settings = Readonly<Record<string, string>>;

export interface SettingScope {
  functionName: string;
  binding: string;
}

function missing(name: string, scope: SettingScope, why: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_SETTING',
    `Function "${scope.functionName}", binding "${scope.binding}": ${why}`,
    { detail: { setting: name, function: scope.functionName, binding: scope.binding } },
  );
}

/** Replaces every `%Name%` in `value` with the setting `Name`; a missing setting is an error. */
export function resolveSettingRefs(value: string, settings: Settings, scope: SettingScope): string {
  return value.replace(/%([^%\s]+)%/g, (_, name: string) => {
    const found = settings[name];
    if (found === undefined) throw missing(name, scope, `app setting "${name}" (referenced as %${name}%) is not set.`);
    return found;
  });
}

/** Resolves `%Name%` in every string property of a binding, recursively through arrays. */
export function resolveBindingSettings<T extends Record<string, unknown>>(
  binding: T,
  settings: Settings,
  scope: SettingScope,
): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(binding)) {
    if (typeof value === 'string') out[key] = resolveSettingRefs(value, settings, scope);
    else if (Array.isArray(value))
      out[key] = value.map((v) => (typeof v === 'string' ? resolveSettingRefs(v, settings, scope) : v));
    else out[key] = value;
  }
  return out as T;
}

/**
 * The value of a connection setting, looked up as Azure does: `name`, then `AzureWebJobs<name>`.
 * An unset or empty setting is an error naming the function and binding.
 */
export function connectionValue(settings: Settings, name: string, scope: SettingScope): string {
  const value = settings[name] ?? settings[`AzureWebJobs${name}`];
  if (value === undefined || value.trim() === '') {
    throw missing(name, scope, `connection setting "${name}" is not set (local.settings.json Values or environment).`);
  }
  return value;
}

/** Parses `Key=Value;Key2=Value2` (keys case-insensitive, stored lower-case); values may contain `=`. */
export function parseConnectionString(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    out[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim();
  }
  return out;
}

/** Validates a `settings` option: string values only. */
export function checkSettings(value: unknown, option: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `${option} must be an object of string values.`, {
      detail: { option },
    });
  }
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `${option}.${key} must be a string.`, {
        detail: { option, setting: key },
      });
    }
    out[key] = String(v);
  }
  return out;
}

/**
 * Throws FUNCTIONS_INVALID_SETTING naming `option` unless `value` is absent or a non-negative
 * integer, at most `max` where one is given.
 */
export function nonNegativeInteger(value: number | undefined, option: string, max?: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `${option} must be a non-negative integer.`, {
      detail: { option },
    });
  }
  if (max !== undefined && (value ?? 0) > max) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `${option} must be at most ${max}.`, { detail: { option } });
  }
}
