/**
 * `createCache()`: get / set with TTL / delete / atomic increment / cache-aside loading with
 * single-flight, over an engine chosen by URL (`memory://`, `redis://…`) or passed in. The
 * factory validates its options and starts nothing; `start()` opens the engine.
 * @module
 */
import { AbortedError, type Part, TypedEmitter } from '@hubbub/kernel';
import { decodeValue, encodeValue, utf8BytesOver } from './codec.ts';
import { CacheError, CacheErrorCode, closedError } from './errors.ts';
import { type CacheOptions, engineFor, type ResolvedCacheOptions, resolveCacheOptions } from './options.ts';
import type { CacheEngine, EvictedEvent } from './port.ts';
import { SingleFlight } from './single-flight.ts';

export type CacheEvents = {
  /** The engine lost its server (CACHE_UNAVAILABLE); calls fail until it is back. Once per outage. */
  error: (error: CacheError) => void;
  /** The engine dropped entries: over its byte bound (`size`) or past their TTL (`expired`). */
  evicted: (event: EvictedEvent) => void;
};

export interface SetOptions {
  /** Time to live in ms (a positive integer). @default the cache's `defaultTtlMs` */
  ttlMs?: number;
}

export interface IncrementOptions {
  /** Added to the stored integer; negative to decrement. @default 1 */
  by?: number;
  /** TTL given to the key when this call creates it; an existing key keeps its own. @default none */
  ttlMs?: number;
}

/** What a loader is handed: the key (without prefix) and a signal that fires when the cache closes. */
export interface LoadContext {
  readonly key: string;
  readonly signal: AbortSignal;
}

/** Produces the value of a missing key. Resolving with `undefined` stores nothing. */
export type Loader<T> = (context: LoadContext) => T | Promise<T>;

type State = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

