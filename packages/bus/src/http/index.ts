/**
 * The bus HTTP API in the shape of the Azure Service Bus REST API, as a `node:http` request
 * handler that can be mounted under a path prefix. See the "HTTP API" section of the README.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  createRateLimiter,
  guardRequest,
  InvalidOptionError,
  type Logger,
  type RateLimitOptions,
  requestTarget,
  silentLogger,
  systemClock,
} from '@hubbub/kernel';
import type { Bus } from '../client.ts';
import * as management from './management.ts';
import { type MessageContext, peek, receiveHead, sendMessages, settle } from './messages.ts';
import { busOverview } from './overview.ts';
import { BusHttpError, sendError, sendJson } from './respond.ts';
import { parseRoute, type Route, routeEntity } from './route.ts';
import { type SasKey, type SasRight, verifySasToken } from './sas.ts';

export { type BrokerPropertiesFields, readBrokerProperties, writeBrokerProperties } from './broker-properties.ts';
export { BATCH_CONTENT_TYPE, parseBatch, toBatchEntry } from './messages.ts';
export { type BusOverview, busOverview, type EntityCounts } from './overview.ts';
export { BusHttpError, type BusHttpErrorCode, BusHttpErrorStatus } from './respond.ts';
export { createSasToken, type SasKey, type SasResult, type SasRight, verifySasToken } from './sas.ts';

export interface BusHttpOptions {
  /** Path prefix the API lives under (`/bus`); requests outside it go to `next` (or get 404). @default '' */
  basePath?: string;
  /**
   * Shared access keys that may sign `Authorization: SharedAccessSignature …` tokens. When empty,
   * requests are not authenticated (development on loopback). @default []
   */
  keys?: readonly SasKey[];
  /** Largest request body accepted, in bytes (entities still enforce their own maximum message size). @default 1_048_576 */
  maxRequestBytes?: number;
  /** Cap on `?timeout=` of receive requests, in seconds. @default 300 */
  maxTimeoutSeconds?: number;
  /** Token expiry is checked against this clock. @default systemClock */
  clock?: Clock;
  /** Unexpected (500) failures are logged here. @default silentLogger */
  logger?: Logger;
  /**
   * Requests each client may make, as a token bucket kept twice: per remote address and per SAS
   * key name; over it a request gets 429 KERNEL_RATE_LIMITED with `Retry-After`. @default no limit
   */
  rateLimit?: Pick<RateLimitOptions, 'ratePerSecond' | 'burst' | 'maxKeys'>;
}

export type BusHttpHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

function normalizeBase(path: string): string {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) {
    throw new InvalidOptionError('basePath', "must be '' or start with '/'");
  }
  return path.replace(/\/+$/, '');
}

const allowed: Record<Route['kind'], readonly string[]> = {
  messages: ['POST', 'GET'],
  head: ['POST', 'DELETE'],
  locked: ['DELETE', 'PUT', 'POST'],
  subscriptions: ['GET'],
  subscription: ['GET', 'PUT', 'DELETE'],
  rules: ['GET'],
  rule: ['GET', 'PUT', 'DELETE'],
  resources: ['GET'],
  overview: ['GET'],
  entity: ['GET', 'PUT', 'DELETE'],
};

const validRights = new Set<unknown>(['Send', 'Listen', 'Manage']);

/** The right a request needs: sending is Send, receiving, settling and peeking Listen, the rest Manage. */
function requiredRight(route: Route, method: string): SasRight {
  if (route.kind === 'messages') return method === 'POST' ? 'Send' : 'Listen';
  if (route.kind === 'head' || route.kind === 'locked') return 'Listen';
  return 'Manage';
}

