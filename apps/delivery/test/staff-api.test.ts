/**
 * The staff views' REST API against startSystem on memory:// with the function app: the
 * restaurant's board (its orders only), the courier's offers (nearest first), taking one (two
 * couriers racing for one order: one wins), positions to queue `locations` reaching the customer's
 * order group and the operations board, the operations overview with stuck orders on a manual
 * clock, and the board groups granted through /api/v1/live/negotiate. Every route's bad input too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, silentLogger, systemClock, waitFor } from '@hubbub/kernel';
import { type RunningSystem, startSystem } from '@hubbub/system';
import * as signalR from '@microsoft/signalr';
import { deliveryApp } from '../src/index.ts';
import { createAccounts } from '../src/orders/accounts.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { createApiClient, DEMO_PASSWORD, pizza } from './api-client.ts';

const clock = new ManualClock(Date.now());
let system: RunningSystem;
const connections: signalR.HubConnection[] = [];
const api = () => createApiClient(system.url);

let customer: { token: string; id: string };
let restaurant: string;
let tacos: string;
let courier: string;
let courierTwo: string;
let operator: string;

before(async () => {
  let part: DeliveryApi | undefined;
  system = await startSystem({
    port: 0,
    app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
    secrets: deliveryApp.secrets,
    parts: [(c) => (part = deliveryApiPart({ clock, stuckAfterSeconds: { placed: 60, accepted: 120 } })(c))],
    logger: silentLogger,
  });
  await part!.ready();
  await seedDemoAccounts(system.store, DEMO_PASSWORD);
  const db = system.store.database('delivery');
  await createAccounts({
    accounts: db.container('accounts'),
    sessions: db.container('sessions'),
    clock: systemClock,
    sessionTtlSeconds: 1,
  }).create({ email: 'courier-two@example.com', password: DEMO_PASSWORD, name: 'Bo Courier', role: 'courier' });
  customer = await api().signUp('staff-customer@example.com');
  restaurant = await api().signIn('pike-street-pizza@example.com');
  tacos = await api().signIn('15th-ave-tacos@example.com');
  courier = await api().signIn('courier@example.com');
  courierTwo = await api().signIn('courier-two@example.com');
  operator = await api().signIn('operator@example.com');
});
after(async () => {
  await Promise.all(connections.map((c) => c.stop()));
  await system?.close();
});

let keys = 0;
const order = async (body: unknown = pizza(1)) =>
  (await api().order(customer.token, `staff-${++keys}-${Date.now()}`, body)).body as { id: string };
const call = (method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) =>
  api().call(method, path, { ...(token === undefined ? {} : { token }), body, headers });
const move = async (token: string, id: string, to: string, reason?: string) => {
  const reply = await call('POST', `/api/v1/orders/${id}/transitions`, token, { to, ...(reason ? { reason } : {}) });
  assert.equal(reply.status, 200, `${to}: ${JSON.stringify(reply.body)}`);
  return reply;
};
const assign = (token: string, id: string, headers: Record<string, string> = {}) =>
  call('POST', `/api/v1/orders/${id}/assignment`, token, undefined, headers);
const ids = (reply: { body: { items: { id: string }[] } }) => reply.body.items.map((o) => o.id);

/** The official client on a board, as the staff views connect: it POSTs `/api/v1/live/negotiate`. */
async function board(token: string) {
  const received: { target: string; args: { orderId: string; status?: string; lat?: number } }[] = [];
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${system.url}/api/v1/live`, { accessTokenFactory: () => token })
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const target of ['orderStatus', 'orderAssigned', 'location']) {
    connection.on(target, (args) =>
      received.push({ target, args: { ...args, orderId: args.orderId ?? args.orderid } }),
    );
  }
  await connection.start();
  connections.push(connection);
  return received;
}

describe("the restaurant's board", () => {
  it("lists the restaurant's active orders only, oldest first; accept, reject with a reason, preparing, ready", async () => {
    const first = await order();
    clock.advance(1_000); // the API's clock stamps createdAt
    const second = await order();
    const taco = await order({
      ...pizza(1),
      restaurantId: '15th-ave-tacos',
      items: [{ itemId: 'chips', quantity: 1 }],
    });
    const mine = await call('GET', '/api/v1/restaurants/pike-street-pizza/orders', restaurant);
    assert.equal(mine.status, 200);
    assert.ok(ids(mine).includes(first.id) && ids(mine).includes(second.id));
    assert.ok(!ids(mine).includes(taco.id), "not another restaurant's order");
    assert.ok(ids(mine).indexOf(first.id) < ids(mine).indexOf(second.id), 'oldest first');
    assert.deepEqual(mine.body.items.find((o: { id: string }) => o.id === first.id).next, ['accepted', 'rejected']);

    const noReason = await call('POST', `/api/v1/orders/${second.id}/transitions`, restaurant, { to: 'rejected' });
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.detail.field, 'reason');
    await move(restaurant, second.id, 'rejected', 'Out of dough');
    for (const to of ['accepted', 'preparing', 'ready']) await move(restaurant, first.id, to);
    const after = await call('GET', '/api/v1/restaurants/pike-street-pizza/orders', restaurant);
    assert.ok(!ids(after).includes(second.id), 'a rejected order leaves the board');
    assert.equal(after.body.items.find((o: { id: string }) => o.id === first.id).status, 'ready');
    const rejected = await call('GET', `/api/v1/orders/${second.id}`, customer.token);
    assert.equal(rejected.body.reason, 'Out of dough');

    // Another restaurant's order and board: not found.
    assert.equal(
      (await call('POST', `/api/v1/orders/${taco.id}/transitions`, restaurant, { to: 'accepted' })).status,
      404,
    );
    const otherBoard = await call('GET', '/api/v1/restaurants/15th-ave-tacos/orders', restaurant);
    assert.equal(otherBoard.status, 404);
    assert.equal(otherBoard.body.code, 'DELIVERY_NOT_FOUND');
    assert.ok(ids(await call('GET', '/api/v1/restaurants/15th-ave-tacos/orders', tacos)).includes(taco.id));
    assert.ok(ids(await call('GET', '/api/v1/restaurants/15th-ave-tacos/orders', operator)).includes(taco.id));
  });

  it('refuses a customer and a courier (403), no session (401), a bad id (404)', async () => {
    for (const token of [customer.token, courier]) {
      const reply = await call('GET', '/api/v1/restaurants/pike-street-pizza/orders', token);
      assert.equal(reply.status, 403);
      assert.equal(reply.body.code, 'DELIVERY_FORBIDDEN');
    }
    assert.equal(
      (await call('GET', '/api/v1/restaurants/pike-street-pizza/orders')).body.code,
      'DELIVERY_UNAUTHORIZED',
    );
    assert.equal((await call('GET', '/api/v1/restaurants/no%20such/orders', operator)).status, 404);
    assert.equal((await call('POST', '/api/v1/restaurants/pike-street-pizza/orders', operator)).status, 405);
  });
});

describe("couriers' offers and assignment", () => {
  it('offers accepted, preparing and ready orders without a courier, nearest restaurant first', async () => {
    const pizzaOrder = await order();
    const noodles = await order({
      ...pizza(1),
      restaurantId: 'broadway-noodle-bar',
      items: [{ itemId: 'gyoza', quantity: 1 }],
    });
    const placed = await order();
    await move(restaurant, pizzaOrder.id, 'accepted');
    const noodleBar = await api().signIn('broadway-noodle-bar@example.com');
    for (const to of ['accepted', 'preparing']) await move(noodleBar, noodles.id, to);
    const near = async (name: string) => {
      const at = (await call('GET', `/api/v1/restaurants/${name}`)).body.location as { lat: number; lng: number };
      const reply = await call('GET', `/api/v1/courier/offers?lat=${at.lat}&lng=${at.lng + 0.0005}&limit=50`, courier);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body.items as { id: string; distanceMeters: number; pickup: unknown; tripMeters: number }[];
    };
    const byPizza = await near('pike-street-pizza');
    const byNoodles = await near('broadway-noodle-bar');
    const order_ = (list: { id: string }[]) =>
      list.map((o) => o.id).filter((id) => [pizzaOrder.id, noodles.id].includes(id));
    assert.deepEqual(order_(byPizza), [pizzaOrder.id, noodles.id]);
    assert.deepEqual(order_(byNoodles), [noodles.id, pizzaOrder.id]);
    assert.ok(!byPizza.some((o) => o.id === placed.id), 'a placed order is no offer');
    const offer = byPizza.find((o) => o.id === pizzaOrder.id)!;
    assert.ok(offer.distanceMeters < 100 && offer.tripMeters > 0, JSON.stringify(offer));
    const sorted = byPizza.map((o) => o.distanceMeters);
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => a - b),
    );
    // Without a position: oldest first, no distance.
    const plain = await call('GET', '/api/v1/courier/offers?limit=50', courier);
    assert.ok(plain.body.items.every((o: { distanceMeters: unknown }) => o.distanceMeters === null));
  });

  it('refuses a bad query (naming the field) and other roles', async () => {
    for (const [query, field] of [
      ['lat=47.6', 'lng'],
      ['lat=95&lng=1', 'lat'],
      ['lat=x&lng=1', 'lat'],
      ['limit=0', 'limit'],
      ['near=1', 'near'],
    ]) {
      const reply = await call('GET', `/api/v1/courier/offers?${query}`, courier);
      assert.equal(reply.status, 400, query);
      assert.equal(reply.body.code, 'DELIVERY_INVALID_QUERY', query);
      assert.equal(reply.body.detail.field, field, query);
    }
    for (const token of [customer.token, restaurant, operator]) {
      assert.equal((await call('GET', '/api/v1/courier/offers', token)).status, 403);
      assert.equal((await call('GET', '/api/v1/courier/deliveries', token)).status, 403);
    }
    assert.equal((await call('GET', '/api/v1/courier/offers')).status, 401);
  });

  it('a courier takes an offer; only it may pick up and deliver; taking it again changes nothing', async () => {
    const o = await order();
    assert.equal((await assign(courier, o.id)).status, 404, 'a placed order is no offer');
    await move(restaurant, o.id, 'accepted');
    const taken = await assign(courier, o.id);
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    assert.match(taken.body.courierId, /^u-/);
    assert.ok(taken.body.assignedAt);
    assert.match(taken.headers.get('etag')!, /^".+"$/);
    const again = await assign(courier, o.id);
    assert.equal(again.status, 200);
    assert.equal(again.body.assignedAt, taken.body.assignedAt);
    const lost = await assign(courierTwo, o.id);
    assert.equal(lost.status, 409);
    assert.equal(lost.body.code, 'DELIVERY_ORDER_TAKEN');
    assert.ok(!ids(await call('GET', '/api/v1/courier/offers?limit=50', courier)).includes(o.id), 'no longer offered');
    assert.deepEqual(ids(await call('GET', '/api/v1/courier/deliveries', courier)).includes(o.id), true);
    assert.ok(!ids(await call('GET', '/api/v1/courier/deliveries', courierTwo)).includes(o.id));

    const early = await call('POST', `/api/v1/orders/${o.id}/transitions`, courier, { to: 'picked_up' });
    assert.equal(early.status, 409, 'not before it is ready');
    for (const to of ['preparing', 'ready']) await move(restaurant, o.id, to);
    assert.equal(
      (await call('POST', `/api/v1/orders/${o.id}/transitions`, courierTwo, { to: 'picked_up' })).status,
      404,
    );
    await move(courier, o.id, 'picked_up');
    await move(courier, o.id, 'delivered');
    assert.ok(!ids(await call('GET', '/api/v1/courier/deliveries', courier)).includes(o.id), 'done');
    assert.equal((await assign(courierTwo, o.id)).status, 409, 'delivered by another courier');
  });

  it('of two couriers taking one order at once, exactly one wins', async () => {
    const orders = await Promise.all([order(), order(), order()]);
    for (const o of orders) await move(restaurant, o.id, 'accepted');
    for (const o of orders) {
      const replies = await Promise.all([assign(courier, o.id), assign(courierTwo, o.id)]);
      const statuses = replies.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409], JSON.stringify(replies.map((r) => r.body)));
      const winner = replies.find((r) => r.status === 200)!.body.courierId;
      const stored = await call('GET', `/api/v1/orders/${o.id}`, operator);
      assert.equal(stored.body.courierId, winner);
    }
  });

  it('refuses a stale If-Match (412), an unknown or malformed id (404), other roles (403)', async () => {
    const o = await order();
    const accepted = await move(restaurant, o.id, 'accepted');
    const stale = accepted.headers.get('etag')!;
    await move(restaurant, o.id, 'preparing');
    const reply = await assign(courier, o.id, { 'if-match': stale });
    assert.equal(reply.status, 412);
    assert.equal(reply.body.code, 'DELIVERY_PRECONDITION_FAILED');
    assert.equal((await assign(courier, 'o-000000000000000000000000')).status, 404);
    assert.equal((await assign(courier, 'bad%20id')).status, 404);
    for (const token of [customer.token, restaurant, operator]) assert.equal((await assign(token, o.id)).status, 403);
    assert.equal((await assign(undefined as unknown as string, o.id)).status, 401);
    assert.equal((await call('GET', `/api/v1/orders/${o.id}/assignment`, courier)).status, 405);
  });
});

describe("the courier's positions", () => {
  it("go to queue locations: the customer's order group and the operations board see them", async () => {
    const o = await order();
    const ops = await board(operator);
    const seen: { lat: number }[] = [];
    const watcher = new signalR.HubConnectionBuilder()
      .withUrl(`${system.url}/api/v1/orders/${o.id}`, { accessTokenFactory: () => customer.token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    watcher.on('location', (l: { lat: number }) => seen.push(l));
    await watcher.start();
    connections.push(watcher);

    const position = (token: string, body: unknown) => call('POST', `/api/v1/orders/${o.id}/location`, token, body);
    assert.equal((await position(courier, { lat: 47.615, lng: -122.318 })).status, 404, 'not its order yet');
    await move(restaurant, o.id, 'accepted');
    await assign(courier, o.id);
    const sent = await position(courier, { lat: 47.615, lng: -122.318, accuracy: 12 });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.orderId, o.id);
    await waitFor(() => seen.some((l) => l.lat === 47.615), {
      timeoutMs: 15_000,
      what: "the position on the customer's map",
    });
    await waitFor(() => ops.some((m) => m.target === 'location' && m.args.orderId === o.id), {
      timeoutMs: 15_000,
      what: 'the position on the operations board',
    });
    const overview = await call('GET', '/api/v1/operations/overview', operator);
    const me = overview.body.couriers.find((c: { orderId: string }) => c.orderId === o.id);
    assert.deepEqual([me.lat, me.lng], [47.615, -122.318]);

    for (const [body, field] of [
      [{ lat: 95, lng: 0 }, 'lat'],
      [{ lat: 47.6 }, 'lng'],
      [{ lat: 47.6, lng: -122.3, speed: 3 }, 'speed'],
      [{ lat: '47.6', lng: -122.3 }, 'lat'],
    ] as const) {
      const reply = await position(courier, body);
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.body.detail.field, field);
    }
    assert.equal((await position(courierTwo, { lat: 47.6, lng: -122.3 })).status, 404, "another courier's order");
    assert.equal((await position(customer.token, { lat: 47.6, lng: -122.3 })).status, 403);
    for (const to of ['preparing', 'ready']) await move(restaurant, o.id, to);
    for (const to of ['picked_up', 'delivered']) await move(courier, o.id, to);
    const over = await position(courier, { lat: 47.6, lng: -122.3 });
    assert.equal(over.status, 409);
    assert.equal(over.body.code, 'DELIVERY_NOT_ON_DELIVERY');
  });

  it('refuse hostile bodies with a typed 4xx: not JSON, numbers past a double, an estimate of their own, too large', async () => {
    const o = await order();
    await move(restaurant, o.id, 'accepted');
    await assign(courier, o.id);
    const raw = (text: string) =>
      api().call('POST', `/api/v1/orders/${o.id}/location`, {
        token: courier,
        raw: text,
        headers: { 'Content-Type': 'application/json' },
      });
    for (const [text, status, code] of [
      ['{"lat":', 400, 'DELIVERY_INVALID_JSON'],
      ['{"lat":NaN,"lng":1}', 400, 'DELIVERY_INVALID_JSON'],
      ['{"lat":1e400,"lng":1}', 400, 'DELIVERY_INVALID_BODY'],
      ['[47.6,-122.3]', 400, 'DELIVERY_INVALID_BODY'],
      // The estimate is the server's: a courier cannot send the customer one.
      ['{"lat":47.6,"lng":-122.3,"eta":{"meters":1,"seconds":1}}', 400, 'DELIVERY_INVALID_BODY'],
      [`{"lat":47.6,"lng":-122.3,"pad":"${'x'.repeat(70_000)}"}`, 413, 'KERNEL_BODY_TOO_LARGE'],
    ] as const) {
      const reply = await raw(text);
      assert.equal(reply.status, status, text.slice(0, 60));
      assert.equal(reply.body.code, code, text.slice(0, 60));
    }
    for (const query of ['lat=1e400&lng=1', 'lat=abc&lng=1', 'lat=1&lat=2&lng=1', 'limit=1e30', 'constructor=1']) {
      const reply = await call('GET', `/api/v1/courier/offers?${query}`, courier);
      assert.equal(reply.status, 400, query);
      assert.equal(reply.body.code, 'DELIVERY_INVALID_QUERY', query);
    }
    assert.equal((await raw('{"lat":47.6,"lng":-122.3}')).status, 202, 'the courier still sends positions');
  });

  it('are limited to a few a second per courier (429)', async () => {
    const o = await order();
    await move(restaurant, o.id, 'accepted');
    await assign(courierTwo, o.id);
    const replies = await Promise.all(
      Array.from({ length: 30 }, () =>
        call('POST', `/api/v1/orders/${o.id}/location`, courierTwo, { lat: 47.6, lng: -122.3 }),
      ),
    );
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(limited.length >= 10, replies.map((r) => r.status).join(' '));
    assert.equal(limited[0]!.body.code, 'KERNEL_RATE_LIMITED');
  });
});

describe('the operations overview', () => {
  it('lists every active order with where it goes, and marks those stuck past their status threshold', async () => {
    const waiting = await order();
    const cooking = await order();
    await move(restaurant, cooking.id, 'accepted');
    const first = await call('GET', '/api/v1/operations/overview', operator);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.thresholdsSeconds, {
      placed: 60,
      accepted: 120,
      preparing: 1800,
      ready: 600,
      picked_up: 2700,
    });
    type Row = { id: string; stuck: boolean; status: string; pickup: unknown; since: string };
    const row = (body: { orders: Row[] }, id: string) => body.orders.find((o) => o.id === id)!;
    assert.equal(row(first.body, waiting.id).stuck, false);
    assert.ok(row(first.body, waiting.id).pickup, 'with the restaurant to pick up from');
    assert.equal(row(first.body, cooking.id).status, 'accepted');

    clock.advance(61_000); // past placed's 60 s, within accepted's 120 s
    const later = await call('GET', '/api/v1/operations/overview', operator);
    assert.equal(row(later.body, waiting.id).stuck, true);
    assert.equal(row(later.body, cooking.id).stuck, false);
    clock.advance(60_000);
    assert.equal(row((await call('GET', '/api/v1/operations/overview', operator)).body, cooking.id).stuck, true);
    await move(restaurant, cooking.id, 'preparing');
    const moved = await call('GET', '/api/v1/operations/overview', operator);
    assert.equal(row(moved.body, cooking.id).stuck, false, 'a new status starts its clock again');
    await move(restaurant, waiting.id, 'rejected', 'Closed early');
    const gone = await call('GET', '/api/v1/operations/overview', operator);
    assert.equal(row(gone.body, waiting.id), undefined, 'a rejected order is not active');
  });

  it('is for operators only', async () => {
    for (const token of [customer.token, restaurant, courier]) {
      assert.equal((await call('GET', '/api/v1/operations/overview', token)).status, 403);
    }
    assert.equal((await call('GET', '/api/v1/operations/overview')).status, 401);
  });
});

describe('board groups, granted by the server', () => {
  it("hear their own restaurant's orders, the couriers' offers and assignments, every change for operations", async () => {
    const pizzaBoard = await board(restaurant);
    const tacoBoard = await board(tacos);
    const couriers = await board(courierTwo);
    const o = await order();
    await waitFor(() => pizzaBoard.some((m) => m.args.orderId === o.id && m.args.status === 'placed'), {
      timeoutMs: 15_000,
      what: "the new order on its restaurant's board",
    });
    await move(restaurant, o.id, 'accepted');
    await waitFor(() => couriers.some((m) => m.args.orderId === o.id && m.args.status === 'accepted'), {
      timeoutMs: 15_000,
      what: "the offer on the couriers' board",
    });
    await assign(courier, o.id);
    await waitFor(() => couriers.some((m) => m.target === 'orderAssigned' && m.args.orderId === o.id), {
      timeoutMs: 15_000,
      what: "the assignment on the couriers' board",
    });
    await waitFor(() => pizzaBoard.some((m) => m.target === 'orderAssigned' && m.args.orderId === o.id), {
      timeoutMs: 15_000,
      what: "the assignment on the restaurant's board",
    });
    assert.ok(!tacoBoard.some((m) => m.args.orderId === o.id), "nothing of another restaurant's order");
    assert.ok(
      !couriers.some((m) => m.args.orderId === o.id && m.args.status === 'placed'),
      'couriers hear no placed orders',
    );
  });

  it('negotiate names the group; a customer gets 403, no session 401', async () => {
    const reply = await call('POST', '/api/v1/live/negotiate', restaurant);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.group, 'restaurant-pike-street-pizza');
    assert.ok(reply.body.url && reply.body.accessToken);
    assert.equal((await call('GET', '/api/v1/live/negotiate', courier)).body.group, 'couriers');
    assert.equal((await call('GET', '/api/v1/live/negotiate', operator)).body.group, 'operations');
    const refused = await call('POST', '/api/v1/live/negotiate', customer.token);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'DELIVERY_FORBIDDEN');
    assert.equal((await call('POST', '/api/v1/live/negotiate')).status, 401);
  });
});
