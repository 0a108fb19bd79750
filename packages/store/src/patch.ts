/**
 * Partial updates in the shape of Cosmos DB patch: `add`, `set`, `replace`, `remove`, `incr` and
 * `move`, each with a JSON Pointer `path` (`/tags/-` appends). The operations apply in order to a
 * copy of the item; any that cannot apply fails the whole patch with STORE_INVALID_PATCH naming
 * its index. The id, the partition key and the system properties cannot be patched.
 * @module
 */
import { StoreError } from './errors.ts';
import { systemProperties } from './item.ts';
import { isObject, type Json, type JsonObject, setOwn } from './json.ts';
import { unstorableJson } from './query/bind.ts';

export type PatchOperation =
  | { readonly op: 'add' | 'set' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'incr'; readonly path: string; readonly value: number }
  | { readonly op: 'remove'; readonly path: string }
  | { readonly op: 'move'; readonly from: string; readonly path: string };

/** Most operations in one patch (the Cosmos DB limit). */
export const MAX_PATCH_OPERATIONS = 10;

const ops = new Set(['add', 'set', 'replace', 'remove', 'incr', 'move']);

function patchError(index: number, path: string, message: string): StoreError {
  return new StoreError('STORE_INVALID_PATCH', `Patch operation ${index} (${path}): ${message}`, {
    detail: { index, path },
  });
}

/** Splits a JSON Pointer; `~1` is `/`, `~0` is `~`. */
function pointer(path: unknown, index: number): string[] {
  if (typeof path !== 'string' || !path.startsWith('/') || path === '/') {
    throw patchError(index, String(path), 'the path must be a JSON Pointer such as /status.');
  }
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Checks the operations' shape and values (the client does this before anything is sent), and
 * that none touches the id, the partition key (`keyPath`) or a system property. Returns copies
 * whose values are plain JSON.
 */
export function checkPatch(operations: unknown, keyPath: readonly string[]): PatchOperation[] {
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new StoreError('STORE_INVALID_PATCH', 'A patch needs a non-empty array of operations.', {
      detail: { index: -1 },
    });
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw new StoreError('STORE_INVALID_PATCH', `A patch holds at most ${MAX_PATCH_OPERATIONS} operations.`, {
      detail: { index: MAX_PATCH_OPERATIONS },
    });
  }
  return operations.map((raw: unknown, index): PatchOperation => {
    const o = raw as Record<string, unknown>;
    if (!isObject(o as Json) || !ops.has(o.op as string)) {
      throw patchError(index, String(o?.path), 'op must be add, set, replace, remove, incr or move.');
    }
    const path = o.path as string;
    const names = pointer(path, index);
    guard(names, keyPath, index, path);
    if (o.op === 'remove') return { op: 'remove', path };
    if (o.op === 'move') {
      guard(pointer(o.from, index), keyPath, index, path);
      if (path.startsWith(`${o.from as string}/`)) throw patchError(index, path, 'cannot move a value into itself.');
      return { op: 'move', from: o.from as string, path };
    }
    if (o.op === 'incr') {
      if (typeof o.value !== 'number' || !Number.isFinite(o.value))
        throw patchError(index, path, 'incr needs a number.');
      return { op: 'incr', path, value: o.value };
    }
    if (!Object.hasOwn(o, 'value') || o.value === undefined) throw patchError(index, path, `${o.op} needs a value.`);
    return { op: o.op as 'add', path, value: toJson(o.value, index, path) };
  });
}

function guard(names: readonly string[], keyPath: readonly string[], index: number, path: string): void {
  const top = names[0]!;
  if (names.length === 1 && (top === 'id' || (systemProperties as readonly string[]).includes(top))) {
    throw patchError(index, path, `${top} cannot be patched.`);
  }
  const n = Math.min(names.length, keyPath.length);
  if (names.slice(0, n).every((name, i) => name === keyPath[i])) {
    throw patchError(index, path, 'the partition key cannot be patched.');
  }
}

