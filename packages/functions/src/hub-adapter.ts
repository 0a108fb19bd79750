/**
 * Adapts Hubbub's hub server to the {@link SignalRTarget} port: sends and group changes go to the
 * in-process `HubServer`; connection info is `{ url, accessToken }` for the hub's public URL with an
 * Azure SignalR-style token (HS256, `aud` = the client URL, user id in `asrs.s.uid`).
 * @module
 */
import { createClientToken, type HubServer } from '@hubbub/hub';
import { type Clock, systemClock } from '@hubbub/kernel';
import { FunctionsError } from './errors.ts';
import { parseConnectionString } from './settings.ts';
import type { SignalRResolver, SignalRTarget } from './signalr.ts';

export interface HubTargetOptions {
  /** Base URL browsers reach the hub server at, e.g. `http://localhost:7071`. */
  url: string;
  /** HS256 key the hub accepts. @default the first of the hub server's `auth.keys` */
  accessKey?: string | Uint8Array;
  /** Lifetime of issued access tokens in ms. @default 3_600_000 (1 hour, as Azure) */
  lifetimeMs?: number;
  /** @default systemClock */
  clock?: Clock;
}

export function fromHubServer(server: HubServer, options: HubTargetOptions): SignalRTarget {
  const base = options.url.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', 'url must be an http(s) URL of the hub server.', {
      detail: { option: 'url' },
    });
  }
  const key = options.accessKey ?? server.options.auth?.keys?.[0];
  const lifetimeMs = options.lifetimeMs ?? 3_600_000;
  const clock = options.clock ?? systemClock;
  const hubOf = (name: string) => server.hub(name);

  return {
    async send(hub, message) {
      const audience =
        message.connectionId !== undefined
          ? ({ kind: 'connections', ids: [message.connectionId] } as const)
          : message.userId !== undefined
            ? ({ kind: 'users', ids: [message.userId] } as const)
            : message.groupName !== undefined
              ? ({ kind: 'groups', names: [message.groupName] } as const)
              : ({ kind: 'all' } as const);
      await hubOf(hub).send(audience, message.target, message.arguments);
    },
    async groupAction(hub, action) {
      const groups = hubOf(hub).groups;
      const group = action.groupName ?? '';
      if (action.connectionId !== undefined) {
        if (action.action === 'add') await groups.add(action.connectionId, group);
        else if (action.action === 'remove') await groups.remove(action.connectionId, group);
        else await groups.removeFromAll(action.connectionId);
      } else if (action.userId !== undefined) {
        if (action.action === 'add') await groups.addUser(action.userId, group);
        else if (action.action === 'remove') await groups.removeUser(action.userId, group);
        else await groups.removeUserFromAll(action.userId);
      }
    },
    async connectionInfo(hub, request) {
      // Serverless hubs exist as soon as a client is told about them (created on first use).
      const name = hubOf(hub).name;
      const url = `${base}${server.options.basePath}/${encodeURIComponent(name)}`;
      if (key === undefined) return { url, accessToken: '' };
      const accessToken = await createClientToken({
        url,
        accessKey: key,
        lifetimeMs: request.lifetimeMs ?? lifetimeMs,
        clock,
        ...(request.userId === undefined ? {} : { userId: request.userId }),
        ...(request.claims === undefined ? {} : { claims: request.claims }),
      });
      return { url, accessToken };
    },
  };
}

/**
 * A resolver that reads each SignalR connection setting the Azure way
 * (`Endpoint=http://host;Port=7071;AccessKey=…;Version=1.0;`) and targets `server` with that
 * endpoint as the client URL and that access key for tokens.
 */
export function hubServerResolver(
  server: HubServer,
  options: Omit<HubTargetOptions, 'url' | 'accessKey'> = {},
): SignalRResolver {
  const targets = new Map<string, SignalRTarget>();
  return ({ name, value }) => {
    let target = targets.get(value);
    if (target === undefined) {
      const parts = parseConnectionString(value);
      const endpoint = parts.endpoint;
      if (endpoint === undefined || !/^https?:\/\//.test(endpoint)) {
        throw new FunctionsError(
          'FUNCTIONS_INVALID_SETTING',
          `Connection setting "${name}" needs Endpoint=http(s)://….`,
          {
            detail: { setting: name },
          },
        );
      }
      const url = new URL(endpoint);
      if (parts.port !== undefined) url.port = parts.port;
      target = fromHubServer(server, {
        ...options,
        url: url.origin + url.pathname.replace(/\/+$/, ''),
        ...(parts.accesskey === undefined ? {} : { accessKey: parts.accesskey }),
      });
      targets.set(value, target);
    }
    return target;
  };
}
