/**
 * Shape checks shared by both codecs. Each throws `HUB_PROTOCOL_INVALID_MESSAGE` naming the field.
 * @module
 */
import { invalidMessage } from './errors.ts';
import type { Headers } from './messages.ts';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function requireString(value: unknown, field: string, type: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidMessage(`${type}: '${field}' must be a non-empty string.`);
  }
  return value;
}

export function requireArray(value: unknown, field: string, type: string): unknown[] {
  if (!Array.isArray(value)) throw invalidMessage(`${type}: '${field}' must be an array.`);
  return value;
}

export function requireStringArray(value: unknown, field: string, type: string): string[] {
  const array = requireArray(value, field, type);
  for (const item of array) {
    if (typeof item !== 'string') throw invalidMessage(`${type}: '${field}' must hold only strings.`);
  }
  return array as string[];
}

export function requireSequenceId(value: unknown, type: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidMessage(`${type}: 'sequenceId' must be an integer >= 0.`);
  }
  return value;
}

/** Validates a headers map; returns `undefined` for an empty one so messages stay lean. */
export function readHeaders(value: unknown, type: string): Headers | undefined {
  if (!isPlainObject(value)) throw invalidMessage(`${type}: 'headers' must be a map of strings.`);
  let empty = true;
  for (const key in value) {
    if (typeof value[key] !== 'string') throw invalidMessage(`${type}: header '${key}' must be a string.`);
    empty = false;
  }
  return empty ? undefined : (value as Headers);
}

/** True when a headers map is absent or has no keys. */
export function isEmptyHeaders(headers: Headers | undefined): boolean {
  if (headers === undefined) return true;
  for (const _ in headers) return false;
  return true;
}
