/**
 * `@hubbub/bus/engine` — the storage port of the in-process broker and its two implementations:
 * `memory://` (the reference) and `file://DIR` (a log with group commit). Pass one to
 * `createBus({ engine })`, or implement {@link BusEngine} and run `describeBusEngine`
 * (`@hubbub/bus/engine/conformance`) on it. See `port.ts` for where this line sits.
 * @module
 */
export { createFileEngine, FileEngine, type FileEngineOptions, type FlushTiming, type FsWrite } from './file/engine.ts';
export { createMemoryEngine } from './memory/engine.ts';
export type {
  BodyType,
  BusEngine,
  EngineBacklog,
  EngineOp,
  EngineState,
  EntityRecord,
  MessagePatch,
  StoredMessage,
} from './port.ts';
