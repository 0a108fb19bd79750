/**
 * The delivery REST API as a part of the all-in-one server (`startSystem({ parts })`):
 * `/api/v1/restaurants…`, `/api/v1/account`, `/api/v1/session`, `/api/v1/orders…`,
 * `/api/v1/push/installations/{id}` (Web Push opt-in, `push.ts`), the staff views' routes
 * (`/api/v1/live/negotiate`, `/api/v1/courier/…`, `/api/v1/operations/…`, `staff.ts`) and `/api/openapi.json`, on
 * the system's store (accounts, sessions, restaurants, orders — read and written with etags), bus
 * (topic `orders`) and push service. Everything else under `/api` is left to the next
 * part (the SignalR REST API, the function app). `start()` creates what it uses: the database and
 * containers, the demo restaurants, topic `orders` with duplicate detection and its subscriptions
 * `processing` (subject `submitted`) and `notifications` (every status event).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus, Sender } from '@hubbub/bus';
import type { Cache } from '@hubbub/cache';
import type { SignalRService } from '@hubbub/hub';
import {
  type Clock,
  decodePathSegment,
  HubbubError,
  ignoreBody,
  type Logger,
  requestTarget,
  sendError,
  sendJson,
  systemClock,
} from '@hubbub/kernel';
import type { PushService } from '@hubbub/push';
import type { Store } from '@hubbub/store';
import type { ArrivalOptions, ArrivingThreshold } from '../arrival.ts';
import { type Accounts, type Principal, publicAccount, unauthorized } from './accounts.ts';
import { createBudget } from './budgets.ts';
import { ensureEntities } from './entities.ts';
import { DeliveryError, notFound } from './errors.ts';
import {
  etagHeader,
  idempotencyKeyOf,
  ifMatchOf,
  isLoopbackOrigin,
  parseWith,
  queryOf,
  readJson,
  sendNoContent,
  sessionCookie,
  tokenOf,
} from './http.ts';
import { createLiveOrders } from './live.ts';
import { openApiDocument } from './openapi.ts';
import { createPushInstallations, pushRoutes } from './push.ts';
import type { Restaurant, Role } from './rules.ts';
import { Cancel, ID, ListQuery, OrderCreate, SignIn, SignUp, Transition } from './schemas.ts';
import { type Services, setupServices } from './services.ts';
import { type Staff, setupStaff, staffRoutes } from './staff.ts';
import { type ActiveStatus, stuckThresholds } from './stuck.ts';

export interface DeliveryApiOptions {
  readonly bus: Bus;
  readonly store: Store;
  /** URL browsers reach the server at: its origin is the one cookie-authenticated changes may come from. */
  readonly url: string;
  readonly logger: Logger;
  /** Hot reads (restaurants, menus) go through it. @default none: every read goes to the store */
  readonly cache?: Cache;
  /** How long a restaurant or menu read is cached, in ms. @default 30_000 */
  readonly menuTtlMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Database of the containers. @default 'delivery' (the function app's `DeliveryDatabase` setting) */
  readonly database?: string;
  /** Topic orders go to. @default 'orders' (the function app's `OrdersTopic`) */
  readonly topic?: string;
  /** How long a session lasts, in seconds. @default 604_800 (7 days) */
  readonly sessionTtlSeconds?: number;
  /**
   * How long a session read stays in the cache, in ms: a sign-out takes effect at once where the
   * cache is shared, and within this bound in a process with a cache of its own. 0: no caching.
   * @default 5_000
   */
  readonly sessionCacheMs?: number;
  /** Largest request body, in bytes. @default 65_536 */
  readonly maxBodyBytes?: number;
  /** Failed sign-ins allowed per client address and per email before 429, refilled one per 30 s. @default 10 */
  readonly signInFailureBurst?: number;
  /**
   * Count the sign-in and sign-up budgets in `cache` (Redis: shared by every application node, so
   * N nodes grant one budget, not N) instead of in this process (`budgets.ts`). @default false
   */
  readonly sharedBudgets?: boolean;
  /** The system's push service, for browsers' Web Push installations. @default none: DELIVERY_PUSH_UNAVAILABLE */
  readonly push?: PushService;
  /** Push endpoint origins taken even on loopback or private addresses (a local push service). @default none */
  readonly pushEndpointOrigins?: readonly string[];
  /** The serverless hubs: each order's status goes live to its group (`live.ts`). @default none: negotiate is DELIVERY_UNAVAILABLE */
  readonly signalR?: SignalRService;
  /** Queue the couriers' positions go to (the tracking system's). @default 'locations' */
  readonly locationsQueue?: string;
  /**
   * Seconds an order may stay in each active status before the operations board calls it stuck.
   * @default placed 300, accepted 600, preparing 1800, ready 600, picked_up 2700
   */
  readonly stuckAfterSeconds?: Partial<Record<ActiveStatus, number>>;
  /**
   * The arrival estimate on each position of a picked-up order, and when the customer is told once
   * that the courier is about to arrive (`dispatch.ts`, `../arrival.ts`).
   * @default seconds 120, meters 300, detourFactor 1.3
   */
  readonly arriving?: ArrivalOptions & ArrivingThreshold;
}

