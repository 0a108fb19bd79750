export {
  Cache,
  type CacheEvents,
  createCache,
  type IncrementOptions,
  type LoadContext,
  type Loader,
  type SetOptions,
} from './cache.ts';
export { createMemoryEngine, MemoryEngine, type MemoryEngineOptions } from './engines/memory/engine.ts';
export { createRedisEngine, RedisEngine, type RedisEngineOptions } from './engines/redis/engine.ts';
export { CacheError, CacheErrorCode, isCacheError } from './errors.ts';
export type { CacheOptions, ResolvedCacheOptions } from './options.ts';
export type { CacheEngine, CacheEngineEvents, EvictedEvent } from './port.ts';
