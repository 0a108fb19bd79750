/**
 * The REST API of the staff views — the restaurant's board, the courier's offers and deliveries,
 * the operations board — and the negotiate that grants each its board group in the hub:
 *
 * - `GET|POST /api/v1/live/negotiate`: a board's live connection (`live.ts`: restaurant, courier, operator).
 * - `GET /api/v1/restaurants/{id}/orders`: the restaurant's active orders (its own account, the operator).
 * - `GET /api/v1/courier/offers?lat=&lng=`, `GET /api/v1/courier/deliveries`: couriers.
 * - `POST /api/v1/orders/{id}/assignment`: a courier takes an offer (etag-guarded, `dispatch.ts`).
 * - `POST /api/v1/orders/{id}/location`: the courier's position while it delivers, to queue `locations`.
 * - `GET /api/v1/operations/overview`: every active order and courier, stuck orders marked (operators).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Bus, isBusError } from '@hubbub/bus';
import type { Cache } from '@hubbub/cache';
import { type Clock, ignoreBody, type Logger, sendJson } from '@hubbub/kernel';
import type { Store } from '@hubbub/store';
import type { ArrivalOptions, ArrivingThreshold } from '../arrival.ts';
import { loadCity } from '../city.ts';
import { createStreetRouter, memoizedRouter, type StreetRouter } from '../streets.ts';
import type { Principal } from './accounts.ts';
import { type Boards, createBoards } from './boards.ts';
import { createDispatch, type Dispatch } from './dispatch.ts';
import { notFound } from './errors.ts';
import { etagHeader, ifMatchOf, parseWith, queryOf, readJson } from './http.ts';
import type { LiveOrders } from './live.ts';
import type { Orders } from './orders.ts';
import type { Role } from './rules.ts';
import { CourierPosition, ID, OffersQuery } from './schemas.ts';
import type { ActiveStatus } from './stuck.ts';

export interface Staff {
  readonly dispatch: Dispatch;
  readonly boards: Boards;
  close(): Promise<void>;
}

export interface StaffOptions {
  readonly store: Store;
  readonly database: string;
  readonly orders: Orders;
  readonly bus: Bus;
  /** The queue of the couriers' positions (created when missing). */
  readonly locationsQueue: string;
  /** Topic `orders` (it exists): the `arriving` events go there. */
  readonly topic: string;
  /** When the customer is told the courier is about to arrive (`dispatch.ts`). @default 2 minutes or 300 m */
  readonly arriving?: (ArrivalOptions & ArrivingThreshold) | undefined;
  readonly logger?: Logger;
  /** The system's cache (`dispatch.ts` keeps each order's position context there). */
  readonly cache?: Cache | undefined;
  readonly live: LiveOrders;
  readonly clock: Clock;
  readonly stuckAfterSeconds: Record<ActiveStatus, number>;
}

/**
 * Creates containers `courier-positions` and `arrivals` (flags kept a week) and the positions' queue when missing (the API's setup
 * made the database and `orders`).
 */
