/**
 * The create's idempotency without a store read on the way in: the topic's duplicate detection
 * says whether the order id is new; only a dropped duplicate reads the store (same request: the
 * same order; another request once written: DELIVERY_IDEMPOTENCY_KEY_REUSED); past the window the
 * message is taken again and the key answers with the first order's id.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Bus, createBus, type Receiver } from '@hubbub/bus';
import { ManualClock } from '@hubbub/kernel';
import { type Container, createStore, type Store } from '@hubbub/store';
import type { Principal } from './accounts.ts';
import { ensureEntities } from './entities.ts';
import { isDeliveryError } from './errors.ts';
import { createOrders, orderIdOf } from './orders.ts';
import { demoRestaurants } from './restaurants.ts';

const DAY_MS = 86_400_000;
const clock = new ManualClock(Date.parse('2026-12-05T00:00:00Z'));
let store: Store;
let bus: Bus;
let orders: Container;
let restaurants: Container;
let processing: Receiver;
let orderReads = 0;

before(async () => {
  store = createStore();
  const { database } = await store.databases.createIfNotExists({ id: 'delivery' });
  orders = (await database.containers.createIfNotExists({ id: 'orders', partitionKey: '/id' })).container;
  restaurants = (await database.containers.createIfNotExists({ id: 'restaurants', partitionKey: '/id' })).container;
  for (const r of demoRestaurants()) await restaurants.items.upsert(r);
  bus = createBus({ clock });
  await bus.start();
  await ensureEntities(bus, 'orders', { warn() {} } as never);
  processing = bus.createReceiver({ topic: 'orders', subscription: 'processing' }, { receiveMode: 'receiveAndDelete' });
});
after(async () => {
  await bus.close();
  await store.close();
});

/** The orders container with its point reads counted. */
const counted = new Proxy(
  {},
  {
    get(_, name) {
      const target = orders as unknown as Record<string | symbol, unknown>;
      if (name === 'item') {
        return (id: string, pk: string) => {
          const item = orders.item(id, pk);
          return {
            read: (...args: Parameters<typeof item.read>) => {
              orderReads++;
              return item.read(...args);
            },
          };
        };
      }
      const value = target[name];
      return typeof value === 'function' ? value.bind(orders) : value;
    },
  },
) as Container;

const service = () =>
  createOrders({ orders: counted, restaurants, sender: bus.createSender('orders'), clock, menuTtlMs: 1_000 });
const customer: Principal = { sessionId: 's', id: 'u-customer', role: 'customer' };
const request = (quantity: number) => ({
  restaurantId: 'pike-street-pizza',
  items: [{ itemId: 'margherita', quantity }],
  deliveryAddress: { lat: 47.62, lng: -122.315 },
});

/** What the processor would do with the submissions on the topic: write each as its order. */
async function processAll(): Promise<number> {
  // The bus runs on the manual clock: receive only what is there (a wait would never end).
  const { activeMessageCount } = await bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'processing' });
  let n = 0;
  while (n < activeMessageCount) {
    for (const m of await processing.receiveMessages(activeMessageCount - n)) {
      n++;
      const s = m.body as { orderId: string; customerId: string; requestHash: string };
      const written = (await orders.item(s.orderId, s.orderId).read()).resource;
      if (written === undefined) {
        await orders.items.create({ id: s.orderId, customerId: s.customerId, requestHash: s.requestHash });
      }
    }
  }
  return n;
}

it('puts a new order on the bus without reading the store', async () => {
  const id = await service().submit(customer, request(1), 'key-00000001');
  assert.equal(id, orderIdOf(customer.id, 'key-00000001'));
  assert.equal(orderReads, 0);
  assert.equal(await processAll(), 1);
});

it('answers a retry within the window with the same order, and refuses another request under the key', async () => {
  const orders = service();
  orderReads = 0;
  const first = await orders.submit(customer, request(2), 'key-00000002');
  const retry = await orders.submit(customer, request(2), 'key-00000002'); // before the processor wrote it
  assert.equal(retry, first);
  const other = await orders.submit(customer, request(3), 'key-00000002'); // not written yet: the first stands
  assert.equal(other, first);
  assert.equal(await processAll(), 1, 'one message: the duplicates were dropped');
  assert.equal(orderReads, 2, 'only the dropped duplicates read the store');
  assert.equal(await orders.submit(customer, request(2), 'key-00000002'), first);
  await assert.rejects(orders.submit(customer, request(3), 'key-00000002'), (err) => {
    assert.ok(isDeliveryError(err, 'DELIVERY_IDEMPOTENCY_KEY_REUSED'));
    assert.equal(err.detail?.orderId, first);
    return true;
  });
  assert.equal(await processAll(), 0);
});

it('past the window, takes the message again: the processor finds the order written, the key keeps its id', async () => {
  const orders = service();
  const first = await orders.submit(customer, request(1), 'key-00000003');
  await processAll();
  clock.advance(DAY_MS + 1_000);
  orderReads = 0;
  assert.equal(await orders.submit(customer, request(4), 'key-00000003'), first, 'the first order, not a new one');
  assert.equal(orderReads, 0);
  assert.equal(await processAll(), 1, 'taken again');
  const { resources } = await counted.items
    .query({ query: 'SELECT VALUE COUNT(1) FROM c WHERE c.id = @id', parameters: [{ name: '@id', value: first }] })
    .fetchAll();
  assert.deepEqual(resources, [1]);
});
