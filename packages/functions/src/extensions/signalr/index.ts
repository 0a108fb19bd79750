/**
 * The SignalR extension: the `signalRConnectionInfo` input and the `signalR` output, on whatever
 * hub the composition root passes in as a {@link SignalRTarget} (or makes per connection setting).
 * @module
 */
import { portResolver } from '../../connections.ts';
import type { Extension } from '../../extension.ts';
import { createSignalRBindings } from './bindings.ts';
import type { SignalRResolver, SignalRTarget } from './port.ts';

export interface SignalRExtensionOptions {
  /** The hub, or a resolver per connection setting. @default none (the bindings are FUNCTIONS_BINDING_UNAVAILABLE) */
  readonly signalR?: SignalRTarget | SignalRResolver | undefined;
}

export function signalRExtension(options: SignalRExtensionOptions = {}): Extension {
  return {
    name: 'signalR',
    setup(context) {
      return {
        bindings: createSignalRBindings(context, portResolver(options.signalR, context.settings, 'SignalR hub')),
      };
    },
  };
}