export interface DeliveryApi {
  /** Creates the bus entities (awaited: the processor's trigger needs them) and begins the store's setup. */
  start(): Promise<void>;
  /**
   * Resolves once the containers exist and the demo restaurants are in them (requests wait for
   * this too; a failed setup is tried again by the next request).
   */
  ready(): Promise<void>;
  close(): Promise<void>;
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean;
}

type Handler = (request: IncomingMessage, response: ServerResponse, params: string[]) => Promise<void>;

const OURS =
  /^\/api\/(?:openapi\.json$|v1\/(?:restaurants|orders|account|session|push|live|courier|operations)(?:\/|$))/;

export function createDeliveryApi(options: DeliveryApiOptions): DeliveryApi {
  const clock = options.clock ?? systemClock;
  const databaseId = options.database ?? 'delivery';
  const topic = options.topic ?? 'orders';
  const sessionTtlSeconds = options.sessionTtlSeconds ?? 604_800;
  const maxBody = options.maxBodyBytes ?? 65_536;
  const logger = options.logger;
  const origin = new URL(options.url).origin;
  const secure = origin.startsWith('https:');
  const shared = options.sharedBudgets === true ? options.cache : undefined;
  const onBudgetError = (err: unknown) => logger.warn({ err }, 'a shared request budget could not be counted');
  const failures = createBudget({
    name: 'sign-in-failures',
    ratePerSecond: 1 / 30,
    burst: options.signInFailureBurst ?? 10,
    clock,
    cache: shared,
    onError: onBudgetError,
  });
  const signUps = createBudget({
    name: 'sign-ups',
    ratePerSecond: 1 / 6,
    burst: 20,
    clock,
    cache: shared,
    onError: onBudgetError,
  });
  const installations = createPushInstallations({
    push: options.push,
    clock,
    ...(options.pushEndpointOrigins === undefined ? {} : { endpointOrigins: options.pushEndpointOrigins }),
  });
  const live = createLiveOrders(options.signalR, logger);
  const stuckAfterSeconds = stuckThresholds(options.stuckAfterSeconds);
  let sender: Sender | undefined;
  let staff: Promise<Staff> | undefined;
  let services: Promise<Services> | undefined;
  let closed = false;

  const ready = (): Promise<Services> => {
    if (closed || sender === undefined) {
      return Promise.reject(new DeliveryError('DELIVERY_UNAVAILABLE', 'The delivery API is not running.'));
    }
    if (services === undefined) {
      const pending = setupServices({
        store: options.store,
        database: databaseId,
        sender,
        clock,
        sessionTtlSeconds,
        cache: options.cache,
        menuTtlMs: options.menuTtlMs ?? 30_000,
        sessionCacheMs: options.sessionCacheMs ?? 5_000,
        live,
      });
      pending.catch(() => {
        if (services === pending) services = undefined;
      });
      services = pending;
    }
    return services;
  };

  /** The staff views' services, set up once the API's are (a failed setup is tried again by the next request). */
  const staffReady = (): Promise<Staff> => {
    if (staff === undefined) {
      const pending = ready().then((s) =>
        setupStaff({
          store: options.store,
          database: databaseId,
          orders: s.orders,
          bus: options.bus,
          locationsQueue: options.locationsQueue ?? 'locations',
          topic,
          arriving: options.arriving,
          logger,
          cache: options.cache,
          live,
          clock,
          stuckAfterSeconds,
        }),
      );
      pending.catch(() => {
        if (staff === pending) staff = undefined;
      });
      staff = pending;
    }
    return staff;
  };

  const addressOf = (request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown';

  /** The caller's principal; DELIVERY_UNAUTHORIZED without a valid session, DELIVERY_CROSS_ORIGIN for a foreign cookie change. */
  async function principalOf(request: IncomingMessage, ...roles: Role[]): Promise<Principal> {
    const carried = tokenOf(request);
    if (carried === undefined) throw unauthorized('missing');
    const principal = await (await ready()).accounts.resolve(carried.token);
    const method = request.method ?? 'GET';
    if (carried.via === 'cookie' && method !== 'GET' && method !== 'HEAD') {
      const from = request.headers.origin;
      if (from !== undefined && from !== origin && !isLoopbackOrigin(from, origin)) {
        throw new DeliveryError('DELIVERY_CROSS_ORIGIN', 'Changes with the session cookie must come from this site.', {
          detail: { origin: from.slice(0, 200) },
        });
      }
    }
    if (roles.length > 0 && !roles.includes(principal.role)) {
      throw new DeliveryError('DELIVERY_FORBIDDEN', `This needs a ${roles.join(' or ')} account.`, {
        detail: { role: principal.role },
      });
    }
    return principal;
  }

  /** A restaurant as clients see it: no system properties, no delivery area, no store id. */
  const restaurantView = (r: Restaurant) => {
    const hidden = new Set(['deliveryArea', 'storeId', '_etag', '_ts']);
    return Object.fromEntries(Object.entries(r).filter(([k]) => !hidden.has(k)));
  };

  async function restaurantOr404(id: string): Promise<Restaurant> {
    const restaurant = ID.test(id) ? await (await ready()).orders.restaurant(id) : undefined;
    if (restaurant === undefined) throw notFound('restaurant', id);
    return restaurant;
  }

  async function signIn(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJson(request, SignIn, maxBody);
    const keys = [`address:${addressOf(request)}`, `email:${body.email.toLowerCase()}`];
    for (const key of keys) await failures.ensure(key, 'failed sign-ins');
    let account: Awaited<ReturnType<Accounts['authenticate']>>;
    try {
      account = await (await ready()).accounts.authenticate(body.email, body.password);
    } catch (err) {
      if (err instanceof DeliveryError && err.code === 'DELIVERY_INVALID_CREDENTIALS')
        for (const key of keys) await failures.spend(key);
      throw err;
    }
    await sendSession(response, 201, account);
  }

  async function sendSession(
    response: ServerResponse,
    status: number,
    account: Awaited<ReturnType<Accounts['authenticate']>>,
  ): Promise<void> {
    const { token, expiresAt } = await (await ready()).accounts.openSession(account);
    sendJson(
      response,
      status,
      { token, expiresAt: new Date(expiresAt).toISOString(), account: publicAccount(account) },
      { 'Set-Cookie': sessionCookie(token, sessionTtlSeconds, secure) },
    );
  }

  const routes: { path: RegExp; methods: Record<string, Handler> }[] = [
    {
      path: /^\/api\/openapi\.json$/,
      methods: { GET: async (_q, res) => sendJson(res, 200, openApiDocument(options.url)) },
    },
    {
      path: /^\/api\/v1\/restaurants$/,
      methods: {
        GET: async (_q, res) =>
          sendJson(res, 200, {
            items: (await (await ready()).orders.allRestaurants()).map(({ menu: _, ...r }) =>
              restaurantView(r as Restaurant),
            ),
          }),
      },
    },
    {
      path: /^\/api\/v1\/restaurants\/([^/]+)$/,
      methods: { GET: async (_q, res, [id]) => sendJson(res, 200, restaurantView(await restaurantOr404(id!))) },
    },
    {
      path: /^\/api\/v1\/restaurants\/([^/]+)\/menu$/,
      methods: {
        GET: async (_q, res, [id]) => {
          const r = await restaurantOr404(id!);
          sendJson(res, 200, { restaurantId: r.id, currency: r.currency, items: r.menu });
        },
      },
    },
    {
      path: /^\/api\/v1\/account$/,
      methods: {
        POST: async (req, res) => {
          await signUps.check(`address:${addressOf(req)}`, 'sign-ups');
          const body = await readJson(req, SignUp, maxBody);
          const account = await (await ready()).accounts.create({ ...body, role: 'customer' });
          await sendSession(res, 201, account);
        },
        GET: async (req, res) => {
          const principal = await principalOf(req);
          const account = await (await ready()).accounts.read(principal.id);
          if (account === undefined) throw unauthorized('unknown');
          sendJson(res, 200, publicAccount(account));
        },
      },
    },
    {
      path: /^\/api\/v1\/session$/,
      methods: {
        POST: signIn,
        DELETE: async (req, res) => {
          const principal = await principalOf(req);
          await (await ready()).accounts.closeSession(principal);
          sendNoContent(res, { 'Set-Cookie': sessionCookie('', 0, secure) });
        },
      },
    },
    {
      path: /^\/api\/v1\/orders$/,
      methods: {
        POST: async (req, res) => {
          const principal = await principalOf(req, 'customer');
          const key = idempotencyKeyOf(req);
          const body = await readJson(req, OrderCreate, maxBody);
          const id = await (await ready()).orders.submit(principal, body, key);
          const url = `${options.url}/api/v1/orders/${id}`;
          sendJson(res, 202, { id, status: 'submitted', url }, { Location: url, 'Retry-After': '1' });
        },
        GET: async (req, res) => {
          const principal = await principalOf(req);
          const params = queryOf(req);
          const query = parseWith(ListQuery, params, 'DELIVERY_INVALID_QUERY');
          sendJson(res, 200, await (await ready()).orders.list(principal, query));
        },
      },
    },
    {
      path: /^\/api\/v1\/orders\/([^/]+)$/,
      methods: {
        GET: async (req, res, [id]) => {
          const principal = await principalOf(req);
          if (!ID.test(id!)) throw notFound('order', id);
          const { order, etag } = await (await ready()).orders.get(principal, id!);
          sendJson(res, 200, order, { ETag: etagHeader(etag) });
        },
      },
    },
    {
      // The order page's SignalR client POSTs `<order URL>/negotiate`: connection info for the
      // order's live group, granted here to those who may watch the order (live.ts).
      path: /^\/api\/v1\/orders\/([^/]+)\/negotiate$/,
      methods: Object.fromEntries(
        ['GET', 'POST'].map((method): [string, Handler] => [
          method,
          async (req, res, [id]) => {
            if (method === 'POST') ignoreBody(req, res);
            const principal = await principalOf(req);
            if (!ID.test(id!)) throw notFound('order', id);
            const { order } = await (await ready()).orders.get(principal, id!);
            sendJson(res, 200, await live.negotiate(principal, order), { 'Cache-Control': 'no-store' });
          },
        ]),
      ),
    },
    {
      path: /^\/api\/v1\/orders\/([^/]+)\/cancel$/,
      methods: {
        POST: async (req, res, [id]) => {
          const principal = await principalOf(req, 'customer');
          if (!ID.test(id!)) throw notFound('order', id);
          const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
          const body =
            hasBody || req.headers['transfer-encoding'] !== undefined ? await readJson(req, Cancel, maxBody) : {};
          const { order, etag } = await (await ready()).orders.transition(
            principal,
            id!,
            'cancelled',
            body.reason,
            ifMatchOf(req),
          );
          sendJson(res, 200, order, { ETag: etagHeader(etag) });
        },
      },
    },
    {
      path: /^\/api\/v1\/orders\/([^/]+)\/transitions$/,
      methods: {
        POST: async (req, res, [id]) => {
          const principal = await principalOf(req);
          if (!ID.test(id!)) throw notFound('order', id);
          const body = await readJson(req, Transition, maxBody);
          const { order, etag } = await (await ready()).orders.transition(
            principal,
            id!,
            body.to,
            body.reason,
            ifMatchOf(req),
          );
          sendJson(res, 200, order, { ETag: etagHeader(etag) });
        },
      },
    },
    ...pushRoutes(installations, (req) => principalOf(req, 'customer'), maxBody),
    ...staffRoutes({ principalOf, staff: staffReady, live, maxBody }),
  ];

  async function serve(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE')
      ignoreBody(request, response);
    for (const route of routes) {
      const match = route.path.exec(path);
      if (match === null) continue;
      const handler = route.methods[request.method ?? 'GET'];
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ');
        throw new DeliveryError('DELIVERY_METHOD_NOT_ALLOWED', `${request.method} is not served here; use ${allow}.`, {
          detail: { allow },
        });
      }
      await handler(request, response, match.slice(1).map(decodePathSegment));
      return;
    }
    throw new DeliveryError('DELIVERY_NOT_FOUND', `Nothing is served at ${path.slice(0, 200)}.`, {
      detail: { resource: 'route', path: path.slice(0, 256) },
    });
  }

  function fail(response: ServerResponse, request: IncomingMessage, err: unknown): void {
    let reply = err;
    if (!(err instanceof DeliveryError) && !(err instanceof HubbubError && err.code.startsWith('KERNEL_'))) {
      const code = (err as { code?: unknown }).code;
      if (
        code === 'STORE_UNAVAILABLE' ||
        code === 'STORE_CLOSED' ||
        code === 'BUS_CLOSED' ||
        code === 'BUS_ENGINE_FAILURE'
      ) {
        reply = new DeliveryError('DELIVERY_UNAVAILABLE', 'The service cannot reach its data right now; retry.', {
          cause: err,
        });
      }
      logger.error({ err, method: request.method, url: request.url }, 'delivery API request failed');
    }
    if (reply instanceof DeliveryError && reply.code === 'DELIVERY_METHOD_NOT_ALLOWED' && !response.headersSent) {
      response.setHeader('Allow', String(reply.detail?.allow ?? ''));
    }
    sendError(response, reply);
  }

  return {
    async start() {
      await ensureEntities(options.bus, topic, logger);
      sender = options.bus.createSender(topic);
      // The store may still be opening (PGlite: seconds on a fresh directory): set up behind the
      // first answers; requests wait for it.
      ready().catch((err: unknown) =>
        logger.error({ err }, 'The delivery API could not set up its containers; requests try again.'),
      );
    },
    async ready() {
      await ready();
    },
    async close() {
      closed = true;
      await services?.catch(() => undefined);
      await (await staff?.catch(() => undefined))?.close();
      await sender?.close();
    },
    handleRequest(request, response) {
      const path = requestTarget(request).pathname;
      if (!OURS.test(path)) return false;
      serve(request, response, path).catch((err: unknown) => fail(response, request, err));
      return true;
    },
  };
}
