/**
 * The send API: `hub.clients.all.send('notify', msg)`, `.group('order-42').send(…)`,
 * `.client(id).invoke(…)`. Every proxy becomes one backplane message.
 * @module
 */
import type { Audience, BackplaneMessage, Exclusions } from './backplane.ts';

export interface ClientProxy {
  /** Invokes `target` on every selected client without waiting for results. */
  send(target: string, ...args: unknown[]): Promise<void>;
}

export interface SingleClientProxy extends ClientProxy {
  /** Invokes `target` on this one client and resolves with what its handler returns. */
  invoke(target: string, ...args: unknown[]): Promise<unknown>;
  /** Same, with an AbortSignal to stop waiting. */
  invokeWithSignal(signal: AbortSignal, target: string, ...args: unknown[]): Promise<unknown>;
}

export interface HubClients {
  readonly all: ClientProxy;
  allExcept(connectionIds: readonly string[]): ClientProxy;
  client(connectionId: string): SingleClientProxy;
  clients(connectionIds: readonly string[]): ClientProxy;
  user(userId: string): ClientProxy;
  users(userIds: readonly string[]): ClientProxy;
  group(name: string, exclude?: Exclusions): ClientProxy;
  groups(names: readonly string[], exclude?: Exclusions): ClientProxy;
}

/** The clients as seen from inside a hub method: the caller, everyone else, and so on. */
export interface CallerClients extends HubClients {
  readonly caller: SingleClientProxy;
  readonly others: ClientProxy;
  othersInGroup(name: string): ClientProxy;
}

export interface ClientsHost {
  readonly name: string;
  publish(message: BackplaneMessage): Promise<void>;
  invokeClient(connectionId: string, target: string, args: unknown[], signal?: AbortSignal): Promise<unknown>;
}

function proxy(host: ClientsHost, audience: Audience, exclude?: Exclusions): ClientProxy {
  return {
    send: (target, ...args) =>
      host.publish({
        kind: 'send',
        hub: host.name,
        audience,
        ...(exclude === undefined ? {} : { exclude }),
        target,
        arguments: args,
      }),
  };
}

function single(host: ClientsHost, connectionId: string): SingleClientProxy {
  return {
    ...proxy(host, { kind: 'connections', ids: [connectionId] }),
    invoke: (target, ...args) => host.invokeClient(connectionId, target, args),
    invokeWithSignal: (signal, target, ...args) => host.invokeClient(connectionId, target, args, signal),
  };
}

export function createHubClients(host: ClientsHost): HubClients {
  return {
    all: proxy(host, { kind: 'all' }),
    allExcept: (ids) => proxy(host, { kind: 'all' }, { connectionIds: ids }),
    client: (id) => single(host, id),
    clients: (ids) => proxy(host, { kind: 'connections', ids }),
    user: (id) => proxy(host, { kind: 'users', ids: [id] }),
    users: (ids) => proxy(host, { kind: 'users', ids }),
    group: (name, exclude) => proxy(host, { kind: 'groups', names: [name] }, exclude),
    groups: (names, exclude) => proxy(host, { kind: 'groups', names }, exclude),
  };
}

export function createCallerClients(host: ClientsHost, clients: HubClients, connectionId: string): CallerClients {
  const except = { connectionIds: [connectionId] };
  return {
    ...clients,
    caller: single(host, connectionId),
    others: proxy(host, { kind: 'all' }, except),
    othersInGroup: (name) => proxy(host, { kind: 'groups', names: [name] }, except),
  };
}
