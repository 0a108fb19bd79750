/**
 * @hubbub/functions/testing — for tests of the functions host and of what composes it: an
 * in-memory {@link BusPort} and a host served on loopback. Not for production use.
 * @module
 */
export { codedError, MemoryBus, type MemoryBusOptions, type MemoryMessage } from './memory-bus.ts';
export { type ServedApp, serveApp } from './serve-app.ts';
