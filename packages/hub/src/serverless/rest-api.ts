/**
 * Azure SignalR's data-plane REST API on `node:http`: what Functions output bindings and the
 * Management SDK call to reach clients. Bearer tokens are HS256 with an access key, `aud` = the
 * request URL (compared leniently, with or without the query, as Azure's own SDK signs it); bodies
 * take `target`/`arguments` in camelCase or PascalCase; statuses follow Azure (see rest-routes.ts).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  HubbubError,
  ignoreBody,
  queryParam,
  readBody,
  requestTarget,
  type TimerHandle,
} from '@hubbub/kernel';
import type { Audience, Exclusions } from '../backplane.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import type { Hub } from '../hub.ts';
import { parseBinaryPayload } from './binary-payload.ts';
import { matchRoute, type Operation, routes2022, routesV1 } from './rest-routes.ts';
import { type AccessKey, audienceMatches, audienceScope, createTokenVerifier } from './tokens.ts';

export interface RestApiOptions {
  /** The hub called `name`, created on first use (throws HUB_BAD_REQUEST for an invalid name). */
  hub(name: string): Hub;
  /** Keys server tokens may be signed with. */
  keys: readonly AccessKey[];
  /** Endpoints whose host a token's `aud` may name (the request's Host is always accepted). */
  endpoints: () => readonly string[];
  clock: Clock;
  /** Largest request body, in bytes. @default 1_048_576 (Azure's limit) */
  maxBodyBytes?: number;
  /**
   * A client access token for a hub (`POST /api/hubs/{hub}/:generateToken`), as the service signs
   * those negotiate returns. @default the route answers HUB_ROUTE_NOT_FOUND
   */
  clientToken?: (
    hub: string,
    options: { userId?: string; lifetimeMs: number; claims?: Record<string, unknown> },
  ) => Promise<string>;
  /** Told about unexpected failures (e.g. a backplane that is down); the caller gets a 500. @default ignored */
  onError?: (error: Error) => void;
}

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

interface Call {
  readonly hub: Hub;
  readonly params: Readonly<Record<string, string>>;
  readonly url: URL;
  readonly body: { target: string; arguments: unknown[] } | undefined;
}

const GROUP_MAX = 1024;
/** Azure's rule for hub names (REST and `/client` alike): a letter, then letters, digits or underscores. */
export const HUB_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;

