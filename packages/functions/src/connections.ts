/**
 * Connection settings → the hub and bus bindings talk to. A `hub`/`bus` option wins (an instance,
 * or a resolver called once per connection setting); without one, a `memory://` or `file://DIR`
 * bus setting opens a bus of the host's own, and an `Endpoint=…;AccessKey=…` SignalR setting is
 * reached over the Azure SignalR REST API.
 * @module
 */
import type { Bus } from '@hubbub/bus';
import type { Clock } from '@hubbub/kernel';
import type { BindingScope } from './bindings.ts';
import { fromHubbubBus, isHubbubBus } from './bus-adapter.ts';
import { FunctionsError } from './errors.ts';
import type { BusResolver, FunctionsBus } from './service-bus.ts';
import { connectionValue } from './settings.ts';
import type { SignalRResolver, SignalRTarget } from './signalr.ts';
import { fromSignalRService } from './signalr-rest.ts';

export type Connection = { name: string; value: string };

export interface ConnectionOptions {
  readonly hub: SignalRTarget | SignalRResolver | undefined;
  readonly bus: FunctionsBus | Bus | BusResolver | ((connection: Connection) => Bus | Promise<Bus>) | undefined;
  readonly clock: Clock;
}

export type TargetFor<T> = (settings: Record<string, string>) => (setting: string, scope: BindingScope) => Promise<T>;

export interface Connections {
  readonly hubFor: TargetFor<SignalRTarget>;
  readonly busFor: TargetFor<FunctionsBus>;
  /** Closes the buses the host opened itself. */
  close(): Promise<void>;
}

export function createConnections(options: ConnectionOptions): Connections {
  const { clock } = options;
  function resolver<T>(
    given: T | ((c: Connection) => T | Promise<T>) | undefined,
    what: string,
    fallback?: (c: Connection) => Promise<T | undefined>,
  ) {
    const cache = new Map<string, Promise<T | undefined>>();
    return (settings: Record<string, string>) =>
      async (setting: string, bindingScope: BindingScope): Promise<T> => {
        const value = connectionValue(settings, setting, bindingScope);
        if (given !== undefined && typeof given !== 'function') return given;
        let found = cache.get(setting);
        if (found === undefined) {
          const make = given === undefined ? fallback : (given as (c: Connection) => T | Promise<T>);
          found = Promise.resolve(make?.({ name: setting, value }));
          cache.set(setting, found);
        }
        const target = await found;
        if (target === undefined) {
          throw new FunctionsError(
            'FUNCTIONS_BINDING_UNAVAILABLE',
            `Function "${bindingScope.functionName}", binding "${bindingScope.binding}" needs a ${what}, but the host was given none for connection "${setting}".`,
            { detail: { function: bindingScope.functionName, binding: bindingScope.binding, setting } },
          );
        }
        return target;
      };
  }
  /** Buses the host opened itself from `memory://` / `file://` connection settings; closed with the host. */
  const ownedBuses: Bus[] = [];
  const busFromUrl = async ({ value }: Connection): Promise<FunctionsBus | undefined> => {
    if (!/^(memory|file):\/\//.test(value.trim())) return undefined;
    const { createBus } = await import('@hubbub/bus');
    const bus = await createBus({ url: value.trim(), clock });
    ownedBuses.push(bus);
    return fromHubbubBus(bus);
  };
  // Without a hub option, an Azure-style connection string names a SignalR service reached over REST.
  const hubFromConnectionString = async ({ name, value }: Connection): Promise<SignalRTarget | undefined> =>
    /endpoint=/i.test(value) ? fromSignalRService(value, { clock, setting: name }) : undefined;
  const hubFor = resolver<SignalRTarget>(options.hub, 'SignalR hub', hubFromConnectionString);
  const givenBus = options.bus;
  const busFor = resolver<FunctionsBus>(
    givenBus === undefined || isHubbubBus(givenBus) || typeof givenBus !== 'function'
      ? isHubbubBus(givenBus)
        ? fromHubbubBus(givenBus)
        : givenBus
      : async (connection) => {
          const made: FunctionsBus | Bus = await (
            givenBus as (c: typeof connection) => FunctionsBus | Bus | Promise<FunctionsBus | Bus>
          )(connection);
          return isHubbubBus(made) ? fromHubbubBus(made) : made;
        },
    'bus',
    busFromUrl,
  );
  return {
    hubFor,
    busFor,
    async close() {
      await Promise.allSettled(ownedBuses.splice(0).map((b) => b.close()));
    },
  };
}
