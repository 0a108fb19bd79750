/**
 * `@hubbub/system/start` — what an app's entry point needs to run the system (`npm start`, the
 * delivery app's components), without the rest of the main door: the bridges, the clients and the
 * parts run alone load only when used, so the port answers sooner.
 * @module
 */
export { UsageError } from './args.ts';
export { parseSystemFlags, runUntilSignal, type SystemFlags, systemFlagsHelp } from './run-system.ts';
export { staticTree } from './static.ts';
export {
  type AppPart,
  type AppPartContext,
  type AppPartFactory,
  type FunctionApp,
  type RunningSystem,
  type SystemOptions,
  startSystem,
} from './system.ts';