/** Creates the request handler. `bus` is a {@link Bus} from `createBus`. */
export function createBusHttpHandler(bus: Bus, options: BusHttpOptions = {}): BusHttpHandler {
  const basePath = normalizeBase(options.basePath ?? '');
  const keys = new Map<string, string>();
  const rights = new Map<string, ReadonlySet<SasRight>>();
  for (const k of options.keys ?? []) {
    if (typeof k?.name !== 'string' || k.name === '' || typeof k.key !== 'string' || k.key === '') {
      throw new InvalidOptionError('keys', 'each key needs a non-empty name and key');
    }
    const granted = k.rights ?? ['Manage'];
    if (!Array.isArray(granted) || granted.length === 0 || granted.some((r) => !validRights.has(r))) {
      throw new InvalidOptionError('keys', "rights must list 'Send', 'Listen' and/or 'Manage'");
    }
    keys.set(k.name, k.key);
    rights.set(k.name, new Set(granted.includes('Manage') ? ['Send', 'Listen', 'Manage'] : granted));
  }
  const maxRequestBytes = options.maxRequestBytes ?? 1_048_576;
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1) {
    throw new InvalidOptionError('maxRequestBytes', 'must be a positive integer');
  }
  const maxTimeoutSeconds = options.maxTimeoutSeconds ?? 300;
  if (!(maxTimeoutSeconds >= 0)) throw new InvalidOptionError('maxTimeoutSeconds', 'must be ≥ 0');
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const limiter = options.rateLimit === undefined ? undefined : createRateLimiter({ ...options.rateLimit, clock });

  async function handle(req: IncomingMessage, res: ServerResponse, pathname: string, url: URL): Promise<void> {
    const route = parseRoute(pathname);
    if (route === undefined) throw new BusHttpError('BUS_ROUTE_NOT_FOUND', `No bus API route at ${pathname}.`);
    const method = req.method ?? 'GET';
    if (!allowed[route.kind].includes(method)) {
      res.setHeader('allow', allowed[route.kind].join(', '));
      throw new BusHttpError('BUS_METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}.`, {
        allow: allowed[route.kind],
      });
    }
    limiter?.check(`ip:${req.socket.remoteAddress}`, 'bus requests from this address');
    if (keys.size > 0) {
      const verdict = verifySasToken(req.headers.authorization, keys, routeEntity(route), clock.now(), url.pathname);
      if (!verdict.ok) throw new BusHttpError('BUS_UNAUTHORIZED', `Unauthorized: ${verdict.reason}.`);
      limiter?.check(`key:${verdict.keyName}`, `bus requests with key '${verdict.keyName}'`);
      const needed = requiredRight(route, method);
      if (!rights.get(verdict.keyName)?.has(needed)) {
        throw new BusHttpError(
          'BUS_UNAUTHORIZED',
          `Unauthorized: key '${verdict.keyName}' lacks the ${needed} right.`,
          {
            required: needed,
          },
        );
      }
    }
    const host = req.headers.host ?? 'localhost';
    const ctx: MessageContext = { bus, maxRequestBytes, maxTimeoutSeconds, baseUrl: `http://${host}${basePath}` };
    switch (route.kind) {
      case 'messages':
        if (method === 'GET') await peek(ctx, route.entity, url, res);
        else await sendMessages(ctx, route.entity, req, res);
        return;
      case 'head':
        await receiveHead(ctx, route.entity, method === 'POST' ? 'peekLock' : 'receiveAndDelete', url, res);
        return;
      case 'locked':
        await settle(ctx, route.entity, route.lockToken, method, res);
        return;
      case 'entity':
        await management.entity(bus, route.entity, req, res, maxRequestBytes);
        return;
      case 'subscriptions':
        sendJson(res, 200, await bus.admin.listSubscriptions(route.topic));
        return;
      case 'subscription':
        await management.subscription(bus, route.topic, route.subscription, req, res, maxRequestBytes);
        return;
      case 'rules':
        sendJson(res, 200, await bus.admin.listRules(route.topic, route.subscription));
        return;
      case 'rule':
        await management.rule(bus, route.topic, route.subscription, route.rule, req, res, maxRequestBytes);
        return;
      case 'resources':
        sendJson(res, 200, route.what === 'queues' ? await bus.admin.listQueues() : await bus.admin.listTopics());
        return;
      case 'overview':
        sendJson(res, 200, await busOverview(bus));
        return;
    }
  }

  const serve = guardRequest(
    (req: IncomingMessage, res: ServerResponse): boolean | Promise<void> => {
      const url = requestTarget(req);
      const path = url.pathname;
      const inside = basePath === '' || path === basePath || path.startsWith(`${basePath}/`);
      if (!inside) return false;
      return handle(req, res, path.slice(basePath.length), url);
    },
    {
      onError: (err, req) => logger.error({ err, method: req.method, path: req.url }, 'bus HTTP request failed'),
      reply: (res, err) => {
        const req = res.req;
        const status = (err as { status?: number }).status;
        // Drain what the client is still sending so the error reaches it (unless it was too large).
        if (!req.readableEnded && status !== 413) req.resume();
        sendError(res, err);
        if (status === 413) res.on('finish', () => req.destroy());
      },
    },
  );
  return (req, res, next) => {
    if (serve(req, res) !== false) return;
    if (next !== undefined) next();
    else sendError(res, new BusHttpError('BUS_ROUTE_NOT_FOUND', `No bus API route at ${req.url?.split('?')[0]}.`));
  };
}
