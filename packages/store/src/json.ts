/**
 * JSON values as the store compares them — one definition shared by the in-process query
 * evaluator, the item checks and the memory driver, so that every driver orders and matches the
 * same way the SQL translation does: strings in code point order (PostgreSQL's `COLLATE "C"`),
 * numbers by value, equality deep and key-order-free (jsonb `=`), containment as jsonb `@>`.
 * @module
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A value in a query: undefined is Cosmos's "undefined" (a missing property). */
export type Value = Json | undefined;

export type TypeName = 'undefined' | 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

export function typeName(v: Value): TypeName {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as 'boolean' | 'number' | 'string' | 'object';
}

export function isObject(v: Value): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Sort rank of a value's type in ORDER BY: undefined < null < false < true < numbers < strings <
 * arrays < objects. The SQL translation computes the same rank (see `query/sql.ts`).
 */
export function sortRank(v: Value): number {
  switch (typeName(v)) {
    case 'undefined':
      return 0;
    case 'null':
      return 1;
    case 'boolean':
      return v === true ? 3 : 2;
    case 'number':
      return 4;
    case 'string':
      return 5;
    case 'array':
      return 6;
    default:
      return 7;
  }
}

/** Maps a UTF-16 code unit so that code-unit order becomes code-point order (surrogates sort last). */
const fixup = (c: number): number => (c >= 0xd800 ? (c >= 0xe000 ? c - 0x800 : c + 0x2000) : c);

/** Compares strings by Unicode code point, as PostgreSQL's "C" collation compares UTF-8 bytes. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

/** Deep equality of two JSON values of the same type (jsonb `=`); false across types. */
export function jsonEquals(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEquals(a[i]!, b[i]!)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(b, k) || !jsonEquals(a[k]!, b[k]!)) return false;
  }
  return true;
}

/** jsonb containment below the top level (`a @> b`): objects by key subset, arrays by element subset. */
export function jsonContains(a: Json, b: Json): boolean {
  if (isObject(a) && isObject(b)) {
    for (const k of Object.keys(b)) if (!Object.hasOwn(a, k) || !jsonContains(a[k]!, b[k]!)) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) return b.every((x) => a.some((y) => jsonContains(y, x)));
  if (typeof a === 'object' || typeof b === 'object') return a === null && b === null;
  return a === b;
}

/** Sets an own property, even one named `__proto__` (a plain assignment would set the prototype). */
export function setOwn(target: JsonObject, key: string, value: Json): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

/** Splits a partition key path (`/customer/id`) into its property names. */
export function splitPath(path: string): string[] {
  return path.split('/').slice(1);
}

/** The value at `names` in `doc`, undefined when any step is missing or not an object. */
export function valueAt(doc: Json, names: readonly string[]): Value {
  let at: Value = doc;
  for (const name of names) {
    if (!isObject(at) || !Object.hasOwn(at, name)) return undefined;
    at = at[name];
  }
  return at;
}

/** 32-bit FNV-1a of a string's UTF-16 code units: the partition → feed range hash. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
