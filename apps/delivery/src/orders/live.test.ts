import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from './accounts.ts';
import { boardGroupOf, COURIERS_GROUP, groupsOf, OPERATIONS_GROUP } from './live.ts';
import type { Order, OrderStatus } from './rules.ts';

const order = (status: OrderStatus) => ({ id: 'o-1', restaurantId: 'pike', status }) as Order;
const principal = (role: Principal['role'], restaurantId?: string) =>
  ({ role, id: 'u-1', sessionId: 's', ...(restaurantId === undefined ? {} : { restaurantId }) }) as Principal;

describe('who hears an order', () => {
  it('its page, its restaurant and operations always; couriers from accepted to delivered', () => {
    for (const status of ['placed', 'rejected', 'cancelled'] as const) {
      assert.deepEqual(groupsOf(order(status)), ['order-o-1', 'restaurant-pike', OPERATIONS_GROUP], status);
    }
    for (const status of ['accepted', 'preparing', 'ready', 'picked_up', 'delivered'] as const) {
      assert.deepEqual(groupsOf(order(status)), ['order-o-1', 'restaurant-pike', OPERATIONS_GROUP, COURIERS_GROUP]);
    }
  });

  it('couriers hear every assignment', () => {
    assert.ok(groupsOf(order('placed'), true).includes(COURIERS_GROUP));
  });
});

describe('board groups', () => {
  it('one per staff role; none for a customer or a restaurant account without a restaurant', () => {
    assert.equal(boardGroupOf(principal('restaurant', 'pike')), 'restaurant-pike');
    assert.equal(boardGroupOf(principal('courier')), COURIERS_GROUP);
    assert.equal(boardGroupOf(principal('operator')), OPERATIONS_GROUP);
    assert.equal(boardGroupOf(principal('customer')), undefined);
    assert.equal(boardGroupOf(principal('restaurant')), undefined);
  });
});
