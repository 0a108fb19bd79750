/**
 * Each order's status, live, in the hub: group `order-<id>` of hub `tracking` (the group the
 * courier's positions already go to) receives target `orderStatus` with `{orderId, status, at,
 * reason}` at every status change — from the API where a transition happens, and from the
 * processor (`processOrder`'s signalR output) for `placed` and `rejected`.
 *
 * Membership is granted by the server, never asked for by a client: the order page negotiates
 * through `/api/v1/orders/{id}/negotiate` with its session, and only the order's customer, its
 * restaurant, the courier that picked it up and the operator get `{url, accessToken}` — their
 * account id as the hub user id, added to the order's group (a user's groups apply to all its
 * connections, present and future). Anyone else gets the 404 of an order they cannot see.
 * @module
 */
import type { SignalRService } from '@hubbub/hub';
import type { Logger } from '@hubbub/kernel';
import type { Principal } from './accounts.ts';
import { DeliveryError, notFound } from './errors.ts';
import type { Order } from './rules.ts';

/** The hub of the order pages and the tracking page. */
export const LIVE_HUB = 'tracking';
/** The hub method the page listens to. */
export const ORDER_STATUS_TARGET = 'orderStatus';
/** The group of one order. */
export const orderGroup = (orderId: string): string => `order-${orderId}`;

/** What the page receives at each status change. */
export interface LiveStatus {
  readonly orderId: string;
  readonly status: Order['status'];
  readonly at: string;
  readonly reason: string | null;
}

export interface LiveOrders {
  /** Connection info for `p`, added to the order's group; DELIVERY_NOT_FOUND when `p` may not watch it. */
  negotiate(p: Principal, order: Order): Promise<{ url: string; accessToken: string }>;
  /** Sends the order's status to its group; a failure is logged (the change itself is written and on the bus). */
  publish(order: Order): Promise<void>;
}

/** The customer, the restaurant, the courier of the order, and the operator. */
export const mayWatch = (p: Principal, o: Order): boolean =>
  p.role === 'operator' ||
  (p.role === 'customer' && o.customerId === p.id) ||
  (p.role === 'restaurant' && o.restaurantId === p.restaurantId) ||
  (p.role === 'courier' && o.courierId === p.id);

export function createLiveOrders(signalR: SignalRService | undefined, logger: Logger, hub = LIVE_HUB): LiveOrders {
  return {
    async negotiate(p, order) {
      if (!mayWatch(p, order)) throw notFound('order', order.id);
      if (signalR === undefined) {
        throw new DeliveryError('DELIVERY_UNAVAILABLE', 'Live updates are not available on this server.');
      }
      await signalR.hub(hub).groups.addUser(p.id, orderGroup(order.id));
      const { url, accessToken } = await signalR.clientAccess(hub, { userId: p.id });
      return { url, accessToken };
    },
    async publish(order) {
      if (signalR === undefined) return;
      const status: LiveStatus = {
        orderId: order.id,
        status: order.status,
        at: order.updatedAt,
        reason: order.reason ?? null,
      };
      try {
        await signalR.hub(hub).send({ kind: 'groups', names: [orderGroup(order.id)] }, ORDER_STATUS_TARGET, [status]);
      } catch (err) {
        logger.warn({ err, orderId: order.id, status: order.status }, 'the live status could not be sent');
      }
    },
  };
}
