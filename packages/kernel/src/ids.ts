/**
 * Identifiers as a dependency, so tests can make them predictable.
 * @module
 */
import { randomBytes, randomFillSync } from 'node:crypto';

export interface IdSource {
  /** A URL-safe random id: 16 random bytes as 22 base64url characters (the SignalR id shape). */
  next(): string;
  /** A random RFC 4122 UUID. */
  uuid(): string;
}

/** Random bytes drawn 4 KiB at a time (256 UUIDs), as node:crypto's own UUID cache does. */
const pool = Buffer.alloc(4096);
let pooled = pool.length;
/** The 36 ASCII characters of one UUID, written here and read out as one flat string. */
const text = Buffer.alloc(36);
const hex = Buffer.from('0123456789abcdef', 'latin1');
const dashes = new Set([8, 13, 18, 23]);

/**
 * A version 4 UUID from cryptographically random bytes, like `crypto.randomUUID()`, written into
 * one buffer and read as one string: `randomUUID()` joins 20 pieces (~500 bytes of heap a call;
 * this makes one 36-byte string), and the functions host takes one per invocation.
 */
export function randomUuid(): string {
  if (pooled + 16 > pool.length) {
    randomFillSync(pool);
    pooled = 0;
  }
  pool[pooled + 6] = (pool[pooled + 6]! & 0x0f) | 0x40; // version 4
  pool[pooled + 8] = (pool[pooled + 8]! & 0x3f) | 0x80; // variant 10
  let at = 0;
  for (let i = 0; i < 16; i++) {
    if (dashes.has(at)) text[at++] = 0x2d;
    const byte = pool[pooled + i]!;
    text[at++] = hex[byte >> 4]!;
    text[at++] = hex[byte & 0x0f]!;
  }
  pooled += 16;
  return text.toString('latin1', 0, 36);
}

export const randomIds: IdSource = {
  next: () => randomBytes(16).toString('base64url'),
  uuid: randomUuid,
};

/** Deterministic ids `prefix-1`, `prefix-2`, … for tests. */
export function sequentialIds(prefix = 'id'): IdSource {
  let n = 0;
  return {
    next: () => `${prefix}-${++n}`,
    uuid: () => `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`,
  };
}