/** Handles `/api/health`, `/api/hubs/…` and `/api/v1/…`; returns false for any other path. */
export function createRestApi(options: RestApiOptions): RequestHandler {
  const maxBody = options.maxBodyBytes ?? 1_048_576;
  const ttls = new Map<string, TimerHandle>();
  const verify = createTokenVerifier({ keys: options.keys, clock: options.clock });

  return (request, response) => {
    const url = requestTarget(request);
    const path = url.pathname;
    if (/^\/api(\/v1)?\/health\/?$/i.test(path)) {
      response.writeHead(request.method === 'HEAD' || request.method === 'GET' ? 200 : 405).end();
      return true;
    }
    const prefix = /^\/api\/(v1\/)?hubs\//i.exec(path);
    if (prefix === null) return false;
    serve(request, response, url, path.slice(prefix[0].length), prefix[1] !== undefined).catch((err: unknown) => {
      if (response.headersSent) {
        response.destroy();
      } else if (err instanceof HubError || (err instanceof HubbubError && err.status !== undefined)) {
        fail(response, err);
      } else {
        options.onError?.(err instanceof Error ? err : new Error(String(err)));
        const text = JSON.stringify({ message: 'Internal error.' });
        response.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': text.length });
        response.end(text);
      }
    });
    return true;
  };

  async function serve(request: IncomingMessage, response: ServerResponse, url: URL, rest: string, v1: boolean) {
    let segments: string[];
    try {
      segments = rest.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw bad('The path is not correctly percent-encoded.', 'path');
    }
    if (segments.length > 1 && segments.at(-1) === '') segments.pop();
    const [hubSegment = '', ...after] = segments;
    const match = matchRoute(v1 ? routesV1 : routes2022, request.method ?? 'GET', after);
    if (
      match.kind === 'not-found' ||
      (match.kind === 'found' && match.route.operation === 'generateToken' && !options.clientToken)
    ) {
      throw new HubError(
        HubErrorCode.RouteNotFound,
        `No REST API route ${request.method} ${url.pathname.slice(0, 256)}.`,
      );
    }
    if (match.kind === 'method-not-allowed') {
      response.setHeader('Allow', match.allow.join(', '));
      throw new HubError(HubErrorCode.MethodNotAllowed, `Method ${request.method} is not allowed here.`);
    }
    await authenticate(request, url);
    if (!v1) {
      const version = queryParam(url.searchParams, 'api-version') ?? null;
      if (version === null) throw bad("The 'api-version' query parameter is required.", 'api-version');
      if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version)) {
        throw bad(`Unsupported api-version '${version}'.`, 'api-version');
      }
    }
    const application = queryParam(url.searchParams, 'application') ?? null;
    const hubName = application === null || application === '' ? hubSegment : `${application}_${hubSegment}`;
    if (!HUB_NAME.test(hubName)) {
      throw bad(`Invalid hub name '${hubName}': a letter, then letters, digits or underscores.`, 'hub');
    }
    const params = match.params;
    validateParams(params);
    const operation = match.route.operation;
    const sends = operation.startsWith('send') || operation === 'broadcast';
    if (!sends && request.method !== 'HEAD') request.resume();
    const body = sends ? parsePayload(await readBody(request, maxBody), request.headers['content-type']) : undefined;
    if (operation === 'generateToken') return generateToken(response, hubName, url);
    const call: Call = { hub: options.hub(hubName), params, url, body };
    const outcome = await execute(operation, call);
    if (outcome === 'not-found') return notFound(response, request.method === 'HEAD', operation, call);
    response.writeHead(match.route.status, { 'Content-Length': 0 }).end();
  }

  async function authenticate(request: IncomingMessage, url: URL): Promise<void> {
    const header = request.headers.authorization;
    const token = header === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1];
    if (token === undefined) throw new HubError(HubErrorCode.Unauthorized, 'A bearer token is required.');
    const payload = await verify(token);
    if (!audienceMatches(payload.aud, url.pathname, audienceScope(options.endpoints(), request))) {
      throw new HubError(HubErrorCode.Unauthorized, "The token's 'aud' does not name this request URL.");
    }
  }

  async function execute(operation: Operation, call: Call): Promise<'ok' | 'not-found'> {
    const { hub, params, url, body } = call;
    const user = params.user!;
    const group = params.group!;
    const id = params.connectionId!;
    const send = (audience: Audience, exclude?: Exclusions) =>
      hub.send(audience, body!.target, body!.arguments, exclude);
    switch (operation) {
      case 'broadcast':
        await send({ kind: 'all' }, exclusions(url));
        return 'ok';
      case 'sendToUser':
        await send({ kind: 'users', ids: [user] });
        return 'ok';
      case 'sendToConnection':
        await send({ kind: 'connections', ids: [id] });
        return 'ok';
      case 'sendToGroup':
        await send({ kind: 'groups', names: [group] }, exclusions(url));
        return 'ok';
      case 'closeAll':
        await hub.close({ kind: 'all' }, closeOptions(url, exclusions(url)));
        return 'ok';
      case 'closeGroup':
        await hub.close({ kind: 'groups', names: [group] }, closeOptions(url, exclusions(url)));
        return 'ok';
      case 'closeUser':
        await hub.close({ kind: 'users', ids: [user] }, closeOptions(url, exclusions(url)));
        return 'ok';
      case 'closeConnection':
        await hub.close({ kind: 'connections', ids: [id] }, closeOptions(url, undefined));
        return 'ok';
      case 'connectionExists':
        return found(await hub.exists({ kind: 'connection', id }));
      case 'groupExists':
        return found(await hub.exists({ kind: 'group', name: group }));
      case 'userExists':
        return found(await hub.exists({ kind: 'user', id: user }));
      case 'userInGroup':
        return found(await hub.exists({ kind: 'user-in-group', userId: user, group }));
      case 'addConnectionToGroup':
        if (!(await hub.exists({ kind: 'connection', id }))) return 'not-found';
        await hub.groups.add(id, group);
        return 'ok';
      case 'removeConnectionFromGroup':
        if (!(await hub.exists({ kind: 'connection', id }))) return 'not-found';
        await hub.groups.remove(id, group);
        return 'ok';
      case 'removeConnectionFromAllGroups':
        await hub.groups.removeFromAll(id);
        return 'ok';
      case 'addUserToGroup':
        await addUserToGroup(hub, user, group, url);
        return 'ok';
      case 'removeUserFromGroup':
        cancelTtl(hub, user, group);
        await hub.groups.removeUser(user, group);
        return 'ok';
      case 'removeUserFromAllGroups':
        for (const key of [...ttls.keys()]) if (key.startsWith(ttlKey(hub, user, ''))) cancelTtlKey(key);
        await hub.groups.removeUserFromAll(user);
        return 'ok';
      case 'generateToken':
        throw new Error('generateToken is answered before execute().');
    }
  }

  /**
   * `{ "token": … }`: a client access token for the hub (api-version 2022-11-01), with `userId`,
   * `minutesToExpire` (default 60) and `role` (repeatable) from the query, as Azure takes them.
   */
  async function generateToken(response: ServerResponse, hub: string, url: URL): Promise<void> {
    const userId = queryParam(url.searchParams, 'userId') ?? null;
    const rawMinutes = queryParam(url.searchParams, 'minutesToExpire') ?? null;
    const minutes = rawMinutes === null ? 60 : Number(rawMinutes);
    if (rawMinutes !== null && !(/^\d+$/.test(rawMinutes) && minutes >= 1 && minutes <= 525_600)) {
      throw bad(
        `'minutesToExpire' must be a whole number of minutes from 1 to 525600, got '${rawMinutes.slice(0, 32)}'.`,
        'minutesToExpire',
      );
    }
    if (url.searchParams.has('group')) {
      throw bad(
        "'group' (groups joined on connect) is not supported; add the connection to groups once it is connected.",
        'group',
      );
    }
    const roles = url.searchParams.getAll('role').filter((r) => r !== '');
    const token = await options.clientToken!(hub, {
      ...(userId === null || userId === '' ? {} : { userId }),
      lifetimeMs: minutes * 60_000,
      ...(roles.length === 0 ? {} : { claims: { role: roles.length === 1 ? roles[0] : roles } }),
    });
    const text = JSON.stringify({ token });
    response.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    response.end(text);
  }

  /** `ttl` in seconds: 0 adds only the user's current connections; N > 0 ends the membership after N s. */
  async function addUserToGroup(hub: Hub, user: string, group: string, url: URL): Promise<void> {
    const raw = queryParam(url.searchParams, 'ttl') ?? null;
    const ttl = raw === null ? undefined : Number(raw);
    if (raw !== null && !(/^\d+$/.test(raw) && Number.isSafeInteger(ttl))) {
      throw bad(`'ttl' must be a whole number of seconds, got '${raw}'.`, 'ttl');
    }
    cancelTtl(hub, user, group);
    if (ttl === 0) {
      await hub.groups.addUserConnections(user, group);
      return;
    }
    await hub.groups.addUser(user, group);
    if (ttl !== undefined) {
      const key = ttlKey(hub, user, group);
      ttls.set(
        key,
        options.clock.setTimeout(() => {
          ttls.delete(key);
          void hub.groups.removeUser(user, group);
        }, ttl * 1000),
      );
    }
  }

  function cancelTtl(hub: Hub, user: string, group: string): void {
    cancelTtlKey(ttlKey(hub, user, group));
  }

  function cancelTtlKey(key: string): void {
    ttls.get(key)?.cancel();
    ttls.delete(key);
  }
}

