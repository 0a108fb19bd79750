/**
 * The in-process engine and the reference for every other: an LRU bounded in bytes (each entry
 * counts the UTF-8 bytes of its key and of its stored value), TTL on the injected clock. An expired
 * entry vanishes when read; writes also sweep a few entries each, so expired ones that nobody reads
 * are released without a timer.
 * @module
 */
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';
import { CacheError, CacheErrorCode, closedError } from '../../errors.ts';
import type { CacheEngine, CacheEngineEvents } from '../../port.ts';

export interface MemoryEngineOptions {
  /** Bytes of keys and values kept; least recently used entries go first past it. @default 67_108_864 (64 MiB) */
  maxBytes?: number;
  /** Reads expiry. @default systemClock */
  clock?: Clock;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Entries a write inspects for expiry. */
const SWEEP_STEP = 4;
const INTEGER = /^(?:0|-?[1-9][0-9]{0,19})$/;

interface Entry {
  readonly value: string;
  /** ms since epoch; Infinity when it never expires. */
  readonly expiresAt: number;
  readonly bytes: number;
}

export class MemoryEngine implements CacheEngine {
  readonly kind = 'memory';
  readonly maxBytes: number;
  readonly #clock: Clock;
  /** Insertion order is recency: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #sweep: IterableIterator<[string, Entry]> | undefined;
  #events: CacheEngineEvents | undefined;

  constructor(options: MemoryEngineOptions = {}) {
    const { maxBytes = DEFAULT_MAX_BYTES, clock = systemClock } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new InvalidOptionError('maxBytes', `must be a positive integer, got ${maxBytes}`);
    }
    this.maxBytes = maxBytes;
    this.#clock = clock;
  }

  /** Key and value bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held now, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  async open(events: CacheEngineEvents): Promise<void> {
    this.#events = events;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#live(key)?.value;
  }

  async set(key: string, value: string, ttlMs: number | undefined): Promise<void> {
    this.#open();
    const expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#clock.now() + ttlMs;
    this.#put(key, value, expiresAt);
  }

  async delete(key: string): Promise<boolean> {
    this.#open();
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#remove(key, entry);
    return entry.expiresAt > this.#clock.now();
  }

  async increment(key: string, by: number, ttlMs: number | undefined): Promise<number> {
    const entry = this.#live(key);
    let current = 0;
    if (entry !== undefined) {
      current = INTEGER.test(entry.value) ? Number(entry.value) : Number.NaN;
      if (!Number.isSafeInteger(current)) {
        throw new CacheError(CacheErrorCode.NotANumber, `The value at '${key}' is not an integer.`, {
          detail: { key },
        });
      }
    }
    const next = current + by;
    if (!Number.isSafeInteger(next)) {
      throw new CacheError(CacheErrorCode.NotANumber, `Incrementing '${key}' would pass ±2^53.`, { detail: { key } });
    }
    const expiresAt = entry?.expiresAt ?? (ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#clock.now() + ttlMs);
    this.#put(key, String(next), expiresAt);
    return next;
  }

  async ttl(key: string): Promise<number | undefined> {
    const entry = this.#live(key);
    return entry === undefined ? undefined : entry.expiresAt - this.#clock.now();
  }

  async close(): Promise<void> {
    this.#events = undefined;
    this.#entries.clear();
    this.#bytes = 0;
    this.#sweep = undefined;
  }

  #open(): void {
    if (this.#events === undefined) throw closedError('closed');
  }

  /** The entry if present and not expired, marked most recently used; drops it if expired. */
  #live(key: string): Entry | undefined {
    this.#open();
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#clock.now()) {
      this.#bytes -= entry.bytes;
      this.#events?.evicted({ reason: 'expired', count: 1, bytes: entry.bytes });
      return undefined;
    }
    this.#entries.set(key, entry);
    return entry;
  }

  #put(key: string, value: string, expiresAt: number): void {
    const bytes = Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
    if (bytes > this.maxBytes) {
      throw new CacheError(CacheErrorCode.TooLarge, `The entry '${key}' (${bytes} bytes) is over maxBytes.`, {
        detail: { what: 'entry', limit: this.maxBytes, size: bytes },
      });
    }
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(key, old);
    this.#entries.set(key, { value, expiresAt, bytes });
    this.#bytes += bytes;
    this.#sweepSome();
    this.#evictOverBound();
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  /** Inspects the next few entries in a rolling pass over the map and drops the expired ones. */
  #sweepSome(): void {
    const now = this.#clock.now();
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < SWEEP_STEP; i++) {
      this.#sweep ??= this.#entries.entries();
      const next = this.#sweep.next();
      if (next.done === true) {
        this.#sweep = undefined;
        break;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= now) {
        this.#remove(key, entry);
        count++;
        bytes += entry.bytes;
      }
    }
    if (count > 0) this.#events?.evicted({ reason: 'expired', count, bytes });
  }

  #evictOverBound(): void {
    let count = 0;
    let bytes = 0;
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#entries.entries().next();
      if (oldest.done === true) break;
      const [key, entry] = oldest.value;
      this.#remove(key, entry);
      count++;
      bytes += entry.bytes;
    }
    if (count > 0) this.#events?.evicted({ reason: 'size', count, bytes });
  }
}

export function createMemoryEngine(options: MemoryEngineOptions = {}): MemoryEngine {
  return new MemoryEngine(options);
}
