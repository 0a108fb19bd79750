/**
 * `@hubbub/cache/engine`: the door for engine authors — the port, the coded errors an engine
 * rejects with, and the conformance suite every engine runs from a five-line test file.
 * @module
 */
export { type CacheEngineSuiteOptions, describeCacheEngine } from './conformance.ts';
export { CacheError, CacheErrorCode, isCacheError } from './errors.ts';
export type { CacheEngine, CacheEngineEvents, EvictedEvent } from './port.ts';