const found = (exists: boolean): 'ok' | 'not-found' => (exists ? 'ok' : 'not-found');

function ttlKey(hub: Hub, user: string, group: string): string {
  return `${hub.name}\u0000${user}\u0000${group}`;
}

function validateParams(params: Readonly<Record<string, string>>): void {
  const { group, user, connectionId } = params;
  if (group !== undefined && (group.length === 0 || group.length > GROUP_MAX)) {
    throw bad(`A group name must have 1 to ${GROUP_MAX} characters.`, 'group');
  }
  if (user !== undefined && user.length === 0) throw bad('The user id is empty.', 'user');
  if (connectionId !== undefined && connectionId.length === 0) throw bad('The connection id is empty.', 'connectionId');
}

/** `excluded` (connection ids) and, as a Hubbub extension, `excludedUsers`; repeated or comma-separated. */
function exclusions(url: URL): Exclusions | undefined {
  const list = (name: string) =>
    url.searchParams
      .getAll(name)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
  const connectionIds = list('excluded');
  const userIds = list('excludedUsers');
  if (connectionIds.length === 0 && userIds.length === 0) return undefined;
  return { connectionIds, userIds };
}

function closeOptions(url: URL, exclude: Exclusions | undefined) {
  const reason = queryParam(url.searchParams, 'reason') ?? null;
  return {
    ...(reason === null || reason === '' ? {} : { reason }),
    ...(exclude === undefined ? {} : { exclude }),
  };
}

