/**
 * Each order's status live in the hub, granted by the server: startSystem on memory:// with the
 * REST API part and the function app; the official `@microsoft/signalr` client negotiates through
 * `/api/v1/orders/{id}/negotiate` with its session (the client POSTs `<url>/negotiate`) and then
 * receives `orderStatus` in the order's group — from the API at each transition, from the
 * processor for `placed`. Another customer, a guessed id, no session: 404 / 401, and nothing of
 * the order reaches another customer's connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { type RunningSystem, startSystem } from '@hubbub/system';
import * as signalR from '@microsoft/signalr';
import { deliveryApp } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { createApiClient, DEMO_PASSWORD } from './api-client.ts';

const MARGHERITA = {
  restaurantId: 'pike-street-pizza',
  items: [{ itemId: 'margherita', quantity: 1 }],
  deliveryAddress: { lat: 47.62, lng: -122.315 },
};

let system: RunningSystem;
const connections: signalR.HubConnection[] = [];

before(async () => {
  let api: DeliveryApi | undefined;
  system = await startSystem({
    port: 0,
    app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
    secrets: deliveryApp.secrets,
    parts: [(context) => (api = deliveryApiPart()(context))],
    logger: silentLogger,
  });
  await api!.ready();
  await seedDemoAccounts(system.store, DEMO_PASSWORD);
});
after(async () => {
  await Promise.all(connections.map((c) => c.stop()));
  await system?.close();
});

const client = () => createApiClient(system.url);
const call = (method: string, path: string, token: string | undefined, body?: unknown, headers = {}) =>
  client().call(method, path, { ...(token === undefined ? {} : { token }), body, headers });
const signUp = (email: string) => client().signUp(email);
const signIn = (email: string) => client().signIn(email);

let keys = 0;
async function order(token: string): Promise<string> {
  const key = `live-test-${++keys}-${Date.now()}`;
  return (await client().order(token, key, MARGHERITA)).body.id as string;
}

async function move(token: string, id: string, to: string) {
  const reply = await call('POST', `/api/v1/orders/${id}/transitions`, token, { to });
  assert.equal(reply.status, 200, `${to}: ${JSON.stringify(reply.body)}`);
}

type Live = { orderId: string; status: string; at: string; reason: string | null };

/** The official client on the order's URL, as the order page connects: it POSTs `<url>/negotiate`. */
async function watch(token: string, orderId: string) {
  const received: Live[] = [];
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${system.url}/api/v1/orders/${orderId}`, { accessTokenFactory: () => token })
    .configureLogging(signalR.LogLevel.None)
    .build();
  connection.on('orderStatus', (status: Live) => received.push(status));
  await connection.start();
  connections.push(connection);
  return { connection, received };
}

describe("an order's status, live", () => {
  let customer: { token: string; id: string };
  let other: { token: string; id: string };
  let restaurant: string;
  let otherRestaurant: string;
  let courier: string;
  let operator: string;

  before(async () => {
    customer = await signUp('live-customer@example.com');
    other = await signUp('live-other@example.com');
    restaurant = await signIn('pike-street-pizza@example.com');
    otherRestaurant = await signIn('15th-ave-tacos@example.com');
    courier = await signIn('courier@example.com');
    operator = await signIn('operator@example.com');
  });

  it('reaches the customer, the restaurant and the operator at every transition, and nobody else', async () => {
    const id = await order(customer.token);
    const mine = await watch(customer.token, id);
    const kitchen = await watch(restaurant, id);
    const ops = await watch(operator, id);
    const otherOrder = await order(other.token);
    const theirs = await watch(other.token, otherOrder);
    for (const [token, to] of [
      [restaurant, 'accepted'],
      [restaurant, 'preparing'],
      [restaurant, 'ready'],
      [courier, 'picked_up'],
      [courier, 'delivered'],
    ] as const) {
      await move(token, id, to);
    }
    const all = ['accepted', 'preparing', 'ready', 'picked_up', 'delivered'];
    await waitFor(() => mine.received.length === 5 && kitchen.received.length === 5 && ops.received.length === 5, {
      timeoutMs: 10_000,
      what: 'five statuses on each connection',
    });
    assert.deepEqual(
      mine.received.map((s) => s.status),
      all,
    );
    assert.deepEqual(mine.received[0], {
      orderId: id,
      status: 'accepted',
      at: mine.received[0]?.at,
      reason: null,
    });
    assert.ok(Number.isFinite(Date.parse(mine.received[0]!.at)));
    assert.deepEqual(
      kitchen.received.map((s) => s.status),
      all,
    );
    // The other customer's own order moves; its connection sees that, never the first order.
    await move(restaurant, otherOrder, 'accepted');
    await waitFor(() => theirs.received.length === 1, { timeoutMs: 10_000, what: "the other order's status" });
    assert.deepEqual(
      theirs.received.map((s) => s.orderId),
      [otherOrder],
    );
    assert.equal(
      mine.received.some((s) => s.orderId === otherOrder),
      false,
    );
  });

  it('refuses another customer, another restaurant, a courier not on it, a guessed id and no session', async () => {
    const id = await order(customer.token);
    const negotiate = (token: string | undefined, orderId = id) =>
      call('POST', `/api/v1/orders/${orderId}/negotiate?negotiateVersion=1`, token);
    for (const token of [other.token, otherRestaurant, courier]) {
      const refused = await negotiate(token);
      assert.equal(refused.status, 404);
      assert.equal(refused.body.code, 'DELIVERY_NOT_FOUND');
    }
    for (const guess of ['o-000000000000000000000000', 'order-1', '..', '%00']) {
      assert.equal((await negotiate(other.token, guess)).status, 404, guess);
    }
    const anonymous = await negotiate(undefined);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'DELIVERY_UNAUTHORIZED');
    // The official client fails the same way, and no hub user of the other customer joined the group.
    await assert.rejects(watch(other.token, id), /404/);
    assert.equal(system.signalR.hub('tracking').isUserInGroup(other.id, `order-${id}`), false);
    // GET answers as POST does (the connection info and the grant).
    const got = await call('GET', `/api/v1/orders/${id}/negotiate`, customer.token);
    assert.equal(got.status, 200);
    assert.match(got.body.url, /\/client\/\?hub=tracking$/);
    assert.equal(typeof got.body.accessToken, 'string');
    assert.equal(system.signalR.hub('tracking').isUserInGroup(customer.id, `order-${id}`), true);
  });

  it("the processor's placed event (sent again for a redelivered submission) reaches the group", async () => {
    const id = await order(customer.token);
    const mine = await watch(customer.token, id);
    const written = (await call('GET', `/api/v1/orders/${id}`, customer.token)).body;
    const sender = system.bus.createSender('orders');
    await sender.send({
      messageId: `redelivered-${id}`,
      correlationId: id,
      subject: 'submitted',
      contentType: 'application/json',
      body: {
        orderId: id,
        customerId: customer.id,
        restaurantId: 'pike-street-pizza',
        items: [{ itemId: 'margherita', quantity: 1 }],
        deliveryAddress: { lat: 47.62, lng: -122.315 },
        submittedAt: written.createdAt,
      },
    });
    await sender.close();
    await waitFor(() => mine.received.length === 1, { timeoutMs: 10_000, what: 'the placed status' });
    assert.deepEqual(mine.received[0], { orderId: id, status: 'placed', at: written.updatedAt, reason: null });
  });
});