function toJson(value: unknown, index: number, path: string): Json {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw patchError(index, path, 'the value is not JSON.');
  if (unstorableJson.test(text))
    throw patchError(index, path, 'the value holds a NUL character or an unpaired surrogate.');
  return JSON.parse(text) as Json;
}

type Container = JsonObject | Json[];

/** The container holding the target, and the target's key in it; the parents must exist. */
function parentOf(doc: JsonObject, names: readonly string[], index: number, path: string): [Container, string] {
  let at: Json = doc;
  for (const name of names.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(at)
      ? at[arrayIndex(name, at.length - 1)]
      : isObject(at)
        ? at[name]
        : undefined;
    if (next === undefined || typeof next !== 'object' || next === null) {
      throw patchError(index, path, 'its parent does not exist or is not an object or array.');
    }
    at = next;
  }
  return [at as Container, names[names.length - 1]!];
}

/** An array index no greater than `max`, or -1. */
function arrayIndex(name: string, max: number): number {
  if (!/^(0|[1-9][0-9]*)$/.test(name)) return -1;
  const n = Number(name);
  return n <= max ? n : -1;
}

/** Applies checked operations to a copy of `doc`. */
export function applyPatch(doc: JsonObject, operations: readonly PatchOperation[]): JsonObject {
  const out = structuredClone(doc);
  operations.forEach((o, index) => {
    const path = o.path;
    if (o.op === 'move') {
      const value = take(out, pointer(o.from, index), index, o.from);
      put(out, pointer(path, index), value, 'add', index, path);
    } else if (o.op === 'remove') {
      take(out, pointer(path, index), index, path);
    } else if (o.op === 'incr') {
      increment(out, pointer(path, index), o.value, index, path);
    } else {
      put(out, pointer(path, index), o.value as Json, o.op, index, path);
    }
  });
  return out;
}

function take(doc: JsonObject, names: readonly string[], index: number, path: string): Json {
  const [parent, key] = parentOf(doc, names, index, path);
  if (Array.isArray(parent)) {
    const i = arrayIndex(key, parent.length - 1);
    if (i < 0) throw patchError(index, path, 'no such array element.');
    return parent.splice(i, 1)[0]!;
  }
  if (!Object.hasOwn(parent, key)) throw patchError(index, path, 'no such property.');
  const value = parent[key]!;
  delete parent[key];
  return value;
}

function put(doc: JsonObject, names: readonly string[], value: Json, op: string, index: number, path: string): void {
  const [parent, key] = parentOf(doc, names, index, path);
  if (!Array.isArray(parent)) {
    if (op === 'replace' && !Object.hasOwn(parent, key)) throw patchError(index, path, 'no such property to replace.');
    setOwn(parent, key, value);
    return;
  }
  if (key === '-' && op !== 'replace') {
    parent.push(value);
    return;
  }
  const i = arrayIndex(key, op === 'add' ? parent.length : parent.length - 1);
  if (i < 0) throw patchError(index, path, 'the array index is out of range.');
  if (op === 'add') parent.splice(i, 0, value);
  else parent[i] = value;
}

function increment(doc: JsonObject, names: readonly string[], by: number, index: number, path: string): void {
  const [parent, key] = parentOf(doc, names, index, path);
  const i = Array.isArray(parent) ? arrayIndex(key, parent.length - 1) : -1;
  const current = Array.isArray(parent) ? parent[i] : parent[key];
  if (current === undefined && Array.isArray(parent)) throw patchError(index, path, 'no such array element.');
  if (current !== undefined && typeof current !== 'number') throw patchError(index, path, 'incr needs a number there.');
  const next = (current ?? 0) + by;
  if (!Number.isFinite(next)) throw patchError(index, path, 'the result is not a finite number.');
  if (Array.isArray(parent)) parent[i] = next;
  else setOwn(parent, key, next);
}
