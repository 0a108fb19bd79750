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
 * @module
 */
import type { Sender } from '@hubbub/bus';
import { type Clock, createRateLimiter } from '@hubbub/kernel';
import { type Container, isStoreError } from '@hubbub/store';
import { distanceMeters, type LocationMessage } from '../simulator.ts';
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
      const order = (await orders.item(id, id).read<Order>()).resource;
      if (order === undefined || order.courierId !== p.id) throw notFound('order', id);
      if (!DELIVERING_STATUSES.includes(order.status)) {
        throw new DeliveryError('DELIVERY_NOT_ON_DELIVERY', `The order is ${order.status}: its positions are over.`, {
          detail: { status: order.status },
        });
      }
      const timestamp = now();
      const storeid = (await restaurant(order.restaurantId))?.storeId ?? order.restaurantId;
      const message: LocationMessage = {
        orderid: id,
        storeid,
        courierid: p.id,
        lat: at.lat,
        longitude: at.lng,
        timestamp,
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
