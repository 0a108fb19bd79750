/**
 * The functions host's SignalR extension ({@link SignalRTarget}) on a hub in another process
 * (Hubbub's hub in service mode, or Azure SignalR itself) named by a connection string
 * `Endpoint=http://host;Port=…;AccessKey=…;Version=1.0;[ClientEndpoint=…;]`, through Azure SignalR
 * Service's data-plane REST API (api-version 2022-06-01), as the Azure Functions SignalR extension
 * does. Connection info is computed locally: `{endpoint}/client/?hub={hub}` and an HS256 token
 * with `aud` = that URL, signed here with the hub's token functions.
 * @module
 */
import { FunctionsError, parseConnectionString, type SignalRResolver, type SignalRTarget } from '@hubbub/functions';
import { createClientAccess, createServerToken } from '@hubbub/hub';
import { type Clock, systemClock } from '@hubbub/kernel';

const API_VERSION = '2022-06-01';

export interface SignalRServiceOptions {
  /** @default systemClock */
  clock?: Clock;
  /** Lifetime of client and server tokens in ms. @default 3_600_000 */
  lifetimeMs?: number;
  /** Per-request timeout in ms. @default 10_000 */
  timeoutMs?: number;
  /** The setting the connection string came from, named in errors. @default 'AzureSignalRConnectionString' */
  setting?: string;
}

interface Endpoints {
  readonly endpoint: string;
  readonly clientEndpoint: string;
  readonly accessKey: string;
}

/** Endpoint and key of an Azure SignalR connection string; FUNCTIONS_INVALID_SETTING when unusable. */
export function signalRServiceEndpoints(connectionString: string, setting = 'AzureSignalRConnectionString'): Endpoints {
  const parts = parseConnectionString(connectionString);
  const origin = (value: string | undefined, field: string): string => {
    let url: URL;
    try {
      url = new URL(value ?? '');
    } catch {
      throw new FunctionsError(
        'FUNCTIONS_INVALID_SETTING',
        `Connection setting "${setting}" needs ${field}=http(s)://….`,
        {
          detail: { setting, field },
        },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FunctionsError(
        'FUNCTIONS_INVALID_SETTING',
        `Connection setting "${setting}": ${field} must be http(s).`,
        {
          detail: { setting, field },
        },
      );
    }
    if (parts.port !== undefined) url.port = parts.port;
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  };
  const endpoint = origin(parts.endpoint, 'Endpoint');
  const accessKey = parts.accesskey;
  if (accessKey === undefined || accessKey === '') {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `Connection setting "${setting}" needs an AccessKey.`, {
      detail: { setting, field: 'AccessKey' },
    });
  }
  const clientEndpoint = parts.clientendpoint === undefined ? endpoint : origin(parts.clientendpoint, 'ClientEndpoint');
  return { endpoint, clientEndpoint, accessKey };
}

export function fromSignalRService(connectionString: string, options: SignalRServiceOptions = {}): SignalRTarget {
  const { endpoint, clientEndpoint, accessKey } = signalRServiceEndpoints(connectionString, options.setting);
  const clock = options.clock ?? systemClock;
  const lifetimeMs = options.lifetimeMs ?? 3_600_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const seg = encodeURIComponent;

  async function call(method: string, path: string, body?: unknown): Promise<void> {
    const url = `${endpoint}/api/hubs/${path}?api-version=${API_VERSION}`;
    const token = await createServerToken({ audience: url, accessKey, lifetimeMs, clock });
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`SignalR REST ${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
  }

  return {
    async send(hub, message) {
      const h = seg(hub.toLowerCase());
      const body = { target: message.target, arguments: message.arguments };
      if (message.connectionId !== undefined)
        await call('POST', `${h}/connections/${seg(message.connectionId)}/:send`, body);
      else if (message.userId !== undefined) await call('POST', `${h}/users/${seg(message.userId)}/:send`, body);
      else if (message.groupName !== undefined) await call('POST', `${h}/groups/${seg(message.groupName)}/:send`, body);
      else await call('POST', `${h}/:send`, body);
    },
    async groupAction(hub, action) {
      const h = seg(hub.toLowerCase());
      const group = seg(action.groupName ?? '');
      if (action.connectionId !== undefined) {
        const id = seg(action.connectionId);
        if (action.action === 'removeAll') await call('DELETE', `${h}/connections/${id}/groups`);
        else await call(action.action === 'add' ? 'PUT' : 'DELETE', `${h}/groups/${group}/connections/${id}`);
      } else if (action.userId !== undefined) {
        const user = seg(action.userId);
        if (action.action === 'removeAll') await call('DELETE', `${h}/users/${user}/groups`);
        else await call(action.action === 'add' ? 'PUT' : 'DELETE', `${h}/users/${user}/groups/${group}`);
      }
    },
    connectionInfo(hub, request) {
      return createClientAccess({
        endpoint: clientEndpoint,
        accessKey,
        hub,
        lifetimeMs: request.lifetimeMs ?? lifetimeMs,
        clock,
        ...(request.userId === undefined ? {} : { userId: request.userId }),
        ...(request.claims === undefined ? {} : { claims: request.claims }),
      });
    },
  };
}

/**
 * The factory the functions host is given for SignalR connection settings: an
 * `Endpoint=…;AccessKey=…` value names a SignalR service reached over its REST API (one target per
 * connection string); any other value names none (the binding is FUNCTIONS_BINDING_UNAVAILABLE).
 */
export function signalRServiceResolver(options: Omit<SignalRServiceOptions, 'setting'> = {}): SignalRResolver {
  return ({ name, value }) =>
    /endpoint=/i.test(value) ? fromSignalRService(value, { ...options, setting: name }) : undefined;
}
