/**
 * The Notification Hubs extension: the `notificationHub` output, on whatever push service the
 * composition root passes in as a {@link PushPort} (or makes per connection setting).
 * @module
 */
import { portResolver } from '../../connections.ts';
import type { Extension } from '../../extension.ts';
import { notificationHubBinding } from './bindings.ts';
import type { PushPort, PushResolver } from './port.ts';

export interface NotificationHubExtensionOptions {
  /** The push service, or a resolver per connection setting. @default none (the binding is FUNCTIONS_BINDING_UNAVAILABLE) */
  readonly push?: PushPort | PushResolver | undefined;
}

export function notificationHubExtension(options: NotificationHubExtensionOptions = {}): Extension {
  return {
    name: 'notificationHubs',
    setup(context) {
      return {
        bindings: [notificationHubBinding(context, portResolver(options.push, context.settings, 'push service'))],
      };
    },
  };
}
