/**
 * Orders: a create becomes a message on topic `orders` (subject `submitted`), acknowledged once
 * the bus has it durably — the processor writes the document; reads and lists check who may see
 * an order; a transition reads the order, checks it against the status machine and replaces it
 * with `ifMatch` the etag it read, so of two concurrent transitions one wins and the other is
 * checked again against what won. Every status change is published on the topic too (subject =
 * the status, message id `status-<order>-<status>`, so a retried transition publishes once), then
 * handed to `onStatus` (the order's live group in the hub).
 * @module
 */
import { createHash } from 'node:crypto';
import type { Sender } from '@hubbub/bus';
import { type Cache, isCacheError } from '@hubbub/cache';
import type { Clock } from '@hubbub/kernel';
import { type Container, isStoreError } from '@hubbub/store';
import type { Principal } from './accounts.ts';
import { DeliveryError, notFound } from './errors.ts';
import { unquote } from './http.ts';
import {
  applyTransition,
  checkTransition,
  nextStatuses,
  type Order,
  type OrderRequest,
  type OrderStatus,
  priceOrder,
  type Restaurant,
} from './rules.ts';

export interface SubmitRequest extends OrderRequest {
  readonly note?: string | undefined;
}

/** The order id a customer's Idempotency-Key names: the same key, the same order. */
export const orderIdOf = (customerId: string, key: string): string =>
  `o-${createHash('sha256').update(`${customerId}\u0000${key}`).digest('hex').slice(0, 24)}`;

const SYSTEM = new Set(['_etag', '_ts', '_rid', '_self', '_attachments', '_lsn']);
/** A document without the store's system properties. */
export const withoutSystem = <T extends object>(doc: T): T =>
  Object.fromEntries(Object.entries(doc).filter(([k]) => !SYSTEM.has(k))) as T;

/** An order as `p` sees it: no system properties or request hash, with the statuses `p` may move it to. */
export const orderView = (p: Principal, { requestHash: _, ...o }: Order): Order & { next: OrderStatus[] } => ({
  ...withoutSystem(o),
  next: nextStatuses(o.status, p.role).filter((to) => checkTransition(o, to, p).ok),
});

export interface OrdersOptions {
  readonly orders: Container;
  readonly restaurants: Container;
  readonly sender: Sender;
  readonly clock: Clock;
  /** Restaurants and menus are read through it (cache-aside, `menuTtlMs`); without one, from the store each time. */
  readonly cache?: Cache | undefined;
  /** How long a restaurant read stays cached, in ms. */
  readonly menuTtlMs: number;
  /** Told each status change a transition wrote, after it is on the bus (the order's live group). */
  readonly onStatus?: ((order: Order) => Promise<void>) | undefined;
}

export interface Versioned {
  readonly order: Order & { next: OrderStatus[] };
  readonly etag: string;
}

