/**
 * How a value is stored: JSON data as its JSON text (so a number is its decimal digits, which
 * Redis `INCRBY` and any other reader understand), bytes as a NUL character followed by their
 * base64. No JSON text begins with NUL, so the first character tells the two apart. Values travel
 * as strings end to end because that is the cheapest path through the Redis client (and through
 * the memory engine); bytes pay a third more room for it. Pure; no I/O.
 * @module
 */
import { CacheError, CacheErrorCode } from './errors.ts';

const BYTES_TAG = '\u0000';

/** Serialises a value; throws CACHE_INVALID_VALUE for what JSON cannot carry. */
export function encodeValue(value: unknown): string {
  if (value instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return BYTES_TAG + bytes.toString('base64');
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new CacheError(CacheErrorCode.InvalidValue, 'The value is not JSON-serialisable.', { cause });
  }
  if (text === undefined) {
    throw new CacheError(CacheErrorCode.InvalidValue, `A ${typeof value} cannot be cached; use null for "nothing".`, {
      detail: { type: typeof value },
    });
  }
  return text;
}

/** Reads a stored value back: bytes as a fresh, plain Uint8Array, anything else as parsed JSON. */
export function decodeValue(stored: string, key: string): unknown {
  if (stored.charCodeAt(0) === 0) {
    const bytes = Buffer.from(stored.slice(1), 'base64');
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  try {
    return JSON.parse(stored);
  } catch (cause) {
    throw new CacheError(CacheErrorCode.InvalidValue, `The value stored at '${key}' was not written by this cache.`, {
      cause,
      detail: { key },
    });
  }
}

/** UTF-8 bytes of `text`, counted only when it could be over `limit`. */
export function utf8BytesOver(text: string, limit: number): number | undefined {
  if (text.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > limit ? bytes : undefined;
}
