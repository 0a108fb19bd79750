/**
 * Couriers and their work: the offers (orders accepted, preparing or ready that no courier has
 * taken, nearest restaurant first), taking one, the deliveries a courier has, and the courier's
 * positions while it delivers.
 *
 * Taking an offer writes the courier into the order with `ifMatch` the etag it read, so of two
 * couriers taking one order one wins and the other, checked again against what won, is told
 * DELIVERY_ORDER_TAKEN. From then on only that courier acts on the order (the status machine's
 * `checkTransition`). A position goes to queue `locations` in the tracking system's shape
 * (`forwardLocation` hands it to the order's hub group, where the customer's map shows it) and is
 * kept as the courier's last known position for the operations board.
 *
 * Once the order is picked up, each position carries the arrival estimate (`../arrival.ts`: the
 * way left to the door — along the streets from the restaurant (`routeFor`, `../streets.ts`) while
 * the courier is on that way, else the straight line × a detour factor — over the courier's recent
 * speed, from the positions this process has seen for the order), so
 * every client shows the server's number. The first position whose estimate is within the
 * threshold (2 minutes or 300 m) tells the customer the courier is about to arrive: an `arriving`
 * event on topic `orders` (message id `arriving-<order>`), which the notifier turns into one push.
 * Once per order across processes and retries: the event goes out only after creating the order's
 * flag in container `arrivals` succeeded (a create of an id that exists fails, so of two processes
 * one wins); a failed send deletes the flag again so a later position tries again, and the topic's
 * duplicate detection and the notifier's idempotency key drop a repeat. A process that saw the
 * flag asks the store no more for that order.
 *
 * What a position needs of its order (courier, status, customer, restaurant, address) is kept in
 * the system's cache for `positionContextTtlMs` (10 s), so a courier sending a position a second
 * reads the store about once in ten: taking the order here and every status change (`services.ts`)
 * delete it, so where the cache is shared (one process, or Redis) a delivered order refuses the
 * next position; with a cache per process, other processes follow within the TTL.
 * @module
 */
import type { Sender } from '@hubbub/bus';
import type { Cache } from '@hubbub/cache';
import { type Clock, createRateLimiter, type Logger } from '@hubbub/kernel';
import { type Container, isStoreError } from '@hubbub/store';
import {
  type ArrivalEstimate,
  type ArrivalOptions,
  type ArrivingThreshold,
  estimateArrival,
  type Fix,
  isArriving,
  type Point,
} from '../arrival.ts';
import { ARRIVING } from '../push-templates.ts';
import { distanceMeters, type LocationEta, type LocationMessage } from '../simulator.ts';
import type { Principal } from './accounts.ts';
import { DeliveryError, notFound } from './errors.ts';
import { unquote } from './http.ts';
import type { LiveOrders } from './live.ts';
import { orderView, type Versioned, withoutSystem } from './orders.ts';
import type { Order, OrderStatus, Restaurant } from './rules.ts';

/** The statuses an order can be offered to couriers in. */
export const OFFER_STATUSES: readonly OrderStatus[] = ['accepted', 'preparing', 'ready'];
/** The statuses a courier's order is under way in: it may send positions for it. */
export const DELIVERING_STATUSES: readonly OrderStatus[] = [...OFFER_STATUSES, 'picked_up'];

const quoted = (statuses: readonly OrderStatus[]) => statuses.map((s) => `'${s}'`).join(', ');

/** The last position a courier sent, in container `courier-positions` (id = the courier's account id). */
export interface CourierPositionRecord {
  readonly id: string;
  readonly courierId: string;
  readonly orderId: string;
  readonly lat: number;
  readonly lng: number;
  readonly at: string;
}

