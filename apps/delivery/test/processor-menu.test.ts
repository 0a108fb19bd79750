/**
 * The processor's restaurant read is cached (CosmosDBCachedReads: delivery/restaurants) and kept
 * coherent by the restaurants container's change feed: a menu change reaches the prices of the
 * orders processed after the feed reported it, not after a time to live.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Restaurant } from '../src/orders/rules.ts';
import { type ApiSystem, pizza, startApiSystem } from './api-client.ts';

let api: ApiSystem;
let customer: { token: string; id: string };
let n = 0;

before(async () => {
  api = await startApiSystem();
  customer = await api.signUp('menu-customer@example.com');
});
after(async () => {
  await api?.[Symbol.asyncDispose]();
});

async function orderPrice(): Promise<number> {
  const created = await api.call('POST', '/api/v1/orders', {
    token: customer.token,
    body: pizza(1),
    headers: { 'idempotency-key': `menu-test-${++n}-${Date.now()}` },
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const order = (await api.processed(customer.token, created.body.id)).body;
  return order.lines[0].unitPriceCents;
}

it('prices with a changed menu once the change feed has reported it', async () => {
  assert.equal(await orderPrice(), 1400);
  assert.equal(await orderPrice(), 1400, 'the second read is the cached one');
  const restaurants = api.store.database('delivery').container('restaurants');
  const { resource: stored } = await restaurants.item('pike-street-pizza', 'pike-street-pizza').read<Restaurant>();
  assert.ok(stored);
  const { _etag, _ts, ...resource } = stored as Restaurant & { _etag?: string; _ts?: number };
  const menu = resource.menu.map((m) => (m.id === 'margherita' ? { ...m, priceCents: 1550 } : m));
  await restaurants.items.upsert({ ...resource, menu });
  // The feed reports the write within milliseconds in this process; an order a second later is
  // priced from the new menu (a time-to-live cache would keep the old price for its whole TTL).
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(await orderPrice(), 1550);
  assert.equal(await orderPrice(), 1550);
  await restaurants.items.upsert(resource);
});
