/**
 * Identifiers as a dependency, so tests can make them predictable.
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';

export interface IdSource {
  /** A URL-safe random id: 16 random bytes as 22 base64url characters (the SignalR id shape). */
  next(): string;
  /** A random RFC 4122 UUID. */
  uuid(): string;
}

export const randomIds: IdSource = {
  next: () => randomBytes(16).toString('base64url'),
  uuid: () => randomUUID(),
};

/** Deterministic ids `prefix-1`, `prefix-2`, … for tests. */
export function sequentialIds(prefix = 'id'): IdSource {
  let n = 0;
  return {
    next: () => `${prefix}-${++n}`,
    uuid: () => `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`,
  };
}
