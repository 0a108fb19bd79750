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
 *
 * The staff views listen to a board group each, granted the same way through
 * `/api/v1/live/negotiate`: a restaurant to `restaurant-<id>` (its orders' status changes, from
 * `placed` on), couriers to `couriers` (the changes that make or take offers, and assignments),
 * the operator to `operations` (every change, and every courier position). A board message names
 * the order; the view reads what it shows through the API, which checks who sees what.
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

/** The group of one restaurant's board. */
export const restaurantGroup = (restaurantId: string): string => `restaurant-${restaurantId}`;
/** The group of every courier's board. */
export const COURIERS_GROUP = 'couriers';
/** The group of the operations board. */
export const OPERATIONS_GROUP = 'operations';
/** The hub method the boards and the order page hear an assignment on. */
export const ORDER_ASSIGNED_TARGET = 'orderAssigned';

/** The statuses couriers hear about: an offer appears (accepted, preparing, ready) or goes (picked up, delivered). */
const COURIER_STATUSES: ReadonlySet<Order['status']> = new Set([
  'accepted',
  'preparing',
  'ready',
  'picked_up',
  'delivered',
]);

/** Every group that hears about `order`'s changes. */
export function groupsOf(order: Order, assignment = false): string[] {
  const groups = [orderGroup(order.id), restaurantGroup(order.restaurantId), OPERATIONS_GROUP];
  if (assignment || COURIER_STATUSES.has(order.status)) groups.push(COURIERS_GROUP);
  return groups;
}

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
  /** Connection info for `p`'s board, added to its board group; DELIVERY_FORBIDDEN for a customer. */
  negotiateBoard(p: Principal): Promise<{ url: string; accessToken: string; group: string }>;
  /** Sends the order's status to its groups; a failure is logged (the change itself is written and on the bus). */
  publish(order: Order): Promise<void>;
  /** Tells the order's groups and the couriers' board that a courier took the order (logged on failure, as `publish`). */
  publishAssigned(order: Order): Promise<void>;
}

/** The board group of a staff account, or undefined for a customer. */
export function boardGroupOf(p: Principal): string | undefined {
  if (p.role === 'restaurant' && p.restaurantId !== undefined) return restaurantGroup(p.restaurantId);
  if (p.role === 'courier') return COURIERS_GROUP;
  if (p.role === 'operator') return OPERATIONS_GROUP;
  return undefined;
}

/** The customer, the restaurant, the courier of the order, and the operator. */
export const mayWatch = (p: Principal, o: Order): boolean =>
  p.role === 'operator' ||
  (p.role === 'customer' && o.customerId === p.id) ||
  (p.role === 'restaurant' && o.restaurantId === p.restaurantId) ||
  (p.role === 'courier' && o.courierId === p.id);

export function createLiveOrders(signalR: SignalRService | undefined, logger: Logger, hub = LIVE_HUB): LiveOrders {
  const unavailable = () => new DeliveryError('DELIVERY_UNAVAILABLE', 'Live updates are not available on this server.');
  async function send(order: Order, target: string, payload: unknown, assignment: boolean): Promise<void> {
    if (signalR === undefined) return;
    try {
      await signalR.hub(hub).send({ kind: 'groups', names: groupsOf(order, assignment) }, target, [payload]);
    } catch (err) {
      logger.warn({ err, orderId: order.id, status: order.status, target }, 'the live update could not be sent');
    }
  }
  return {
    async negotiate(p, order) {
      if (!mayWatch(p, order)) throw notFound('order', order.id);
      if (signalR === undefined) throw unavailable();
      await signalR.hub(hub).groups.addUser(p.id, orderGroup(order.id));
      const { url, accessToken } = await signalR.clientAccess(hub, { userId: p.id });
      return { url, accessToken };
    },
    async negotiateBoard(p) {
      const group = boardGroupOf(p);
      if (group === undefined) {
        throw new DeliveryError(
          'DELIVERY_FORBIDDEN',
          'Live boards are for restaurant, courier and operator accounts.',
          {
            detail: { role: p.role },
          },
        );
      }
      if (signalR === undefined) throw unavailable();
      await signalR.hub(hub).groups.addUser(p.id, group);
      const { url, accessToken } = await signalR.clientAccess(hub, { userId: p.id });
      return { url, accessToken, group };
    },
    async publish(order) {
      const status: LiveStatus = {
        orderId: order.id,
        status: order.status,
        at: order.updatedAt,
        reason: order.reason ?? null,
      };
      await send(order, ORDER_STATUS_TARGET, status, false);
    },
    async publishAssigned(order) {
      await send(
        order,
        ORDER_ASSIGNED_TARGET,
        { orderId: order.id, courierId: order.courierId, at: order.updatedAt },
        true,
      );
    },
  };
}
