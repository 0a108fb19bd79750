/**
 * @hubbub/functions — a host for `@azure/functions` v4 apps. It depends on the kernel only: the
 * bus, the hub, the store and the push service reach it through its ports ({@link BusPort},
 * {@link SignalRTarget}, {@link StorePort}, {@link PushPort}), which the
 * composition root (`@hubbub/system`) implements; every trigger and binding comes as an extension.
 * Writing an extension: `@hubbub/functions/extension`. Test doubles: `@hubbub/functions/testing`.
 * @module
 */
export type { Connection } from './connections.ts';
export { FunctionsError, type FunctionsErrorCode, FunctionsErrorStatus, isFunctionsError } from './errors.ts';
export type { FunctionsHostEvents, InvocationFailure } from './events.ts';
export type { Extension } from './extension.ts';
export type {
  StoreChangeBatch,
  StoreChangeOptions,
  StoreDocument,
  StoreLeaseOptions,
  StorePort,
  StoreQuery,
  StoreResolver,
  StoreTarget,
  StoreUpsertOptions,
} from './extensions/cosmos-db/port.ts';
export { builtInExtensions, type ExtensionOptions } from './extensions/index.ts';
export type {
  PushNotification,
  PushPlatform,
  PushPort,
  PushResolver,
  PushSendOptions,
  PushTarget,
} from './extensions/notification-hub/port.ts';
export type {
  BusOutgoingMessage,
  BusPort,
  BusReceivedMessage,
  BusReceiveOptions,
  BusResolver,
  BusSource,
} from './extensions/service-bus/port.ts';
export type {
  ConnectionInfoRequest,
  EncodedSignalRMessage,
  SignalRConnectionInfo,
  SignalRGroupAction,
  SignalRMessage,
  SignalRResolver,
  SignalRTarget,
} from './extensions/signalr/port.ts';
export {
  type SignalRTriggerExtension,
  type SignalRTriggerExtensionOptions,
  signalRTriggerExtension,
  type UpstreamReply,
  type UpstreamRequest,
} from './extensions/signalr-trigger/index.ts';
export { parseSchedule, type Schedule } from './extensions/timer/ncrontab.ts';
export { createFunctionsHost, type FunctionsHost } from './host.ts';
export type { FunctionsHostOptions } from './host-options.ts';
export type { FunctionKeys, FunctionKeysOptions } from './keys.ts';
export { parseConnectionString } from './settings.ts';
export type { FunctionInfo } from './trigger-listeners.ts';
export type { WorkerHeap } from './worker-heap.ts';