export interface DispatchOptions {
  readonly orders: Container;
  readonly positions: Container;
  /** Queue `locations`. */
  readonly locations: Sender;
  readonly restaurant: (id: string) => Promise<Restaurant | undefined>;
  readonly live: LiveOrders;
  readonly clock: Clock;
  /** Candidates read for the offers before sorting by distance. @default 200 */
  readonly maxCandidates?: number;
  /** Topic `orders`, where the `arriving` event goes. @default none: no about-to-arrive push */
  readonly events?: Sender;
  /** Container `arrivals`: one flag per order told its courier is about to arrive. @default none: no push */
  readonly arrivals?: Container;
  /** The estimate's settings and when the courier is about to arrive. @default 2 minutes or 300 m */
  readonly arriving?: ArrivalOptions & ArrivingThreshold;
  /** Orders whose recent positions this process keeps for the speed (least recently moved dropped first). @default 10_000 */
  readonly maxTracked?: number;
  /** Where a failed about-to-arrive push is reported (the position is sent all the same). */
  readonly logger?: Logger;
  /** The system's cache: what a position needs of its order is kept there. @default none: the store each time */
  readonly cache?: Cache | undefined;
  /** How long that stays cached, in ms. @default 10_000 */
  readonly positionContextTtlMs?: number;
  /** The way from the restaurant to the door the estimate counts along (`../streets.ts`). @default none: the straight line × the detour factor */
  readonly routeFor?: ((from: Point, to: Point) => readonly Point[] | null) | undefined;
}

/** What a courier's position needs of its order, cached under {@link positionContextKey}. */
export type PositionContext = Pick<
  Order,
  'id' | 'courierId' | 'status' | 'customerId' | 'restaurantId' | 'deliveryAddress'
> & {
  /** The restaurant's store id in the tracking system's messages. */
  readonly storeid: number | string;
  /** The way along the streets from the restaurant to the door, when there is one (`routeFor`). */
  readonly route: readonly Point[] | null;
};

/** The cache key of an order's {@link PositionContext}: deleted whenever the order changes. */
export const positionContextKey = (orderId: string): string => `delivery:position-context:${orderId}`;

/** An `arriving` event on topic `orders`: the notifier pushes it to the customer. */
export interface ArrivingEvent {
  readonly orderId: string;
  readonly status: typeof ARRIVING;
  readonly customerId: string;
  readonly restaurantId: string;
  readonly courierId: string | null;
  readonly at: string;
  readonly eta: LocationEta;
}

/** The flag of an order told its courier is about to arrive, in container `arrivals` (id = the order's id). */
export interface ArrivalRecord {
  readonly id: string;
  readonly customerId: string;
  readonly at: string;
  readonly eta: LocationEta;
}

interface Track {
  fixes: Fix[];
  /** The customer was told (by this process or, as the store's flag said, another). */
  notified: boolean;
}

const TRACK_WINDOW = 8;

/** The estimate as it goes on a location message: whole metres and seconds. */
export function locationEta(estimate: ArrivalEstimate): LocationEta {
  return {
    meters: Math.round(estimate.meters),
    seconds: estimate.seconds === null ? null : Math.round(estimate.seconds),
  };
}

export type Offer = ReturnType<typeof orderView> & {
  pickup: { lat: number; lng: number };
  distanceMeters: number | null;
  tripMeters: number;
};

