/** The order rules: the status machine table by role, idempotent moves, pricing in integer cents. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demoRestaurants } from './restaurants.ts';
import { type Actor, applyTransition, checkTransition, nextStatuses, type Order, priceOrder } from './rules.ts';

const order = (status: Order['status'], extra: Partial<Order> = {}): Order => ({
  id: 'o-1',
  customerId: 'c1',
  restaurantId: 'pike-street-pizza',
  status,
  deliveryAddress: { lat: 47.62, lng: -122.315 },
  note: null,
  courierId: null,
  reason: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  history: [{ status: 'placed', at: '2026-01-01T00:00:00.000Z', by: 'customer:c1' }],
  ...extra,
});
const customer: Actor = { role: 'customer', id: 'c1' };
const stranger: Actor = { role: 'customer', id: 'c2' };
const kitchen: Actor = { role: 'restaurant', id: 'r1', restaurantId: 'pike-street-pizza' };
const otherKitchen: Actor = { role: 'restaurant', id: 'r2', restaurantId: '15th-ave-tacos' };
const courier: Actor = { role: 'courier', id: 'k1' };
const operator: Actor = { role: 'operator', id: 'op' };

describe('the status machine', () => {
  it('lets each role make its moves only', () => {
    assert.deepEqual(nextStatuses('placed', 'restaurant'), ['accepted', 'rejected']);
    assert.deepEqual(nextStatuses('placed', 'customer'), ['cancelled']);
    assert.deepEqual(nextStatuses('ready', 'courier'), ['picked_up']);
    assert.deepEqual(nextStatuses('placed', 'operator'), ['accepted', 'rejected']);
    for (const end of ['delivered', 'cancelled', 'rejected'] as const) {
      for (const role of ['customer', 'restaurant', 'courier', 'operator'] as const) {
        assert.deepEqual(nextStatuses(end, role), [], `${end} is final`);
      }
    }
    assert.deepEqual(checkTransition(order('placed'), 'accepted', kitchen), { ok: true, noop: false });
    assert.deepEqual(checkTransition(order('placed'), 'accepted', otherKitchen), { ok: false, reason: 'role' });
    assert.deepEqual(checkTransition(order('placed'), 'accepted', customer), { ok: false, reason: 'role' });
    assert.deepEqual(checkTransition(order('placed'), 'cancelled', stranger), { ok: false, reason: 'role' });
    assert.deepEqual(checkTransition(order('placed'), 'ready', kitchen), { ok: false, reason: 'status' });
    assert.deepEqual(checkTransition(order('accepted'), 'cancelled', customer), { ok: false, reason: 'status' });
    assert.deepEqual(checkTransition(order('placed'), 'lost' as Order['status'], operator), {
      ok: false,
      reason: 'status',
    });
    assert.deepEqual(checkTransition(order('picked_up', { courierId: 'k2' }), 'delivered', courier), {
      ok: false,
      reason: 'role',
    });
  });

  it('the same move again is a no-op for whoever may make it', () => {
    assert.deepEqual(checkTransition(order('accepted'), 'accepted', kitchen), { ok: true, noop: true });
    assert.deepEqual(checkTransition(order('cancelled'), 'cancelled', customer), { ok: true, noop: true });
    assert.deepEqual(checkTransition(order('accepted'), 'accepted', customer), { ok: false, reason: 'role' });
  });

  it('a move appends to the history, a pick-up assigns the courier, a rejection keeps its reason', () => {
    const picked = applyTransition(order('ready'), 'picked_up', courier, '2026-01-01T01:00:00.000Z');
    assert.equal(picked.status, 'picked_up');
    assert.equal(picked.courierId, 'k1');
    assert.equal(picked.updatedAt, '2026-01-01T01:00:00.000Z');
    assert.deepEqual(picked.history.at(-1), { status: 'picked_up', at: '2026-01-01T01:00:00.000Z', by: 'courier:k1' });
    const before = order('placed');
    const rejected = applyTransition(before, 'rejected', kitchen, '2026-01-01T01:00:00.000Z', 'closed');
    assert.equal(rejected.reason, 'closed');
    assert.equal(before.history.length, 1, 'the input is not changed');
  });
});

describe('pricing', () => {
  const [pizza, , tacos] = demoRestaurants();
  const request = (items: { itemId: string; quantity: number }[], at = { lat: 47.62, lng: -122.315 }) => ({
    restaurantId: pizza!.id,
    items,
    deliveryAddress: at,
  });

  it('sums lines and the delivery fee in integer cents', () => {
    const priced = priceOrder(
      pizza,
      request([
        { itemId: 'margherita', quantity: 2 },
        { itemId: 'tiramisu', quantity: 3 },
      ]),
    );
    assert.deepEqual(
      priced.lines.map((l) => l.lineCents),
      [2800, 2100],
    );
    assert.equal(priced.subtotalCents, 4900);
    assert.equal(priced.deliveryFeeCents, 299);
    assert.equal(priced.totalCents, 5199);
    assert.equal(priced.currency, 'USD');
  });

  it('names the field of what does not fit the menu, the restaurant or its area', () => {
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        assert.equal((err as { code: string }).code, 'DELIVERY_INVALID_ORDER');
        return (err as { field: string }).field;
      }
      assert.fail('expected a DELIVERY_INVALID_ORDER');
    };
    assert.equal(
      field(() => priceOrder(undefined, request([{ itemId: 'margherita', quantity: 1 }]))),
      'restaurantId',
    );
    assert.equal(
      field(() => priceOrder(tacos, request([{ itemId: 'margherita', quantity: 1 }]))),
      'restaurantId',
    );
    assert.equal(
      field(() => priceOrder({ ...pizza!, open: false }, request([{ itemId: 'margherita', quantity: 1 }]))),
      'restaurantId',
    );
    assert.equal(
      field(() => priceOrder(pizza, request([]))),
      'items',
    );
    assert.equal(
      field(() => priceOrder(pizza, request([{ itemId: 'sushi', quantity: 1 }]))),
      'items[0].itemId',
    );
    const soldOut = { ...pizza!, menu: pizza!.menu.map((m) => (m.id === 'funghi' ? { ...m, available: false } : m)) };
    assert.equal(
      field(() =>
        priceOrder(
          soldOut,
          request([
            { itemId: 'margherita', quantity: 1 },
            { itemId: 'funghi', quantity: 1 },
          ]),
        ),
      ),
      'items[1].itemId',
    );
    assert.equal(
      field(() => priceOrder(pizza, request([{ itemId: 'margherita', quantity: 0 }]))),
      'items[0].quantity',
    );
    assert.equal(
      field(() => priceOrder(pizza, request([{ itemId: 'margherita', quantity: 2.5 }]))),
      'items[0].quantity',
    );
    assert.equal(
      field(() => priceOrder(pizza, request([{ itemId: 'margherita', quantity: 1 }], { lat: 47.7, lng: -122.315 }))),
      'deliveryAddress',
    );
  });
});