/** A `PayloadMessage`: `{target, arguments}` with keys in any letter case, or the SDK's binary form. */
export function parsePayload(body: Buffer, contentType: string | undefined): { target: string; arguments: unknown[] } {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/octet-stream' || type === 'application/x-msgpack') return parseBinaryPayload(body);
  if (type !== 'application/json' && type !== 'text/json' && !type.endsWith('+json')) {
    throw new HubError(HubErrorCode.BadRequest, `Content-Type '${type}' is not supported; send application/json.`, {
      status: 415,
      detail: { field: 'Content-Type' },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HubError(HubErrorCode.BadRequest, 'The body is not valid JSON.', {
      cause: err,
      detail: { field: 'body' },
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad('The body must be a JSON object with target and arguments.', 'body');
  }
  let target: unknown;
  let args: unknown;
  for (const [key, v] of Object.entries(value)) {
    const k = key.toLowerCase();
    if (k === 'target') target = v;
    else if (k === 'arguments') args = v;
  }
  if (typeof target !== 'string' || target.trim() === '') throw bad("'target' must be a non-empty string.", 'target');
  if (args !== undefined && args !== null && !Array.isArray(args))
    throw bad("'arguments' must be an array.", 'arguments');
  return { target, arguments: (args as unknown[] | null | undefined) ?? [] };
}

function bad(message: string, field: string): HubError {
  return new HubError(HubErrorCode.BadRequest, message, { detail: { field } });
}

/** Azure's `ErrorDetail` shape, with Hubbub's stable code: `{code, message, target}`. */
function fail(response: ServerResponse, error: HubbubError, azureCode?: string): void {
  ignoreBody(response.req, response); // an error ends the exchange: an unread body is not read to its end
  const status = error.status ?? 500;
  if (status === 401) response.setHeader('WWW-Authenticate', 'Bearer');
  const field = error.detail?.field;
  const text = JSON.stringify({
    code: error.code,
    message: error.message,
    ...(typeof field === 'string' ? { target: field } : {}),
  });
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'x-ms-error-code': azureCode ?? error.code,
  });
  response.end(text);
}

const notExisted: Partial<Record<Operation, string>> = {
  connectionExists: 'Warning.Connection.NotExisted',
  groupExists: 'Warning.Group.NotExisted',
  userExists: 'Warning.User.NotExisted',
  userInGroup: 'Info.User.NotInGroup',
  addConnectionToGroup: 'Error.Connection.NotExisted',
  removeConnectionFromGroup: 'Error.Connection.NotExisted',
};

function notFound(response: ServerResponse, head: boolean, operation: Operation, call: Call): void {
  const azureCode = notExisted[operation] ?? 'Error.NotFound';
  if (head || (!operation.startsWith('add') && !operation.startsWith('remove'))) {
    response.writeHead(404, { 'x-ms-error-code': azureCode, 'Content-Length': 0 }).end();
    return;
  }
  const id = call.params.connectionId ?? '';
  fail(
    response,
    new HubError(HubErrorCode.ConnectionNotFound, `No connection '${id}' in hub '${call.hub.name}'.`),
    azureCode,
  );
}
