/**
 * Hubbub's push service as the functions host's Notification Hubs extension sees it
 * ({@link PushPort}), in process: a `notificationHub` output's send is the service's `send` — the
 * same durable job on the bus a Notification Hubs SDK send becomes. {@link pushConnections}
 * resolves connection settings: a Notification Hubs connection string whose endpoint is this
 * machine (`Endpoint=sb://localhost/…`, `sb://127.0.0.1:7443/…`, the system's own) names this
 * system's service, as a Cosmos DB emulator string names its store; any other endpoint is not
 * served (the binding answers FUNCTIONS_BINDING_UNAVAILABLE) — Hubbub does not relay to Azure.
 * @module
 */
import { FunctionsError, type PushPort, type PushResolver, parseConnectionString } from '@hubbub/functions';
import type { PushService } from '@hubbub/push';

/** The service under hub name `hubName` (matched without case, as the Notification Hubs front does). */
export function bridgePush(service: PushService, hubName: string): PushPort {
  const own = hubName.toLowerCase();
  return {
    async send(hub, notification, target, options) {
      if (hub.toLowerCase() !== own) {
        throw new FunctionsError(
          'FUNCTIONS_BINDING_UNAVAILABLE',
          `This system's push service serves hub '${hubName}', not '${hub.slice(0, 260)}': set the binding's hubName to it.`,
          { detail: { hub: hub.slice(0, 260), served: hubName } },
        );
      }
      const { notificationId } = await service.send(notification, target, options);
      return { notificationId };
    },
  };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Connection settings → the system's push service for an endpoint on this machine; undefined otherwise. */
export function pushConnections(service: PushService | undefined, hubName: string): PushResolver {
  const port = service === undefined ? undefined : bridgePush(service, hubName);
  return ({ name, value }) => {
    const endpoint = parseConnectionString(value).endpoint;
    let host: string | undefined;
    try {
      host = endpoint === undefined ? undefined : new URL(endpoint).hostname.toLowerCase();
    } catch {
      host = undefined;
    }
    if (host === undefined) {
      throw new FunctionsError(
        'FUNCTIONS_INVALID_SETTING',
        `Connection setting "${name}" is not a Notification Hubs connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…).`,
        { detail: { setting: name } },
      );
    }
    return LOOPBACK.has(host) ? port : undefined;
  };
}
