/**
 * "Your courier is about to arrive", end to end: startSystem on memory:// with the REST API part
 * (on a manual clock, so the courier's speed is what the test drives) and the function app, the
 * system's real push service delivering by Web Push to the local endpoint of `@hubbub/push/testing`
 * for a browser installation of the customer. A courier drives from the restaurant to the door
 * along the streets (the route the server counts the way left along, streets.ts)
 * posting its positions: every position of the picked-up order reaches the customer's order group
 * with the server's estimate, and the customer gets exactly one about-to-arrive push, at the first
 * position within the threshold. Then the race: several dispatch instances (API nodes with their
 * own memory) on the same store get positions of one order at once — one push; an instance that
 * starts later sends none; a failed send takes its flag back and the next position sends it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Sender } from '@hubbub/bus';
import { ManualClock, silentLogger, waitFor } from '@hubbub/kernel';
import { startPushEndpoint } from '@hubbub/push/testing';
import { type RunningSystem, startSystem } from '@hubbub/system';
import * as signalR from '@microsoft/signalr';
import { estimateArrival, type Fix, isArriving, metersBetween, type Point } from '../src/arrival.ts';
import { loadCity } from '../src/city.ts';
import { deliveryApp } from '../src/index.ts';
import type { Principal } from '../src/orders/accounts.ts';
import { type ArrivalRecord, createDispatch, type Dispatch, positionContextKey } from '../src/orders/dispatch.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { createLiveOrders } from '../src/orders/live.ts';
import { demoRestaurants } from '../src/orders/restaurants.ts';
import type { Restaurant } from '../src/orders/rules.ts';
import { installationTemplates } from '../src/push-templates.ts';
import { createStreetRouter } from '../src/streets.ts';
import { createApiClient, DEMO_PASSWORD } from './api-client.ts';

const DOOR: Point = { lat: 47.6255, lng: -122.312 };
const clock = new ManualClock(Date.now());
let system: RunningSystem;
let endpoint: Awaited<ReturnType<typeof startPushEndpoint>>;
const connections: signalR.HubConnection[] = [];

before(async () => {
  endpoint = await startPushEndpoint();
  let api: DeliveryApi | undefined;
  system = await startSystem({
    port: 0,
    app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
    secrets: deliveryApp.secrets,
    parts: [(context) => (api = deliveryApiPart({ clock })(context))],
    logger: silentLogger,
  });
  await api!.ready();
  await seedDemoAccounts(system.store, DEMO_PASSWORD);
});
after(async () => {
  await Promise.all(connections.map((c) => c.stop()));
  await system?.close();
  await endpoint?.close();
});

const client = () => createApiClient(system.url);
const call = (method: string, path: string, token: string, body?: unknown) =>
  client().call(method, path, { token, body, headers: {} });
async function move(token: string, id: string, to: string) {
  const reply = await call('POST', `/api/v1/orders/${id}/transitions`, token, { to });
  assert.equal(reply.status, 200, `${to}: ${JSON.stringify(reply.body)}`);
}

/** `meters` east and north of `p`. */
const offset = (p: Point, east: number, north: number): Point => ({
  lat: p.lat + north / 111_195,
  lng: p.lng + east / (111_195 * Math.cos((p.lat * Math.PI) / 180)),
});

/** Points every `step` metres along a polyline, its end included. */
function walk(path: readonly Point[], step: number): Point[] {
  const out: Point[] = [path[0]!];
  for (let i = 1; i < path.length; i++) {
    const a = path[i - 1]!;
    const b = path[i]!;
    const n = Math.max(1, Math.round(metersBetween(a, b) / step));
    for (let k = 1; k <= n; k++)
      out.push({ lat: a.lat + ((b.lat - a.lat) * k) / n, lng: a.lng + ((b.lng - a.lng) * k) / n });
  }
  return out;
}