export function createOrders(options: OrdersOptions) {
  const { orders, restaurants, sender, clock, cache, menuTtlMs, onStatus } = options;

  /** `load()` through the cache; when the cache is unreachable, straight from the store. */
  async function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (cache === undefined) return load();
    try {
      return (await cache.getOrLoad(key, load, { ttlMs: menuTtlMs })) as T;
    } catch (err) {
      if (isCacheError(err)) return load();
      throw err;
    }
  }

  const visible = (p: Principal, o: Order): boolean =>
    p.role === 'operator' ||
    (p.role === 'customer' && o.customerId === p.id) ||
    (p.role === 'restaurant' && o.restaurantId === p.restaurantId) ||
    (p.role === 'courier' && (o.courierId === p.id || (o.status === 'ready' && o.courierId === null)));

  const view = orderView;

  async function restaurant(id: string): Promise<Restaurant | undefined> {
    return cached(
      `delivery:restaurant:${id}`,
      async () => (await restaurants.item(id, id).read<Restaurant>()).resource,
    );
  }

  /** Every restaurant, by name. */
  function allRestaurants(): Promise<Restaurant[]> {
    return cached('delivery:restaurants', async () => {
      const query = restaurants.items.query<Restaurant>('SELECT * FROM c ORDER BY c.name');
      return (await query.fetchAll()).resources;
    });
  }

  async function publishStatus(order: Order): Promise<void> {
    await sender.send({
      messageId: `status-${order.id}-${order.status}`,
      subject: order.status,
      contentType: 'application/json',
      body: {
        orderId: order.id,
        status: order.status,
        customerId: order.customerId,
        restaurantId: order.restaurantId,
        courierId: order.courierId,
        at: order.updatedAt,
        reason: order.reason,
      },
    });
  }

  return {
    restaurant,
    allRestaurants,

    /** Checks the order against the menu now and puts it on the bus; resolves with its id once durable. */
    async submit(p: Principal, request: SubmitRequest, idempotencyKey: string): Promise<string> {
      try {
        priceOrder(await restaurant(request.restaurantId), request);
      } catch (err) {
        const e = err as { code?: unknown; field?: string; message: string };
        if (e.code !== 'DELIVERY_INVALID_ORDER') throw err;
        throw new DeliveryError('DELIVERY_INVALID_ORDER', e.message, { detail: { field: e.field } });
      }
      const orderId = orderIdOf(p.id, idempotencyKey);
      const requestHash = createHash('sha256')
        .update(JSON.stringify([request.restaurantId, request.items, request.deliveryAddress, request.note ?? null]))
        .digest('base64url');
      // No store read on the way in: the topic's duplicate detection (a day) says whether this
      // order id is new. Taken: a first submission (or a retry after the window, which the
      // processor finds written and does not write again). Dropped: a retry within the window —
      // the same request is the same order; another request under the same key is refused once
      // the order is written (before that, the first request's message is the one on the bus).
      // Past the window, a reused key with another body is answered 202 with the first order's URL.
      const [taken] = await sender.sendReportingDuplicates({
        messageId: `submitted-${orderId}`,
        // The processor reads a batch's orders written before by their correlation ids.
        correlationId: orderId,
        subject: 'submitted',
        contentType: 'application/json',
        body: {
          orderId,
          customerId: p.id,
          restaurantId: request.restaurantId,
          items: request.items,
          deliveryAddress: request.deliveryAddress,
          note: request.note ?? null,
          requestHash,
          submittedAt: new Date(clock.now()).toISOString(),
        },
      });
      if (taken) return orderId;
      const written = (await orders.item(orderId, orderId).read<Order>()).resource;
      if (typeof written?.requestHash === 'string' && written.requestHash !== requestHash) {
        throw new DeliveryError(
          'DELIVERY_IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used for another order: send a new key for a new order.',
          { detail: { field: 'Idempotency-Key', orderId } },
        );
      }
      return orderId;
    },

    /** The order as `p` may see it; DELIVERY_NOT_FOUND when absent or someone else's. */
    async get(p: Principal, id: string): Promise<Versioned> {
      const { resource, etag } = await orders.item(id, id).read<Order>();
      if (resource === undefined || !visible(p, resource)) throw notFound('order', id);
      return { order: view(p, resource), etag: etag! };
    },

    /** A page of the orders `p` may see, newest first. */
    async list(p: Principal, q: { limit: number; cursor?: string | undefined; status?: OrderStatus | undefined }) {
      const where: string[] = [];
      const parameters: { name: string; value: string }[] = [];
      if (p.role === 'customer') where.push('c.customerId = @who');
      if (p.role === 'restaurant') where.push('c.restaurantId = @who');
      if (p.role === 'courier') where.push("(c.courierId = @who OR (c.status = 'ready' AND c.courierId = null))");
      if (p.role !== 'operator')
        parameters.push({ name: '@who', value: p.role === 'restaurant' ? p.restaurantId! : p.id });
      if (q.status !== undefined) {
        where.push('c.status = @status');
        parameters.push({ name: '@status', value: q.status });
      }
      const query = `SELECT * FROM c${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY c.createdAt DESC, c.id DESC`;
      try {
        const page = await orders.items
          .query<Order>(
            { query, parameters },
            { maxItemCount: q.limit, ...(q.cursor === undefined ? {} : { continuationToken: q.cursor }) },
          )
          .fetchNext();
        return { items: page.resources.map((o) => view(p, o)), next: page.continuationToken ?? null };
      } catch (err) {
        if (isStoreError(err, 'STORE_INVALID_CONTINUATION')) {
          throw new DeliveryError('DELIVERY_INVALID_CURSOR', 'The cursor is malformed or belongs to another listing.', {
            detail: { field: 'cursor' },
          });
        }
        throw err;
      }
    },

    /**
     * Moves the order to `to`. The same transition again is a success that changes nothing; with
     * `ifMatch` (the client's `If-Match`) a changed order is DELIVERY_PRECONDITION_FAILED, without
     * it a lost race is checked again against the order that won.
     */
    async transition(
      p: Principal,
      id: string,
      to: OrderStatus,
      reason: string | undefined,
      ifMatch: string | undefined,
    ): Promise<Versioned> {
      for (let attempt = 0; attempt < 5; attempt++) {
        const { resource: order, etag } = await orders.item(id, id).read<Order>();
        if (order === undefined || !visible(p, order)) throw notFound('order', id);
        if (ifMatch !== undefined && ifMatch !== unquote(etag ?? '')) throw preconditionFailed(id);
        const check = checkTransition(order, to, p);
        if (!check.ok) {
          if (check.reason === 'role') {
            throw new DeliveryError('DELIVERY_FORBIDDEN', `A ${p.role} cannot move an order to '${to}'.`, {
              detail: { role: p.role, to },
            });
          }
          throw new DeliveryError('DELIVERY_INVALID_TRANSITION', `An order '${order.status}' cannot become '${to}'.`, {
            detail: { from: order.status, to },
          });
        }
        if (check.noop) {
          await publishStatus(order); // again: a client retrying after a failed publish gets it out
          return { order: view(p, order), etag: etag! };
        }
        const next = applyTransition(withoutSystem(order), to, p, new Date(clock.now()).toISOString(), reason);
        let written: Awaited<ReturnType<typeof orders.items.upsert<Order>>>;
        try {
          written = await orders.item(id, id).replace(next, { ifMatch: etag! });
        } catch (err) {
          if (!isStoreError(err, 'STORE_PRECONDITION_FAILED')) throw err;
          if (ifMatch !== undefined) throw preconditionFailed(id);
          continue; // another change won: check this one against it
        }
        await publishStatus(next);
        await onStatus?.(next);
        return { order: view(p, next), etag: written.etag! };
      }
      throw new DeliveryError('DELIVERY_CONFLICT', 'The order kept changing; try again.', { detail: { id } });
    },
  };
}

export type Orders = ReturnType<typeof createOrders>;

const preconditionFailed = (id: string): DeliveryError =>
  new DeliveryError('DELIVERY_PRECONDITION_FAILED', 'The order has changed since that version: read it again.', {
    detail: { id },
  });
