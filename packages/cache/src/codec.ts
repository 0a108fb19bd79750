/**
 * How a value is stored: JSON data as its JSON text (so a number is its decimal digits, which
 * Redis `INCRBY` and any other reader understand), bytes as a 0x00 tag followed by the bytes. No
 * JSON text begins with 0x00, so the first byte tells the two apart. Pure; no I/O.
 * @module
 */
import { CacheError, CacheErrorCode } from './errors.ts';

const BYTES_TAG = 0x00;

/** Serialises a value; throws CACHE_INVALID_VALUE for what JSON cannot carry. */
export function encodeValue(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    const out = Buffer.allocUnsafe(value.byteLength + 1);
    out[0] = BYTES_TAG;
    out.set(value, 1);
    return out;
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
  return Buffer.from(text, 'utf8');
}

/** Reads a stored value back: bytes as a fresh, plain Uint8Array (a copy), anything else as parsed JSON. */
export function decodeValue(stored: Uint8Array, key: string): unknown {
  if (stored[0] === BYTES_TAG) return new Uint8Array(stored.subarray(1));
  const buffer = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch (cause) {
    throw new CacheError(CacheErrorCode.InvalidValue, `The value stored at '${key}' was not written by this cache.`, {
      cause,
      detail: { key },
    });
  }
}
