/**
 * The storage port of the cache: {@link CacheEngine} and what an engine reports.
 *
 * Where the line sits, and why: an engine stores opaque text under full keys (prefix applied)
 * and owns expiry and atomic increment, because a shared server (Redis) must do both itself for
 * several processes to agree. Everything that is the same for every engine sits above it in the
 * cache: validation and bounds, the value codec, prefixes, default TTLs and single-flight loading
 * (which is per process by nature).
 * @module
 */
import type { CacheError } from './errors.ts';

/** Entries an engine dropped in one operation: to stay under its byte bound, or because they expired. */
export interface EvictedEvent {
  readonly reason: 'size' | 'expired';
  readonly count: number;
  /** Key and value bytes released. */
  readonly bytes: number;
}

/** What an engine reports while open; the cache turns these into its own events. */
export interface CacheEngineEvents {
  /** The engine lost its server (connection dropped, reconnect failing); calls fail with CACHE_UNAVAILABLE meanwhile. */
  error(error: CacheError): void;
  /** An engine with a bound dropped entries. */
  evicted(event: EvictedEvent): void;
}

/**
 * Stored text by key, with expiry. Keys arrive validated and prefixed; values arrive serialised by
 * the cache (JSON text, or NUL + base64 for bytes) and must come back exactly as given. `ttlMs` is
 * a positive integer or undefined (no expiry). Failures reject with a {@link CacheError}.
 */
export interface CacheEngine {
  /** `memory`, `redis` … */
  readonly kind: string;
  /** Connects or allocates; the first call happens in `cache.start()`. Rejects with CACHE_UNAVAILABLE. */
  open(events: CacheEngineEvents): Promise<void>;
  /** The stored text, or undefined when the key is missing or expired. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value`, replacing any earlier value and TTL. */
  set(key: string, value: string, ttlMs: number | undefined): Promise<void>;
  /** Removes the key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Atomically adds `by` to the integer stored at `key` and returns the result. A missing key
   * starts at 0 and, when `ttlMs` is given, expires `ttlMs` after this call; an existing key keeps
   * its TTL. CACHE_NOT_A_NUMBER when the stored value is not a decimal integer.
   */
  increment(key: string, by: number, ttlMs: number | undefined): Promise<number>;
  /** Remaining time to live in ms; `Infinity` without expiry; undefined when the key is missing. */
  ttl(key: string): Promise<number | undefined>;
  /** Releases connections and memory. Idempotent. */
  close(): Promise<void>;
}
