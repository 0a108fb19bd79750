/**
 * From a request to its handler: the hub, the route, `api-version`, the method, the shared access
 * signature and the right the route needs, then the body under its limit. The order matters: a
 * request is authorized before its body is read, so an unauthenticated client never makes the
 * front buffer anything.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Clock, ignoreBody, queryParam, type RateLimiter, readBody, requestTarget } from '@hubbub/kernel';
import { PushError } from '../errors.ts';
import { serveBatch } from './batch.ts';
import { apiVersion, Exchange, type NotificationHubsBackend } from './exchange.ts';
import { serveInstallation } from './installations.ts';
import { serveRegistration, serveRegistrationId, serveRegistrations, serveTagRegistrations } from './registrations.ts';
import { invalidRequest } from './reply.ts';
import { checkPathId, parseRoute, rights } from './routes.ts';
import { type AccessPolicy, verifySasToken } from './sas.ts';
import { serveCancel, serveOutcome, serveSend } from './sends.ts';

export interface RouterConfig {
  readonly hubName: string;
  readonly service: NotificationHubsBackend;
  readonly policies: ReadonlyMap<string, AccessPolicy>;
  /** Origins tokens may name (lower case). */
  readonly origins: () => ReadonlySet<string>;
  /** The origin locations are written with. */
  readonly origin: () => string;
  readonly clock: Clock;
  readonly maxBodyBytes: number;
  readonly skewMs: number;
  /** Requests per client address, when limited. */
  readonly limiter?: RateLimiter;
  /** Refused (401, 403) requests per client address. */
  readonly failures?: RateLimiter;
  readonly trackingId: () => string;
}

/** API versions the front answers; the SDK 2.x sends 2020-06, older SDKs the earlier ones. */
const versions = new Set([apiVersion, '2015-01', '2016-07', '2017-04', '2019-03']);

export function createRouter(c: RouterConfig) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    response.setHeader('TrackingId', c.trackingId());
    const address = request.socket.remoteAddress ?? 'unknown';
    const failures = c.failures;
    if (failures !== undefined) {
      if (failures.available(address) < 1) failures.check(address, 'refused requests from this address');
      response.once('finish', () => {
        if (response.statusCode === 401 || response.statusCode === 403) failures.take(address);
      });
    }
    c.limiter?.check(address, 'requests from this address');
    const url = requestTarget(request);
    const { hub, route } = parseRoute(url.pathname);
    if (hub.toLowerCase() !== c.hubName.toLowerCase())
      throw new PushError('PUSH_NOT_FOUND', `No hub '${hub.slice(0, 64)}' here.`, {
        status: 404,
        detail: { hub: hub.slice(0, 64) },
      });
    if (route === undefined)
      throw new PushError('PUSH_NOT_FOUND', `Nothing is served at ${url.pathname.slice(0, 256)}.`, { status: 404 });
    const version = queryParam(url.searchParams, 'api-version');
    if (version === undefined) throw invalidRequest('The api-version query parameter is required.', 'api-version');
    if (!versions.has(version))
      throw invalidRequest(`api-version '${version.slice(0, 32)}' is not supported; use ${apiVersion}.`, 'api-version');
    const method = request.method ?? 'GET';
    const right = Object.hasOwn(rights[route.kind], method) ? rights[route.kind][method] : undefined;
    if (right === undefined) {
      response.setHeader('Allow', Object.keys(rights[route.kind]).join(', '));
      throw new PushError('PUSH_METHOD_NOT_ALLOWED', `${method.slice(0, 16)} is not allowed here.`, { status: 405 });
    }
    const authorization = request.headers.authorization;
    const auth = verifySasToken(c.policies, {
      header: authorization,
      origins: c.origins(),
      path: url.pathname,
      right,
      nowMs: c.clock.now(),
      skewMs: c.skewMs,
    });
    if (!auth.ok) {
      const code = auth.status === 403 ? 'PUSH_FORBIDDEN' : 'PUSH_UNAUTHORIZED';
      throw new PushError(code, `The request is not authorized: ${auth.reason}.`, { status: auth.status });
    }
    const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
    if (!hasBody) ignoreBody(request, response);
    const body = hasBody ? await readBody(request, c.maxBodyBytes) : undefined;
    const x = new Exchange({ request, response, url, hub: c.hubName, origin: c.origin(), service: c.service, body });
    switch (route.kind) {
      case 'installation':
        return serveInstallation(x, checkPathId(route.id, 'installation id'));
      case 'messages':
        return serveSend(x, false);
      case 'batch':
        return serveBatch(x);
      case 'schedule':
        return serveSend(x, true);
      case 'message':
        return serveOutcome(x, checkPathId(route.id, 'notification id'));
      case 'scheduled':
        return serveCancel(x, checkPathId(route.id, 'notification id'));
      case 'registrationIds':
        return serveRegistrationId(x);
      case 'registrations':
        return serveRegistrations(x);
      case 'registration':
        return serveRegistration(x, checkPathId(route.id, 'registration id'));
      case 'tagRegistrations':
        return serveTagRegistrations(x, checkPathId(route.tag, 'tag'));
      default:
        throw new PushError(
          'PUSH_NOT_SUPPORTED',
          `Hubbub does not serve ${route.kind} (${method} ${url.pathname.slice(0, 128)}).`,
          {
            status: 404,
            detail: { route: route.kind },
          },
        );
    }
  };
}