export function createDispatch(options: DispatchOptions) {
  const { orders, positions, locations, restaurant, live, clock } = options;
  const maxCandidates = options.maxCandidates ?? 200;
  // A browser's watchPosition fires about once a second; a burst covers a reconnect's backlog.
  const positionRate = createRateLimiter({ ratePerSecond: 4, burst: 20, clock });
  const now = () => new Date(clock.now()).toISOString();
  const { events, arrivals, logger, cache } = options;
  const contextTtlMs = options.positionContextTtlMs ?? 10_000;

  /** The order's position context: from the cache, else the store (then cached); undefined when there is no such order. */
  async function positionContext(id: string): Promise<PositionContext | undefined> {
    const key = positionContextKey(id);
    if (cache !== undefined) {
      const hit = await cache.get<PositionContext>(key).catch(() => undefined);
      if (hit !== undefined) return hit;
    }
    const order = (await orders.item(id, id).read<Order>()).resource;
    if (order === undefined) return undefined;
    const { courierId, status, customerId, restaurantId, deliveryAddress } = order;
    const place = await restaurant(restaurantId);
    const route = place === undefined ? null : (options.routeFor?.(place.location, deliveryAddress) ?? null);
    const storeid = place?.storeId ?? restaurantId;
    const context: PositionContext = {
      id,
      courierId,
      status,
      customerId,
      restaurantId,
      deliveryAddress,
      storeid,
      route,
    };
    if (cache !== undefined) {
      await cache
        .set(key, context, { ttlMs: contextTtlMs })
        .catch((err) => logger?.warn({ err, orderId: id }, 'an order could not be cached for its positions'));
    }
    return context;
  }
  const arriving = options.arriving ?? {};
  const maxTracked = options.maxTracked ?? 10_000;
  const tracks = new Map<string, Track>();

  /** Adds a position to the order's track (the most recently moved last in the map). */
  function track(orderId: string, fix: Fix): Track {
    let t = tracks.get(orderId);
    if (t === undefined) {
      t = { fixes: [], notified: false };
      if (tracks.size >= maxTracked) tracks.delete(tracks.keys().next().value!);
    } else {
      tracks.delete(orderId);
    }
    tracks.set(orderId, t);
    const last = t.fixes.at(-1);
    if (last !== undefined && fix.time < last.time) t.fixes = []; // a clock step back: start again
    t.fixes.push(fix);
    if (t.fixes.length > TRACK_WINDOW) t.fixes.splice(0, t.fixes.length - TRACK_WINDOW);
    return t;
  }

  /** Tells the customer once (across processes: the store's flag) that the courier is about to arrive. */
  async function notifyArriving(order: PositionContext, t: Track, eta: LocationEta, at: string): Promise<void> {
    if (events === undefined || arrivals === undefined) return;
    const record: ArrivalRecord = { id: order.id, customerId: order.customerId, at, eta };
    try {
      await arrivals.items.create(record);
    } catch (err) {
      if (!isStoreError(err, 'STORE_CONFLICT')) throw err;
      t.notified = true; // told already, here or by another process
      return;
    }
    const event: ArrivingEvent = {
      orderId: order.id,
      status: ARRIVING,
      customerId: order.customerId,
      restaurantId: order.restaurantId,
      courierId: order.courierId,
      at,
      eta,
    };
    try {
      await events.send({
        messageId: `arriving-${order.id}`,
        subject: ARRIVING,
        contentType: 'application/json',
        body: event,
      });
    } catch (err) {
      // Not sent: take the flag back so a later position tries again.
      await arrivals
        .item(order.id, order.id)
        .delete()
        .catch(() => undefined);
      throw err;
    }
    t.notified = true;
  }

  const taken = (id: string) =>
    new DeliveryError('DELIVERY_ORDER_TAKEN', 'Another courier took this order first.', { detail: { id } });

  async function query(q: string, parameters: { name: string; value: string }[], max: number): Promise<Order[]> {
    const page = await orders.items.query<Order>({ query: q, parameters }, { maxItemCount: max }).fetchNext();
    return page.resources;
  }

  return {
    /** The offers, nearest restaurant first when `at` is given, else oldest first. */
    async offers(p: Principal, at: { lat: number; lng: number } | undefined, limit: number): Promise<Offer[]> {
      const candidates = await query(
        `SELECT * FROM c WHERE c.courierId = null AND c.status IN (${quoted(OFFER_STATUSES)}) ORDER BY c.createdAt ASC, c.id ASC`,
        [],
        maxCandidates,
      );
      const places = new Map<string, Restaurant | undefined>();
      for (const o of candidates) if (!places.has(o.restaurantId)) places.set(o.restaurantId, undefined);
      await Promise.all([...places.keys()].map(async (id) => places.set(id, await restaurant(id))));
      const offers: Offer[] = [];
      for (const o of candidates) {
        const r = places.get(o.restaurantId);
        if (r === undefined) continue;
        const pickup = r.location;
        const to = o.deliveryAddress;
        offers.push({
          ...orderView(p, o),
          pickup,
          distanceMeters:
            at === undefined ? null : Math.round(distanceMeters([at.lat, at.lng], [pickup.lat, pickup.lng])),
          tripMeters: Math.round(distanceMeters([pickup.lat, pickup.lng], [to.lat, to.lng])),
        });
      }
      if (at !== undefined) offers.sort((a, b) => a.distanceMeters! - b.distanceMeters!);
      return offers.slice(0, limit);
    },

    /** The courier's orders under way, oldest first. */
    async deliveries(p: Principal): Promise<ReturnType<typeof orderView>[]> {
      const mine = await query(
        `SELECT * FROM c WHERE c.courierId = @me AND c.status IN (${quoted(DELIVERING_STATUSES)}) ORDER BY c.createdAt ASC, c.id ASC`,
        [{ name: '@me', value: p.id }],
        100,
      );
      return mine.map((o) => orderView(p, o));
    },

    /**
     * The courier takes the order. Taking it again is a success that changes nothing; an order
     * another courier has is DELIVERY_ORDER_TAKEN; one that is no offer (placed, over) is not found.
     */
    async assign(p: Principal, id: string, ifMatch: string | undefined): Promise<Versioned> {
      for (let attempt = 0; attempt < 5; attempt++) {
        const { resource: order, etag } = await orders.item(id, id).read<Order>();
        if (order === undefined) throw notFound('order', id);
        if (order.courierId === p.id) return { order: orderView(p, order), etag: etag! };
        if (order.courierId !== null && order.courierId !== undefined) throw taken(id);
        if (!OFFER_STATUSES.includes(order.status)) throw notFound('order', id);
        if (ifMatch !== undefined && ifMatch !== unquote(etag ?? '')) throw preconditionFailed(id);
        const at = now();
        const next: Order = { ...withoutSystem(order), courierId: p.id, assignedAt: at, updatedAt: at };
        let written: { etag?: string | undefined };
        try {
          written = await orders.item(id, id).replace(next, { ifMatch: etag! });
        } catch (err) {
          if (!isStoreError(err, 'STORE_PRECONDITION_FAILED')) throw err;
          if (ifMatch !== undefined) throw preconditionFailed(id);
          continue; // another change won: check this one against it
        }
        await cache
          ?.delete(positionContextKey(id))
          .catch((err) => logger?.warn({ err, orderId: id }, 'an order taken could not be dropped from the cache'));
        await live.publishAssigned(next);
        return { order: orderView(p, next), etag: written.etag! };
      }
      throw new DeliveryError('DELIVERY_CONFLICT', 'The order kept changing; try again.', { detail: { id } });
    },

    /** Puts the courier's position for its order on queue `locations` and keeps it as its last known. */
    async position(
      p: Principal,
      id: string,
      at: { lat: number; lng: number },
    ): Promise<{ orderId: string; at: string }> {
      positionRate.check(p.id, 'positions');
      const order = await positionContext(id);
      if (order === undefined || order.courierId !== p.id) throw notFound('order', id);
      if (!DELIVERING_STATUSES.includes(order.status)) {
        throw new DeliveryError('DELIVERY_NOT_ON_DELIVERY', `The order is ${order.status}: its positions are over.`, {
          detail: { status: order.status },
        });
      }
      const time = clock.now();
      const timestamp = new Date(time).toISOString();
      const t = track(id, { lat: at.lat, lng: at.lng, time });
      let eta: LocationEta | undefined;
      let told: Promise<void> = Promise.resolve();
      if (order.status === 'picked_up') {
        const estimate = estimateArrival(t.fixes, order.deliveryAddress, order.route, arriving);
        if (estimate !== null) eta = locationEta(estimate);
        if (eta !== undefined && !t.notified && isArriving(estimate, arriving)) {
          told = notifyArriving(order, t, eta, timestamp).catch((err) =>
            logger?.warn(
              { err, orderId: id },
              'the about-to-arrive push could not be sent; the next position tries again',
            ),
          );
        }
      }
      const storeid = order.storeid;
      const message: LocationMessage = {
        orderid: id,
        storeid,
        courierid: p.id,
        lat: at.lat,
        longitude: at.lng,
        timestamp,
        ...(eta === undefined ? {} : { eta }),
      };
      const record: CourierPositionRecord = {
        id: p.id,
        courierId: p.id,
        orderId: id,
        lat: at.lat,
        lng: at.lng,
        at: timestamp,
      };
      await Promise.all([
        locations.send({ body: message, contentType: 'application/json', subject: 'courier' }),
        positions.items.upsert(record),
        told,
      ]);
      return { orderId: id, at: timestamp };
    },
  };
}

export type Dispatch = ReturnType<typeof createDispatch>;

const preconditionFailed = (id: string): DeliveryError =>
  new DeliveryError('DELIVERY_PRECONDITION_FAILED', 'The order has changed since that version: read it again.', {
    detail: { id },
  });
