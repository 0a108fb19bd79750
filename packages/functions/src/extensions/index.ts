/**
 * The list of extensions the host loads. A new trigger or binding is a folder beside these
 * (`<name>/index.ts`, `bindings.ts`, and where it has them `trigger.ts`, `port.ts`) and a line
 * here; its port, if it needs one, is a field of {@link ExtensionOptions}. No host file changes.
 * @module
 */
import type { Extension } from '../extension.ts';
import { type CosmosDBExtensionOptions, cosmosDBExtension } from './cosmos-db/index.ts';
import { type HttpExtensionOptions, httpExtension } from './http/index.ts';
import { type NotificationHubExtensionOptions, notificationHubExtension } from './notification-hub/index.ts';
import { type ServiceBusExtensionOptions, serviceBusExtension } from './service-bus/index.ts';
import { type SignalRExtensionOptions, signalRExtension } from './signalr/index.ts';
import { type SignalRTriggerExtensionOptions, signalRTriggerExtension } from './signalr-trigger/index.ts';
import { timerExtension } from './timer/index.ts';

/** What the extensions are given: their ports and limits (fields of the host's options). */
export interface ExtensionOptions
  extends HttpExtensionOptions,
    ServiceBusExtensionOptions,
    SignalRExtensionOptions,
    SignalRTriggerExtensionOptions,
    CosmosDBExtensionOptions,
    NotificationHubExtensionOptions {}

/**
 * Every extension, in start order: triggers that can fail to start (a missing bus) start before
 * timers, whose `runOnStartup` functions run at once. The SignalR trigger comes before HTTP: both
 * take requests, and an empty route prefix makes HTTP take every path.
 */
export function builtInExtensions(options: ExtensionOptions = {}): Extension[] {
  return [
    signalRTriggerExtension({ maxUpstreamBodyBytes: options.maxUpstreamBodyBytes }),
    httpExtension({ maxRequestBodyBytes: options.maxRequestBodyBytes, enforceKeys: options.enforceKeys }),
    serviceBusExtension({ bus: options.bus }),
    cosmosDBExtension({ store: options.store }),
    timerExtension(),
    signalRExtension({ signalR: options.signalR }),
    notificationHubExtension({ push: options.push }),
  ];
}
