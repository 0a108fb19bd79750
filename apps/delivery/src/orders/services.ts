/**
 * The API's services on the store: the containers (created when missing, each partitioned by
 * `/id`; sessions with TTL on), the demo restaurants (seeded when missing), accounts and orders.
 * @module
 */
import type { Sender } from '@hubbub/bus';
import type { Cache } from '@hubbub/cache';
import type { Clock } from '@hubbub/kernel';
import type { Store } from '@hubbub/store';
import { type Accounts, createAccounts } from './accounts.ts';
import { positionContextKey } from './dispatch.ts';
import type { LiveOrders } from './live.ts';
import { createOrders, type Orders } from './orders.ts';
import { demoRestaurants } from './restaurants.ts';

export interface Services {
  readonly accounts: Accounts;
  readonly orders: Orders;
}

export interface ServicesOptions {
  readonly store: Store;
  readonly database: string;
  readonly sender: Sender;
  readonly clock: Clock;
  readonly sessionTtlSeconds: number;
  readonly cache: Cache | undefined;
  readonly menuTtlMs: number;
  /** How long a session read stays cached, in ms (`accounts.ts`). */
  readonly sessionCacheMs?: number | undefined;
  /** Where each status change goes live (the order's hub group). */
  readonly live: LiveOrders;
}

export async function setupServices(options: ServicesOptions): Promise<Services> {
  const { clock, sessionTtlSeconds } = options;
  const { database: db } = await options.store.databases.createIfNotExists({ id: options.database });
  const container = async (id: string, extra: { defaultTtl?: number } = {}) =>
    (await db.containers.createIfNotExists({ id, partitionKey: '/id', ...extra })).container;
  const [restaurants, ordersContainer, accountsContainer, sessions] = await Promise.all([
    container('restaurants'),
    container('orders'),
    container('accounts'),
    container('sessions', { defaultTtl: -1 }),
  ]);
  for (const r of demoRestaurants()) {
    if ((await restaurants.item(r.id, r.id).read()).resource === undefined) await restaurants.items.upsert(r);
  }
  return {
    accounts: createAccounts({
      accounts: accountsContainer,
      sessions,
      clock,
      sessionTtlSeconds,
      cache: options.cache,
      sessionCacheMs: options.sessionCacheMs,
    }),
    orders: createOrders({
      orders: ordersContainer,
      restaurants,
      sender: options.sender,
      clock,
      cache: options.cache,
      menuTtlMs: options.menuTtlMs,
      onStatus: async (order) => {
        // A courier's next position reads the changed order (dispatch.ts caches what it needs).
        await options.cache?.delete(positionContextKey(order.id)).catch(() => undefined);
        await options.live.publish(order);
      },
    }),
  };
}
