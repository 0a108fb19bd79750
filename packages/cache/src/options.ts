/**
 * Options of {@link createCache}, validated once, and the engine each URL scheme stands for.
 * @module
 */
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';
import { createMemoryEngine, DEFAULT_MAX_BYTES } from './engines/memory/engine.ts';
import { createRedisEngine, type RedisEngineOptions } from './engines/redis/engine.ts';
import type { CacheEngine } from './port.ts';

export interface CacheOptions {
  /** `memory://` (in-process LRU) or `redis://[user:password@]host:port[/db]` / `rediss://…`. Ignored with `engine`. @default 'memory://' */
  url?: string;
  /** An engine to use instead of one chosen by `url`; the cache opens and closes it. */
  engine?: CacheEngine;
  /** Prepended to every key (`'orders:'`), so caches can share one Redis. @default '' */
  prefix?: string;
  /** `memory://`: key and value bytes kept before the least recently used entries go. @default 67_108_864 (64 MiB) */
  maxBytes?: number;
  /** UTF-8 bytes of a key, prefix included. @default 1_024 */
  maxKeyBytes?: number;
  /** UTF-8 bytes of a stored value (its JSON text; for bytes, 1 + their base64). @default 1_048_576 (1 MiB) */
  maxValueBytes?: number;
  /** TTL of `set` and `getOrLoad` calls that give none, in ms. @default none: entries live until deleted or evicted */
  defaultTtlMs?: number;
  /** `redis://`: connection name, connect timeout and reconnect back-off. @default see RedisEngineOptions */
  redis?: Omit<RedisEngineOptions, 'url'>;
  /** Reads expiry in the memory engine. @default systemClock */
  clock?: Clock;
}

export interface ResolvedCacheOptions {
  readonly url: string;
  readonly engine: CacheEngine | undefined;
  readonly prefix: string;
  readonly maxBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly defaultTtlMs: number | undefined;
  readonly redis: Omit<RedisEngineOptions, 'url'>;
  readonly clock: Clock;
}

/** Each engine a URL can name: the schemes it answers to and how to make it. */
const engines: ReadonlyArray<{ schemes: readonly string[]; create(o: ResolvedCacheOptions): CacheEngine }> = [
  { schemes: ['memory:'], create: (o) => createMemoryEngine({ maxBytes: o.maxBytes, clock: o.clock }) },
  { schemes: ['redis:', 'rediss:'], create: (o) => createRedisEngine({ url: o.url, ...o.redis }) },
];

const findEngine = (url: string) => {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase();
  return engines.find((e) => scheme !== undefined && e.schemes.includes(scheme));
};

/** The engine `options` ask for, made (not opened). */
export function engineFor(options: ResolvedCacheOptions): CacheEngine {
  if (options.engine !== undefined) return options.engine;
  const entry = findEngine(options.url);
  if (entry === undefined) throw new Error(`unreachable: ${options.url} was validated`);
  return entry.create(options);
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number;
function positiveInteger(name: string, value: number | undefined, fallback: undefined): number | undefined;
function positiveInteger(name: string, value: number | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(name, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  const url = options.url ?? 'memory://';
  if (typeof url !== 'string' || (options.engine === undefined && findEngine(url) === undefined)) {
    throw new InvalidOptionError('url', `must start with memory:// or redis:// (or rediss://), got '${String(url)}'`);
  }
  if (options.engine === undefined && !url.startsWith('memory:')) {
    try {
      new URL(url);
    } catch {
      throw new InvalidOptionError('url', `is not a valid URL: '${url}'`);
    }
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') throw new InvalidOptionError('prefix', 'must be a string');
  const maxBytes = positiveInteger('maxBytes', options.maxBytes, DEFAULT_MAX_BYTES);
  const maxKeyBytes = positiveInteger('maxKeyBytes', options.maxKeyBytes, 1_024);
  const maxValueBytes = positiveInteger('maxValueBytes', options.maxValueBytes, 1_048_576);
  if (Buffer.byteLength(prefix, 'utf8') >= maxKeyBytes) {
    throw new InvalidOptionError('prefix', `leaves no room for keys under maxKeyBytes (${maxKeyBytes})`);
  }
  const memory = options.engine === undefined && url.startsWith('memory:');
  if (memory && maxKeyBytes + maxValueBytes > maxBytes) {
    throw new InvalidOptionError(
      'maxBytes',
      `must hold one entry of maxKeyBytes + maxValueBytes (${maxKeyBytes + maxValueBytes})`,
    );
  }
  const redis = options.redis ?? {};
  positiveInteger('redis.connectTimeoutMs', redis.connectTimeoutMs, undefined);
  if (redis.clientName !== undefined && !/^[!-~]{1,128}$/.test(redis.clientName)) {
    throw new InvalidOptionError('redis.clientName', 'must be 1–128 printable ASCII characters without spaces');
  }
  return {
    url,
    engine: options.engine,
    prefix,
    maxBytes,
    maxKeyBytes,
    maxValueBytes,
    defaultTtlMs: positiveInteger('defaultTtlMs', options.defaultTtlMs, undefined),
    redis,
    clock: options.clock ?? systemClock,
  };
}