export class Cache extends TypedEmitter<CacheEvents> implements Part<CacheEvents> {
  readonly options: ResolvedCacheOptions;
  readonly #flights = new SingleFlight();
  readonly #abort = new AbortController();
  #state: State = 'idle';
  #engine: CacheEngine | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(options: CacheOptions = {}) {
    super();
    this.options = resolveCacheOptions(options);
  }

  /** The open engine (`memory`, `redis` …); undefined unless running. */
  get engine(): CacheEngine | undefined {
    return this.#state === 'running' ? this.#engine : undefined;
  }

  /** Opens the engine (connects to Redis). A second call returns the first call's promise. */
  start(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError(this.#state));
    this.#starting ??= this.#open();
    return this.#starting;
  }

  /** The value at `key`, or undefined when missing or expired. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const full = this.#key(key);
    const engine = this.#begin();
    try {
      const stored = await engine.get(full);
      return stored === undefined ? undefined : (decodeValue(stored, full) as T);
    } finally {
      this.#end();
    }
  }

  /** Stores JSON-serialisable data or bytes (a Uint8Array) at `key`, replacing value and TTL. */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    const full = this.#key(key);
    const ttlMs = this.#ttl(options.ttlMs);
    const encoded = this.#encode(value);
    const engine = this.#begin();
    try {
      await engine.set(full, encoded, ttlMs);
    } finally {
      this.#end();
    }
  }

  /** Removes `key`; true when it existed. */
  async delete(key: string): Promise<boolean> {
    const full = this.#key(key);
    const engine = this.#begin();
    try {
      return await engine.delete(full);
    } finally {
      this.#end();
    }
  }

  /** Atomically adds `by` (1) to the integer at `key` (0 when missing) and returns the result. */
  async increment(key: string, options: IncrementOptions = {}): Promise<number> {
    const full = this.#key(key);
    const { by = 1 } = options;
    if (!Number.isSafeInteger(by)) {
      throw new CacheError(CacheErrorCode.InvalidArgument, `by must be a safe integer, got ${String(by)}.`, {
        detail: { argument: 'by' },
      });
    }
    const ttlMs = options.ttlMs === undefined ? undefined : this.#ttl(options.ttlMs);
    const engine = this.#begin();
    try {
      return await engine.increment(full, by, ttlMs);
    } finally {
      this.#end();
    }
  }

  /** Remaining time to live of `key` in ms; `Infinity` without expiry; undefined when missing. */
  async ttl(key: string): Promise<number | undefined> {
    const full = this.#key(key);
    const engine = this.#begin();
    try {
      return await engine.ttl(full);
    } finally {
      this.#end();
    }
  }

  /**
   * Cache-aside: the value at `key`, or else what `loader` produces, stored with `ttlMs`. While a
   * load for a key runs in this process, callers that miss the same key share its promise, so a
   * stampede calls the loader once. A failed load stores nothing and every waiter gets its error;
   * the next miss loads again. (A hit is a plain `get`: it never waits on anyone.)
   */
  async getOrLoad<T>(key: string, loader: Loader<T>, options: SetOptions = {}): Promise<T> {
    const full = this.#key(key);
    const ttlMs = this.#ttl(options.ttlMs);
    const engine = this.#begin();
    let stored: string | undefined;
    try {
      stored = await engine.get(full);
    } finally {
      this.#end();
    }
    if (stored !== undefined) return decodeValue(stored, full) as T;
    return this.#flights.run(full, () => this.#load(key, full, loader, ttlMs));
  }

  async #load<T>(key: string, full: string, loader: Loader<T>, ttlMs: number | undefined): Promise<T> {
    const engine = this.#begin();
    try {
      const value = await loader({ key, signal: this.#abort.signal });
      if (value !== undefined) await engine.set(full, this.#encode(value), ttlMs);
      return value;
    } finally {
      this.#end();
    }
  }

  /** Stops taking calls, aborts loaders' signals, waits for calls in flight, closes the engine. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #open(): Promise<void> {
    this.#state = 'starting';
    const engine = engineFor(this.options);
    try {
      await engine.open({ error: (e) => this.emit('error', e), evicted: (e) => this.emit('evicted', e) });
    } catch (err) {
      if (this.#state === 'starting') {
        this.#state = 'idle';
        this.#starting = undefined;
      }
      throw err;
    }
    if (this.#state !== 'starting') {
      await engine.close();
      throw closedError(this.#state);
    }
    this.#engine = engine;
    this.#state = 'running';
  }

  async #shutdown(): Promise<void> {
    const starting = this.#starting;
    this.#state = 'closing';
    this.#abort.abort(new AbortedError('The cache is closing.'));
    await starting?.catch(() => {});
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    const engine = this.#engine;
    this.#engine = undefined;
    await engine?.close();
    this.#state = 'closed';
  }

  /** The engine; CACHE_CLOSED unless running. */
  #running(): CacheEngine {
    if (this.#state !== 'running' || this.#engine === undefined) {
      throw closedError(this.#state === 'starting' ? 'idle' : this.#state);
    }
    return this.#engine;
  }

  /** The engine, counting one more call in flight until {@link #end}. */
  #begin(): CacheEngine {
    const engine = this.#running();
    this.#inFlight++;
    return engine;
  }

  #end(): void {
    if (--this.#inFlight === 0 && this.#drained !== undefined) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  /** The engine's key for `key`: validated, prefixed, within `maxKeyBytes`. */
  #key(key: string): string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new CacheError(CacheErrorCode.InvalidKey, 'A key must be a non-empty string.', {
        detail: { type: typeof key },
      });
    }
    const { prefix, maxKeyBytes } = this.options;
    const full = prefix === '' ? key : prefix + key;
    const size = utf8BytesOver(full, maxKeyBytes);
    if (size !== undefined) {
      throw new CacheError(CacheErrorCode.TooLarge, `The key is ${size} bytes; maxKeyBytes is ${maxKeyBytes}.`, {
        detail: { what: 'key', limit: maxKeyBytes, size },
      });
    }
    return full;
  }

  #encode(value: unknown): string {
    const encoded = encodeValue(value);
    const { maxValueBytes } = this.options;
    const size = utf8BytesOver(encoded, maxValueBytes);
    if (size !== undefined) {
      throw new CacheError(
        CacheErrorCode.TooLarge,
        `The value is ${size} bytes stored; maxValueBytes is ${maxValueBytes}.`,
        {
          detail: { what: 'value', limit: maxValueBytes, size },
        },
      );
    }
    return encoded;
  }

  #ttl(ttlMs: number | undefined): number | undefined {
    if (ttlMs === undefined) return this.options.defaultTtlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
      throw new CacheError(CacheErrorCode.InvalidArgument, `ttlMs must be a positive integer, got ${String(ttlMs)}.`, {
        detail: { argument: 'ttlMs' },
      });
    }
    return ttlMs;
  }
}

/** A cache over the engine `options.url` names (memory by default). Starts nothing: call `start()`. */
export function createCache(options: CacheOptions = {}): Cache {
  return new Cache(options);
}