describe('the about-to-arrive push', () => {
  let customer: { token: string; id: string };
  let restaurant: string;
  let courier: string;
  let courierId: string;
  let sub: ReturnType<typeof endpoint.subscribe>;
  const arrivingFor = (id: string) =>
    sub.messages.map((m) => JSON.parse(m.text)).filter((m) => m.orderId === id && m.status === 'arriving');

  /** An order of the customer, picked up by the courier. */
  async function pickedUp(): Promise<string> {
    const reply = await client().order(customer.token, `arriving-${Date.now()}-${Math.random()}`, {
      restaurantId: 'pike-street-pizza',
      items: [{ itemId: 'margherita', quantity: 1 }],
      deliveryAddress: { ...DOOR, label: 'Door' },
    });
    const id = reply.body.id as string;
    await waitFor(async () => (await call('GET', `/api/v1/orders/${id}`, customer.token)).status === 200, {
      timeoutMs: 20_000,
      what: 'the processor to write the order',
    });
    await move(restaurant, id, 'accepted');
    await move(restaurant, id, 'preparing');
    await move(restaurant, id, 'ready');
    assert.equal((await call('POST', `/api/v1/orders/${id}/assignment`, courier)).status, 200);
    await move(courier, id, 'picked_up');
    return id;
  }

  /** The notifications subscription has nothing left: every event was handled. */
  const drained = () =>
    waitFor(
      async () =>
        (await system.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'notifications' }))
          .activeMessageCount === 0,
      { timeoutMs: 20_000, what: 'the notifier to take every event' },
    );

  before(async () => {
    customer = await client().signUp('arriving@example.com');
    restaurant = await client().signIn('pike-street-pizza@example.com');
    courier = await client().signIn('courier@example.com');
    courierId = (await call('GET', '/api/v1/account', courier)).body.id as string;
    sub = endpoint.subscribe({ applicationServerKey: system.keys.push.vapid.publicKey });
    const { endpoint: url, keys } = sub.toJSON();
    await system.push!.upsertInstallation({
      installationId: 'arriving-test-browser',
      platform: 'browser',
      userId: customer.id,
      pushChannel: { endpoint: url, p256dh: keys.p256dh, auth: keys.auth },
      templates: installationTemplates(),
    });
  });

  it('a courier driven to the door: the estimate on every position, one push at the first within 2 minutes', async () => {
    const id = await pickedUp();
    const seen: { lat: number; longitude: number; eta?: { meters: number; seconds: number | null } }[] = [];
    const watcher = new signalR.HubConnectionBuilder()
      .withUrl(`${system.url}/api/v1/orders/${id}`, { accessTokenFactory: () => customer.token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    watcher.on('location', (l) => seen.push(l));
    await watcher.start();
    connections.push(watcher);

    // From the restaurant to the door along the streets (the way the server routes the order, 1.7
    // km), at 8 m/s, a position every 5 s.
    const pizza = demoRestaurants().find((r) => r.id === 'pike-street-pizza')!.location;
    const streets = createStreetRouter(loadCity())(pizza, DOOR)!;
    const route = walk(streets, 40);
    const sent: Fix[] = [];
    let firstArriving = -1;
    for (const [i, p] of route.entries()) {
      if (i > 0) clock.advance(5_000);
      const reply = await call('POST', `/api/v1/orders/${id}/location`, courier, { lat: p.lat, lng: p.lng });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
      sent.push({ ...p, time: clock.now() });
      if (firstArriving < 0 && isArriving(estimateArrival(sent, DOOR, streets))) firstArriving = i;
    }
    assert.ok(
      firstArriving > 10 && firstArriving < route.length - 5,
      `the threshold is crossed on the way (${firstArriving})`,
    );

    await waitFor(() => arrivingFor(id).length >= 1, { timeoutMs: 20_000, what: 'the about-to-arrive push' });
    await waitFor(() => seen.length === route.length, { timeoutMs: 20_000, what: 'every position on the map' });
    await drained();
    const pushes = arrivingFor(id);
    assert.equal(pushes.length, 1, 'one push for the order');
    assert.deepEqual(pushes[0], {
      title: 'Your courier is about to arrive',
      body: `Your courier is almost at your door with order ${id}.`,
      url: `/notifications?order=${id}`,
      orderId: id,
      status: 'arriving',
    });

    // Every position carried the server's estimate: what the shared estimator gives for the track.
    for (const [i, p] of route.entries()) {
      const message = seen.find((m) => m.lat === p.lat && m.longitude === p.lng);
      assert.ok(message?.eta, `position ${i} has an estimate`);
      const expected = estimateArrival(sent.slice(0, i + 1), DOOR, streets)!;
      assert.equal(message.eta.meters, Math.round(expected.meters));
      assert.equal(message.eta.seconds, expected.seconds === null ? null : Math.round(expected.seconds));
    }
    // The push went out at the first position within the threshold (the flag records its estimate).
    const flag = (await system.store.database('delivery').container('arrivals').item(id, id).read<ArrivalRecord>())
      .resource!;
    const expected = estimateArrival(sent.slice(0, firstArriving + 1), DOOR, streets)!;
    assert.equal(flag.eta.seconds, Math.round(expected.seconds!));
    assert.ok(flag.eta.seconds !== null && flag.eta.seconds <= 120);
    // About 8 m/s: the streets left ÷ 8 at the push.
    assert.ok(Math.abs(expected.speedMps! - 8) < 0.5, `${expected.speedMps}`);

    // What the positions need of the order is in the system's cache; delivering it drops that, so
    // the very next position is refused.
    assert.equal((await system.cache.get<{ status: string }>(positionContextKey(id)))?.status, 'picked_up');
    await move(courier, id, 'delivered');
    assert.equal(await system.cache.get(positionContextKey(id)), undefined);
    clock.advance(1_000);
    const over = await call('POST', `/api/v1/orders/${id}/location`, courier, DOOR);
    assert.equal(over.status, 409);
    assert.equal(over.body.code, 'DELIVERY_NOT_ON_DELIVERY');
  });

  it('forwardLocation passes a valid estimate on to the map and leaves a bad one out', async () => {
    const id = await pickedUp();
    const seen: { lat: number; eta?: unknown }[] = [];
    const watcher = new signalR.HubConnectionBuilder()
      .withUrl(`${system.url}/api/v1/orders/${id}`, { accessTokenFactory: () => customer.token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    watcher.on('location', (l) => seen.push(l));
    await watcher.start();
    connections.push(watcher);
    const cases: [number, unknown, unknown][] = [
      [47.601, { meters: 120.4, seconds: 15.6 }, { meters: 120, seconds: 16 }],
      [47.602, { meters: 50, seconds: null }, { meters: 50, seconds: null }],
      [47.603, { meters: -1, seconds: 3 }, undefined],
      [47.604, { meters: 'far', seconds: 3 }, undefined],
      [47.605, { meters: 10, seconds: 1e9 }, undefined],
      [47.606, { meters: 10 }, undefined],
      [47.607, 'soon', undefined],
    ];
    const sender = system.bus.createSender('locations');
    for (const [lat, eta] of cases) {
      const body = { orderid: id, storeid: 1, courierid: 'c-1', lat, longitude: -122.32, eta };
      await sender.send({ body, contentType: 'application/json' });
    }
    await sender.close();
    await waitFor(() => seen.length >= cases.length, { timeoutMs: 20_000, what: 'every location on the map' });
    for (const [lat, , expected] of cases) assert.deepEqual(seen.find((l) => l.lat === lat)?.eta, expected, `${lat}`);
  });

  it('several instances at once, a later one, a failed send: one push per order', async () => {
    const db = system.store.database('delivery');
    const restaurants = db.container('restaurants');
    const restaurantOf = async (rid: string) => (await restaurants.item(rid, rid).read<Restaurant>()).resource;
    const live = createLiveOrders(undefined, silentLogger);
    // The topic's duplicate detection and the notifier's idempotency key would hide a second send:
    // count what the instances send (each a real sender of the system's bus).
    let sends = 0;
    const counted = (sender: Sender): Sender =>
      new Proxy(sender, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (key !== 'send') return typeof value === 'function' ? value.bind(target) : value;
          return (...args: Parameters<Sender['send']>) => {
            sends++;
            return target.send(...args);
          };
        },
      });
    const instance = (events = system.bus.createSender('orders')): Dispatch =>
      createDispatch({
        orders: db.container('orders'),
        positions: db.container('courier-positions'),
        locations: system.bus.createSender('locations'),
        restaurant: restaurantOf,
        live,
        clock,
        events: counted(events),
        arrivals: db.container('arrivals'),
      });
    const me: Principal = { id: courierId, role: 'courier', sessionId: 's' };
    const near = offset(DOOR, 0, -40); // about to arrive from the first position

    // Four API nodes get positions of one order at the same moment.
    const id = await pickedUp();
    const nodes = [instance(), instance(), instance(), instance()];
    await Promise.all(nodes.map((n) => n.position(me, id, near)));
    clock.advance(1_000);
    await Promise.all(nodes.map((n) => n.position(me, id, offset(near, 0, 5))));
    // A node that starts afterwards (its memory empty) finds the flag and sends nothing.
    await instance().position(me, id, offset(near, 0, 10));
    await waitFor(() => arrivingFor(id).length >= 1, { timeoutMs: 20_000, what: 'the push' });
    await drained();
    assert.equal(arrivingFor(id).length, 1);
    assert.equal(sends, 1, 'one instance sent the event');

    // A send that fails (the node's topic sender is closed) takes the flag back; the next position sends it.
    const other = await pickedUp();
    const broken = system.bus.createSender('orders');
    await broken.close();
    const failing = instance(broken);
    const reply = await failing.position(me, other, near);
    assert.equal(reply.orderId, other, 'the position goes through all the same');
    assert.equal((await db.container('arrivals').item(other, other).read()).resource, undefined);
    clock.advance(1_000);
    await instance().position(me, other, offset(near, 0, 5));
    await waitFor(() => arrivingFor(other).length >= 1, { timeoutMs: 20_000, what: 'the push after the failed one' });
    await drained();
    assert.equal(arrivingFor(other).length, 1);
    assert.equal(sends, 3, 'the failed send and the one after it');
  });
});
