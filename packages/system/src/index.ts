/**
 * @hubbub/system — the composition root. It starts the whole system (or one part) on one port,
 * keeps its keys, guards its front door, and bridges the parts: the bus feeds the functions host's
 * triggers, the hub serves its SignalR bindings. The CLI and the apps sit on it.
 * @module
 */

/** The push client, for the `hubbub push` commands (the CLI reaches the push front through here). */
export {
  createPushClient,
  type InstallationListing,
  isPushError,
  type NotificationDetails,
  type PushClient,
  type PushClientOptions,
  parseConnectionString as parsePushConnectionString,
} from '@hubbub/push/client';
/** The store's HTTP API and request signing, for the `hubbub store` command (the CLI reaches the store through here). */
export { createStoreHttpHandler, type SignInput, type Store, signRequest } from '@hubbub/store';
export { type BusAmqp, type BusAmqpOptions, startBusAmqp } from './amqp-part.ts';
export { parseCommandArgs, UsageError } from './args.ts';
export {
  type BusBridge,
  type BusBridgeOptions,
  type BusConnections,
  bridgeBus,
  busConnections,
} from './bridges/bus.ts';
export { createBusPushQueue, PUSH_QUEUE } from './bridges/push-queue.ts';
export { createStoreInstallationRepository, createStoreOutcomeStore } from './bridges/push-store.ts';
export {
  fromHubServer,
  fromSignalRServiceInProcess,
  type HubTargetOptions,
  hubServerResolver,
} from './bridges/signalr.ts';
export { fromSignalRService, type SignalRServiceOptions, signalRServiceResolver } from './bridges/signalr-rest.ts';
export { functionsUpstream, SIGNALR_UPSTREAM_PATH, upstreamFetch } from './bridges/signalr-upstream.ts';
export { bridgeStore, type StoreConnections, storeConnections } from './bridges/store.ts';
export { consoleLogger, type LogFormat, logFlagsHelp } from './console-log.ts';
export { createDemoHub } from './demo.ts';
export { createStoreAt, engineScheme, openBackplane, openBusAt, openCache } from './engines.ts';
export {
  createFrontDoor,
  defaultRateLimits,
  type FrontDoor,
  type RateLimit,
  type SystemRateLimits,
} from './front-door.ts';
export {
  type GivenKeys,
  loadKeys,
  type PushKeys,
  parseKey,
  type SystemKeys,
  storedBusKey,
  storedPushKeys,
  storedStoreKey,
} from './keys-file.ts';
export { type PushPart, type PushPartOptions, startPushPart } from './push-alone.ts';
export { pushOptionsFrom } from './push-env.ts';
export { DEFAULT_PUSH_PORT, type SystemPushOptions, VAPID_KEY_PATH } from './push-options.ts';
export { drainingNotice, parseSystemFlags, runUntilSignal, type SystemFlags, systemFlagsHelp } from './run-system.ts';
export {
  RUNNING_FILE,
  type RunningInfo,
  readRunningFile,
  runningFilePath,
} from './running-file.ts';
export {
  createStaticFiles,
  type StaticFiles,
  type StaticFilesOptions,
  signalRBrowserClient,
  staticRoutes,
  staticTree,
} from './static.ts';
export { createStatusRoute, STATUS_PATH, type StatusSources, type SystemStatus, systemStatus } from './status.ts';
export {
  type AppPart,
  type AppPartContext,
  type AppPartFactory,
  type FunctionApp,
  type RunningSystem,
  type SystemOptions,
  startSystem,
} from './system.ts';
