/**
 * Hubbub's hub as the functions host's SignalR extension sees it ({@link SignalRTarget}), in
 * process: sends and group changes go straight to the hub, each hub looked up by name once (hubs
 * live as long as their server); connection info is `{ url, accessToken }` with an Azure
 * SignalR-style token (HS256, `aud` = the client URL, user id in `asrs.s.uid`).
 * @module
 */
import {
  FunctionsError,
  parseConnectionString,
  type SignalRGroupAction,
  type SignalRMessage,
  type SignalRResolver,
  type SignalRTarget,
} from '@hubbub/functions';
import {
  type Audience,
  createClientToken,
  type GroupManager,
  type Hub,
  type HubServer,
  type SignalRService,
} from '@hubbub/hub';
import { EncodedInvocation } from '@hubbub/hub-protocol';
import { type Clock, systemClock } from '@hubbub/kernel';

/** Past this many distinct names the cache starts over (names may come from binding expressions). */
const MAX_CACHED_HUBS = 10_000;

/** `lookup` once per hub name. */
function cachedHubs(lookup: (name: string) => Hub): (name: string) => Hub {
  const hubs = new Map<string, Hub>();
  return (name) => {
    let hub = hubs.get(name);
    if (hub === undefined) {
      hub = lookup(name);
      if (hubs.size >= MAX_CACHED_HUBS) hubs.clear();
      hubs.set(name, hub);
    }
    return hub;
  };
}

const everyone: Audience = { kind: 'all' };

/** Precedence as Azure's binding: connectionId > userId > groupName > all. */
function audienceOf(message: Pick<SignalRMessage, 'connectionId' | 'userId' | 'groupName'>): Audience {
  if (message.connectionId !== undefined) return { kind: 'connections', ids: [message.connectionId] };
  if (message.userId !== undefined) return { kind: 'users', ids: [message.userId] };
  if (message.groupName !== undefined) return { kind: 'groups', names: [message.groupName] };
  return everyone;
}

function applyGroupAction(groups: GroupManager, action: SignalRGroupAction): Promise<void> | undefined {
  const group = action.groupName ?? '';
  if (action.connectionId !== undefined) {
    if (action.action === 'add') return groups.add(action.connectionId, group);
    if (action.action === 'remove') return groups.remove(action.connectionId, group);
    return groups.removeFromAll(action.connectionId);
  }
  if (action.userId !== undefined) {
    if (action.action === 'add') return groups.addUser(action.userId, group);
    if (action.action === 'remove') return groups.removeUser(action.userId, group);
    return groups.removeUserFromAll(action.userId);
  }
  return undefined;
}

function hubTarget(hubOf: (name: string) => Hub, connectionInfo: SignalRTarget['connectionInfo']): SignalRTarget {
  return {
    // Not async: the hub's promise is the answer (no frame per message on the function path); a
    // throw still comes back as a rejection.
    send(hub, message) {
      try {
        return hubOf(hub).send(audienceOf(message), message.target, message.arguments);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    // An invocation the function's worker thread already encoded: JSON connections get its text as it is.
    sendEncoded(hub, message) {
      try {
        return hubOf(hub).sendEncoded(audienceOf(message), new EncodedInvocation(message.target, message.json));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async groupAction(hub, action) {
      await applyGroupAction(hubOf(hub).groups, action);
    },
    connectionInfo,
  };
}

/**
 * The serverless hubs of a {@link SignalRService} in this process; negotiate gets
 * `{url, accessToken}` for `/client/?hub=…`, exactly as Azure's binding builds it.
 */
export function fromSignalRServiceInProcess(service: SignalRService): SignalRTarget {
  return hubTarget(
    cachedHubs((name) => service.hub(name)),
    (hub, request) => service.clientAccess(hub, request),
  );
}

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

/** The self-hosted hubs of a {@link HubServer} (`/hubs/<hub>`) in this process. */
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
  const hubOf = cachedHubs((name) => server.hub(name));
  return hubTarget(hubOf, async (hub, request) => {
    // Serverless hubs exist as soon as a client is told about them (created on first use).
    const url = `${base}${server.options.basePath}/${encodeURIComponent(hubOf(hub).name)}`;
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
  });
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