export async function setupStaff(options: StaffOptions): Promise<Staff> {
  const { bus, locationsQueue } = options;
  try {
    if (!(await bus.admin.queueExists(locationsQueue))) await bus.admin.createQueue(locationsQueue);
  } catch (err) {
    if (!isBusError(err, 'BUS_ENTITY_EXISTS')) throw err; // the system created it meanwhile
  }
  const locations = bus.createSender(locationsQueue);
  const db = options.store.database(options.database);
  const { container: positions } = await db.containers.createIfNotExists({
    id: 'courier-positions',
    partitionKey: '/id',
  });
  const { container: arrivals } = await db.containers.createIfNotExists({
    id: 'arrivals',
    partitionKey: '/id',
    defaultTtl: 604_800,
  });
  const events = bus.createSender(options.topic);
  const orders = db.container('orders');
  const restaurant = options.orders.restaurant;
  return {
    dispatch: createDispatch({
      orders,
      positions,
      locations,
      restaurant,
      live: options.live,
      clock: options.clock,
      events,
      arrivals,
      ...(options.arriving === undefined ? {} : { arriving: options.arriving }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      cache: options.cache,
      routeFor: (from, to) => streets()(from, to),
    }),
    boards: createBoards({
      orders,
      positions,
      restaurant,
      clock: options.clock,
      stuckAfterSeconds: options.stuckAfterSeconds,
    }),
    close: async () => {
      await Promise.all([locations.close(), events.close()]);
    },
  };
}

let router: StreetRouter | undefined;
/** The demo city's streets as a router (its answers kept), made on first use. */
const streets = (): StreetRouter => {
  router ??= memoizedRouter(createStreetRouter(loadCity()));
  return router;
};

type Handler = (request: IncomingMessage, response: ServerResponse, params: string[]) => Promise<void>;

export interface StaffRoutesOptions {
  /** The caller's principal, DELIVERY_FORBIDDEN unless its role is one of `roles` (when given). */
  readonly principalOf: (request: IncomingMessage, ...roles: Role[]) => Promise<Principal>;
  readonly staff: () => Promise<Staff>;
  readonly live: LiveOrders;
  readonly maxBody: number;
}

export function staffRoutes(o: StaffRoutesOptions): { path: RegExp; methods: Record<string, Handler> }[] {
  const { principalOf, staff, live, maxBody } = o;
  const orderId = (id: string | undefined): string => {
    if (!ID.test(id!)) throw notFound('order', id);
    return id!;
  };
  const negotiate =
    (method: string): Handler =>
    async (req, res) => {
      if (method === 'POST') ignoreBody(req, res);
      const principal = await principalOf(req);
      sendJson(res, 200, await live.negotiateBoard(principal), { 'Cache-Control': 'no-store' });
    };
  return [
    {
      path: /^\/api\/v1\/live\/negotiate$/,
      methods: { GET: negotiate('GET'), POST: negotiate('POST') },
    },
    {
      path: /^\/api\/v1\/restaurants\/([^/]+)\/orders$/,
      methods: {
        GET: async (req, res, [id]) => {
          const principal = await principalOf(req, 'restaurant', 'operator');
          // Another restaurant's board is not there for this one.
          if (!ID.test(id!) || (principal.role === 'restaurant' && principal.restaurantId !== id)) {
            throw notFound('restaurant', id);
          }
          const items = await (await staff()).boards.restaurantOrders(principal, id!);
          sendJson(res, 200, { items }, { 'Cache-Control': 'no-store' });
        },
      },
    },
    {
      path: /^\/api\/v1\/courier\/offers$/,
      methods: {
        GET: async (req, res) => {
          const principal = await principalOf(req, 'courier');
          const q = parseWith(OffersQuery, queryOf(req), 'DELIVERY_INVALID_QUERY');
          const at = q.lat === undefined || q.lng === undefined ? undefined : { lat: q.lat, lng: q.lng };
          const items = await (await staff()).dispatch.offers(principal, at, q.limit);
          sendJson(res, 200, { items }, { 'Cache-Control': 'no-store' });
        },
      },
    },
    {
      path: /^\/api\/v1\/courier\/deliveries$/,
      methods: {
        GET: async (req, res) => {
          const principal = await principalOf(req, 'courier');
          const items = await (await staff()).dispatch.deliveries(principal);
          sendJson(res, 200, { items }, { 'Cache-Control': 'no-store' });
        },
      },
    },
    {
      path: /^\/api\/v1\/orders\/([^/]+)\/assignment$/,
      methods: {
        POST: async (req, res, [id]) => {
          ignoreBody(req, res);
          const principal = await principalOf(req, 'courier');
          const { order, etag } = await (await staff()).dispatch.assign(principal, orderId(id), ifMatchOf(req));
          sendJson(res, 200, order, { ETag: etagHeader(etag) });
        },
      },
    },
    {
      path: /^\/api\/v1\/orders\/([^/]+)\/location$/,
      methods: {
        POST: async (req, res, [id]) => {
          const principal = await principalOf(req, 'courier');
          const body = await readJson(req, CourierPosition, maxBody);
          sendJson(res, 202, await (await staff()).dispatch.position(principal, orderId(id), body));
        },
      },
    },
    {
      path: /^\/api\/v1\/operations\/overview$/,
      methods: {
        GET: async (req, res) => {
          await principalOf(req, 'operator');
          sendJson(res, 200, await (await staff()).boards.overview(), { 'Cache-Control': 'no-store' });
        },
      },
    },
  ];
}
