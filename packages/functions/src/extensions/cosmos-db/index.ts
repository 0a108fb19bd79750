/**
 * The Cosmos DB extension: the `cosmosDB` input and output and the `cosmosDBTrigger` on the change
 * feed, on whatever store the composition root passes in as a {@link StorePort} (or makes per
 * connection setting: the setting holds a store URL such as `memory://` or `postgres://…`).
 * @module
 */
import { portResolver } from '../../connections.ts';
import type { Extension } from '../../extension.ts';
import { cosmosDBBindings } from './bindings.ts';
import type { StorePort, StoreResolver } from './port.ts';
import { cosmosDBTrigger } from './trigger.ts';

export interface CosmosDBExtensionOptions {
  /** The store, or a resolver per connection setting. @default none (the bindings are FUNCTIONS_BINDING_UNAVAILABLE) */
  readonly store?: StorePort | StoreResolver | undefined;
}

export function cosmosDBExtension(options: CosmosDBExtensionOptions = {}): Extension {
  return {
    name: 'cosmosDB',
    setup(context) {
      const store = portResolver(options.store, context.settings, 'document store');
      return {
        bindings: cosmosDBBindings(context, store),
        trigger: cosmosDBTrigger(context, store),
      };
    },
  };
}
