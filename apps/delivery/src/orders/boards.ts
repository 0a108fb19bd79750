/**
 * The staff boards' reads: a restaurant's active orders (the kitchen's queue, oldest first) and the
 * operations overview — every active order with where it is picked up and delivered, every courier's
 * last position, and which orders have been in their status longer than that status's threshold.
 * @module
 */
import type { Clock } from '@hubbub/kernel';
import type { Container } from '@hubbub/store';
import type { Principal } from './accounts.ts';
import type { CourierPositionRecord } from './dispatch.ts';
import { orderView } from './orders.ts';
import type { Order, Restaurant } from './rules.ts';
import { ACTIVE_STATUSES, type ActiveStatus, stuckThresholds } from './stuck.ts';

/** How far back a courier's last position still counts as where it is. */
const POSITION_WINDOW_MS = 15 * 60_000;
/** The most active orders a board reads at once. */
const MAX_ACTIVE = 500;

export interface BoardsOptions {
  readonly orders: Container;
  readonly positions: Container;
  readonly restaurant: (id: string) => Promise<Restaurant | undefined>;
  readonly clock: Clock;
  /** Per status, seconds before an order is stuck; missing statuses keep the defaults (`stuck.ts`). */
  readonly stuckAfterSeconds?: Partial<Record<ActiveStatus, number>> | undefined;
}

/** When the order entered its current status: the last history entry for it, else its last change. */
export function enteredStatusAt(order: Order): string {
  for (let i = order.history.length - 1; i >= 0; i--) {
    if (order.history[i]!.status === order.status) return order.history[i]!.at;
  }
  return order.updatedAt;
}

const active = ACTIVE_STATUSES.map((s) => `'${s}'`).join(', ');

export function createBoards(options: BoardsOptions) {
  const { orders, positions, restaurant, clock } = options;
  const thresholds = stuckThresholds(options.stuckAfterSeconds);

  async function activeOrders(restaurantId?: string): Promise<Order[]> {
    const where = [`c.status IN (${active})`];
    const parameters: { name: string; value: string }[] = [];
    if (restaurantId !== undefined) {
      where.push('c.restaurantId = @restaurant');
      parameters.push({ name: '@restaurant', value: restaurantId });
    }
    const query = `SELECT * FROM c WHERE ${where.join(' AND ')} ORDER BY c.createdAt ASC, c.id ASC`;
    return (await orders.items.query<Order>({ query, parameters }, { maxItemCount: MAX_ACTIVE }).fetchNext()).resources;
  }

  return {
    thresholds,

    /** The restaurant's orders still under way, oldest first (the caller checked it may see them). */
    async restaurantOrders(p: Principal, restaurantId: string) {
      return (await activeOrders(restaurantId)).map((o) => orderView(p, o));
    },

    /** Every active order and courier, for the operations board. */
    async overview() {
      const nowMs = clock.now();
      const [list, recent] = await Promise.all([
        activeOrders(),
        positions.items
          .query<CourierPositionRecord>({
            query: 'SELECT * FROM c WHERE c.at >= @since ORDER BY c.at DESC',
            parameters: [{ name: '@since', value: new Date(nowMs - POSITION_WINDOW_MS).toISOString() }],
          })
          .fetchAll(),
      ]);
      const places = new Map<string, Restaurant | undefined>();
      await Promise.all(
        [...new Set(list.map((o) => o.restaurantId))].map(async (id) => places.set(id, await restaurant(id))),
      );
      return {
        now: new Date(nowMs).toISOString(),
        thresholdsSeconds: thresholds,
        orders: list.map((o) => {
          const since = enteredStatusAt(o);
          const status = o.status as ActiveStatus;
          return {
            id: o.id,
            status,
            restaurantId: o.restaurantId,
            ...(o.restaurantName === undefined ? {} : { restaurantName: o.restaurantName }),
            pickup: places.get(o.restaurantId)?.location ?? null,
            deliveryAddress: o.deliveryAddress,
            courierId: o.courierId ?? null,
            createdAt: o.createdAt,
            since,
            stuck: nowMs - Date.parse(since) > thresholds[status] * 1000,
            totalCents: o.totalCents ?? 0,
            ...(o.currency === undefined ? {} : { currency: o.currency }),
          };
        }),
        couriers: recent.resources.map(({ courierId, orderId, lat, lng, at }) => ({
          courierId,
          orderId,
          lat,
          lng,
          at,
        })),
      };
    },
  };
}

export type Boards = ReturnType<typeof createBoards>;
