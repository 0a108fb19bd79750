/**
 * Connection settings → the port a binding talks to. An extension is given its port as is (every
 * connection setting reaches the same one) or as a factory called once per connection setting
 * with `{ name, value }` (the composition root decides what a connection string means); a factory
 * that returns undefined, or no port at all, makes the binding FUNCTIONS_BINDING_UNAVAILABLE.
 * @module
 */
import type { BindingScope } from './bindings.ts';
import { FunctionsError } from './errors.ts';
import { connectionValue, type Settings } from './settings.ts';

/** A connection setting: its name (`AzureWebJobsServiceBus`) and value (a connection string). */
export interface Connection {
  readonly name: string;
  readonly value: string;
}

/** A port, or a factory of ports per connection setting. Ports are objects, never functions. */
export type PortSource<T extends object> = T | ((connection: Connection) => T | undefined | Promise<T | undefined>);

/** The port for a connection setting; rejects with FUNCTIONS_BINDING_UNAVAILABLE when there is none. */
export type ResolvePort<T> = (setting: string, scope: BindingScope) => Promise<T>;

/** One factory call per setting, remembered for the life of the host (settings do not change). */
export function portResolver<T extends object>(
  source: PortSource<T> | undefined,
  settings: Settings,
  what: string,
): ResolvePort<T> {
  const made = new Map<string, Promise<T | undefined>>();
  /** Ports already resolved: answered without a frame per call (every invocation asks for its output's). */
  const ready = new Map<string, T>();
  return (setting, scope) => {
    const port = ready.get(setting);
    return port === undefined ? resolve(setting, scope) : Promise.resolve(port);
  };

  async function resolve(setting: string, scope: BindingScope): Promise<T> {
    let found = made.get(setting);
    if (found === undefined) {
      const value = connectionValue(settings, setting, scope);
      found =
        typeof source === 'function' ? Promise.resolve(source({ name: setting, value })) : Promise.resolve(source);
      made.set(setting, found);
    }
    const port = await found;
    if (port === undefined) {
      throw new FunctionsError(
        'FUNCTIONS_BINDING_UNAVAILABLE',
        `Function "${scope.functionName}", binding "${scope.binding}" needs a ${what}, but the host was given none for connection "${setting}".`,
        { detail: { function: scope.functionName, binding: scope.binding, setting } },
      );
    }
    ready.set(setting, port);
    return port;
  }
}
