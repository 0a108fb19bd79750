/**
 * @hubbub/system — the composition root. It starts the whole system (or one part) on one port,
 * keeps its keys, guards its front door, and bridges the parts: the bus feeds the functions host's
 * triggers, the hub serves its SignalR bindings. The CLI and the apps sit on it.
 * @module
 */

/** The store's HTTP API and request signing, for the `hubbub store` command (the CLI reaches the store through here). */
export { createStoreHttpHandler, type SignInput, type Store, signRequest } from '@hubbub/store';
export { parseCommandArgs, UsageError } from './args.ts';
export {
  type BusBridge,
  type BusBridgeOptions,
  type BusConnections,
  bridgeBus,
  busConnections,
} from './bridges/bus.ts';
export {
  fromHubServer,
  fromSignalRServiceInProcess,
  type HubTargetOptions,
  hubServerResolver,
} from './bridges/signalr.ts';
export { fromSignalRService, type SignalRServiceOptions, signalRServiceResolver } from './bridges/signalr-rest.ts';
export { bridgeStore, type StoreConnections, storeConnections } from './bridges/store.ts';
export { createDemoHub } from './demo.ts';
export { createStoreAt, engineScheme, openBusAt, openCache } from './engines.ts';
export {
  createFrontDoor,
  defaultRateLimits,
  type FrontDoor,
  type RateLimit,
  type SystemRateLimits,
} from './front-door.ts';
export { type GivenKeys, loadKeys, parseKey, type SystemKeys, storedBusKey, storedStoreKey } from './keys-file.ts';
export { parseSystemFlags, runUntilSignal, type SystemFlags, systemFlagsHelp } from './run-system.ts';
export { createStaticFiles, type StaticFiles, signalRBrowserClient, staticRoutes } from './static.ts';
export {
  type AppPart,
  type AppPartContext,
  type AppPartFactory,
  type FunctionApp,
  type RunningSystem,
  type SystemOptions,
  startSystem,
} from './system.ts';
