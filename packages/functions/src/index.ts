export type { BindingType } from './bindings.ts';
export { type BusAdapterOptions, fromHubbubBus } from './bus-adapter.ts';
export { FunctionsError, type FunctionsErrorCode, FunctionsErrorStatus, isFunctionsError } from './errors.ts';
export { createFunctionsHost, type FunctionInfo, type FunctionsHost, type FunctionsHostOptions } from './host.ts';
export { fromHubServer, type HubTargetOptions, hubServerResolver } from './hub-adapter.ts';
export type { FunctionKeys, FunctionKeysOptions } from './keys.ts';
export { parseSchedule, type Schedule } from './ncrontab.ts';
export type {
  BusOutgoingMessage,
  BusReceivedMessage,
  BusReceiveOptions,
  BusResolver,
  BusSource,
  FunctionsBus,
} from './service-bus.ts';
export type {
  ConnectionInfoRequest,
  SignalRConnectionInfo,
  SignalRGroupAction,
  SignalRMessage,
  SignalRResolver,
  SignalRTarget,
} from './signalr.ts';
export { fromSignalRService, type SignalRServiceOptions } from './signalr-rest.ts';
