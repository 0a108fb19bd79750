/**
 * What makes a valid item, and how one is stamped: id rules, partition key values and their
 * encoding, system properties, TTL, the size limit. Shared by the client (create, upsert, replace)
 * and the drivers (patch builds its new version itself).
 * @module
 */
import { invalidItem, StoreError } from './errors.ts';
import { fnv1a, type JsonObject, valueAt } from './json.ts';
import { unstorableJson } from './query/bind.ts';

/** Properties the store sets; a caller that sets one gets STORE_RESERVED_PROPERTY. */
export const systemProperties = ['_etag', '_ts', '_rid', '_self', '_attachments', '_lsn'] as const;

/** The item size limit Cosmos DB has: 2 MiB of JSON, system properties included. */
export const DEFAULT_MAX_ITEM_BYTES = 2 * 1_048_576;

/** Longest partition key value, in characters of its JSON encoding. */
const MAX_KEY_LENGTH = 1_024;

export type PartitionKey = string | number | boolean | null;

/** Checks an item id: a non-empty string of at most 255 characters without `/ \ ? #`. */
export function checkId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || id.length === 0) throw invalidItem(field, `${field} must be a non-empty string.`);
  if (id.length > 255) throw invalidItem(field, `${field} is longer than 255 characters.`);
  if (/[/\\?#]/.test(id)) throw invalidItem(field, `${field} must not contain '/', '\\', '?' or '#'.`);
  if (unstorableJson.test(JSON.stringify(id))) {
    throw invalidItem(field, `${field} holds a NUL character or an unpaired surrogate.`);
  }
  return id;
}

/** JSON-encodes a partition key value (the drivers' partition identity). */
export function encodePartitionKey(value: unknown, field = 'partitionKey'): string {
  const ok =
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value));
  if (!ok) {
    throw new StoreError(
      'STORE_INVALID_REQUEST',
      `${field}: a partition key is a string, finite number, boolean or null.`,
      {
        detail: { option: field },
      },
    );
  }
  const text = JSON.stringify(Object.is(value, -0) ? 0 : value);
  if (text.length > MAX_KEY_LENGTH || unstorableJson.test(text)) {
    throw new StoreError('STORE_INVALID_REQUEST', `${field}: the partition key is too long or holds a NUL character.`, {
      detail: { option: field },
    });
  }
  return text;
}

/** The encoded partition key of an item; the property at the path must be there. */
export function partitionKeyOf(doc: JsonObject, path: readonly string[], pathText: string): string {
  const value = valueAt(doc, path);
  if (value === undefined) throw invalidItem(pathText, `The item has no partition key at ${pathText}.`);
  if (typeof value === 'object' && value !== null) {
    throw invalidItem(pathText, `The partition key at ${pathText} must be a string, number, boolean or null.`);
  }
  const text = JSON.stringify(value);
  if (text.length > MAX_KEY_LENGTH) throw invalidItem(pathText, `The partition key at ${pathText} is too long.`);
  return text;
}

/** The change-feed range a partition hashes into. */
export function feedRange(key: string, ranges: number): number {
  return fnv1a(key) % ranges;
}

/**
 * When an item expires (ms since the epoch), from its `ttl` and the container's `defaultTtl`, the
 * way Cosmos DB reads them: TTL off on the container → never; item `ttl` -1 → never; a positive
 * item `ttl` wins over the default; default -1 → never. Throws STORE_INVALID_ITEM for a bad `ttl`.
 */
export function expiryOf(doc: JsonObject, defaultTtl: number | undefined, now: number): number | null {
  const ttl = doc.ttl;
  if (ttl !== undefined && !(ttl === -1 || (Number.isSafeInteger(ttl) && (ttl as number) > 0))) {
    throw invalidItem('ttl', 'ttl must be -1 or a positive integer of seconds.');
  }
  if (defaultTtl === undefined) return null;
  const seconds = (ttl as number | undefined) ?? defaultTtl;
  return seconds === -1 ? null : now + seconds * 1000;
}

/**
 * An item's JSON text with fresh system properties appended, checked for what jsonb cannot hold
 * and for size. `body` must not carry system properties.
 */
export function stampItem(body: JsonObject, etag: string, ts: number, maxBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (cause) {
    throw new StoreError('STORE_INVALID_ITEM', 'The item is not serialisable as JSON.', {
      detail: { field: '' },
      cause,
    });
  }
  if (text === undefined) throw invalidItem('', 'The item is not serialisable as JSON.');
  if (unstorableJson.test(text)) throw invalidItem('', 'The item holds a NUL character or an unpaired surrogate.');
  const system = `"_etag":${JSON.stringify(etag)},"_ts":${ts}}`;
  const json = text === '{}' ? `{${system}` : `${text.slice(0, -1)},${system}`;
  const size = Buffer.byteLength(json);
  if (size > maxBytes) {
    throw new StoreError('STORE_TOO_LARGE', `The item is ${size} bytes, over the limit of ${maxBytes}.`, {
      detail: { size, limit: maxBytes },
    });
  }
  return json;
}

/** A copy of an item without its system properties. */
export function withoutSystemProperties(doc: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.entries(doc).filter(([k]) => !(systemProperties as readonly string[]).includes(k)),
  ) as JsonObject;
}
