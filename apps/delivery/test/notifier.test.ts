/**
 * The notifier end to end: startSystem on memory:// with the REST API part and the function app,
 * the system's real push service delivering by Web Push (VAPID, aes128gcm) to the local RFC 8030
 * endpoint of `@hubbub/push/testing`, for a browser installation of the customer registered with
 * the app's order-status template. Every status that matters reaches the customer's browser once
 * — a status event that comes again sends nothing — and the statuses that do not matter, and
 * other customers' orders, send nothing to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { startPushEndpoint } from '@hubbub/push/testing';
import { type RunningSystem, startSystem } from '@hubbub/system';
import { deliveryApp } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';
import { installationTemplates } from '../src/push-templates.ts';
import { createApiClient, DEMO_PASSWORD } from './api-client.ts';

const MARGHERITA = {
  restaurantId: 'pike-street-pizza',
  items: [{ itemId: 'margherita', quantity: 1 }],
  deliveryAddress: { lat: 47.62, lng: -122.315 },
};

let system: RunningSystem;
let endpoint: Awaited<ReturnType<typeof startPushEndpoint>>;
let enqueued = 0;

before(async () => {
  endpoint = await startPushEndpoint();
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
  system.push!.on('notification:enqueued', () => void enqueued++);
});
after(async () => {
  await system?.close();
  await endpoint?.close();
});

const client = () => createApiClient(system.url);
const call = (method: string, path: string, token: string | undefined, body?: unknown, headers = {}) =>
  client().call(method, path, { ...(token === undefined ? {} : { token }), body, headers });
const signUp = (email: string) => client().signUp(email);
const signIn = (email: string) => client().signIn(email);

let keys = 0;
async function order(token: string): Promise<string> {
  const key = `notifier-test-${++keys}-${Date.now()}`;
  return (await client().order(token, key, MARGHERITA)).body.id as string;
}

async function move(token: string, id: string, to: string, reason?: string) {
  const reply = await call('POST', `/api/v1/orders/${id}/transitions`, token, { to, ...(reason ? { reason } : {}) });
  assert.equal(reply.status, 200, `${to}: ${JSON.stringify(reply.body)}`);
}

/** The notifications subscription has nothing left: every event was handled (completed after its send). */
const drained = () =>
  waitFor(
    async () =>
      (await system.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'notifications' }))
        .activeMessageCount === 0,
    { timeoutMs: 20_000, what: 'the notifier to take every status event' },
  );

describe('the notifier', () => {
  let customer: { token: string; id: string };
  let restaurant: string;
  let courier: string;
  let sub: ReturnType<typeof endpoint.subscribe>;
  const received = () => sub.messages.map((m) => JSON.parse(m.text));

  before(async () => {
    customer = await signUp('notified@example.com');
    restaurant = await signIn('pike-street-pizza@example.com');
    courier = await signIn('courier@example.com');
    sub = endpoint.subscribe({ applicationServerKey: system.keys.push.vapid.publicKey });
    const { endpoint: url, keys: k } = sub.toJSON();
    await system.push!.upsertInstallation({
      installationId: 'notifier-test-browser',
      platform: 'browser',
      userId: customer.id,
      pushChannel: { endpoint: url, p256dh: k.p256dh, auth: k.auth },
      templates: installationTemplates(),
    });
  });

  it('pushes accepted, picked up and delivered to the customer, rendered by the installation template', async () => {
    const id = await order(customer.token);
    await move(restaurant, id, 'accepted');
    await move(restaurant, id, 'preparing');
    await move(restaurant, id, 'ready');
    await move(courier, id, 'picked_up');
    await move(courier, id, 'delivered');
    await waitFor(() => sub.messages.length >= 3, { timeoutMs: 20_000, what: 'three pushes' });
    await drained();
    const messages = received();
    assert.deepEqual(messages.map((m) => m.status).sort(), ['accepted', 'delivered', 'picked_up']);
    const accepted = messages.find((m) => m.status === 'accepted');
    assert.deepEqual(accepted, {
      title: 'Order accepted',
      body: `The restaurant accepted order ${id} and will start on it.`,
      url: `/notifications?order=${id}`,
      orderId: id,
      status: 'accepted',
    });
    // VAPID signed with the system's key; the template's Web Push headers went along.
    assert.equal(sub.messages[0]?.vapid.publicKey, system.keys.push.vapid.publicKey);
  });

  it('pushes a rejection with its reason (quotes and all) and a cancel', async () => {
    const before = sub.messages.length;
    const rejected = await order(customer.token);
    await move(restaurant, rejected, 'rejected', 'Out of "dough" today');
    const cancelled = await order(customer.token);
    assert.equal((await call('POST', `/api/v1/orders/${cancelled}/cancel`, customer.token)).status, 200);
    await waitFor(() => sub.messages.length >= before + 2, { timeoutMs: 20_000, what: 'two pushes' });
    const fresh = received().slice(before);
    const rejection = fresh.find((m) => m.orderId === rejected);
    assert.equal(rejection.status, 'rejected');
    assert.equal(rejection.body, `The restaurant could not take order ${rejected}: Out of "dough" today`);
    assert.equal(fresh.find((m) => m.orderId === cancelled).status, 'cancelled');
  });

  it('sends a status once: the same event again (another message id) sends nothing', async () => {
    const id = await order(customer.token);
    await move(restaurant, id, 'accepted');
    await waitFor(() => received().some((m) => m.orderId === id), { timeoutMs: 20_000, what: 'the push' });
    await drained();
    const sends = enqueued;
    const pushes = sub.messages.length;
    const sender = system.bus.createSender('orders');
    await sender.send({
      messageId: `again-${id}`,
      subject: 'accepted',
      contentType: 'application/json',
      body: { orderId: id, status: 'accepted', customerId: customer.id, restaurantId: 'pike-street-pizza' },
    });
    await sender.close();
    await waitFor(
      async () =>
        (await system.bus.admin.getRuntimeProperties({ topic: 'orders', subscription: 'notifications' }))
          .activeMessageCount === 0 && enqueued === sends,
      { timeoutMs: 20_000, what: 'the repeated event to be handled' },
    );
    await drained();
    assert.equal(enqueued, sends, 'no second send');
    assert.equal(sub.messages.length, pushes);
  });

  it("sends nothing for statuses that do not matter, nor to another customer's browser", async () => {
    const other = await signUp('not-notified@example.com');
    const sends = enqueued;
    const pushes = sub.messages.length;
    const id = await order(other.token); // placed: not a push
    await move(restaurant, id, 'accepted'); // a push, to the other customer's installations (none)
    await move(restaurant, id, 'preparing');
    await waitFor(() => enqueued > sends, { timeoutMs: 20_000, what: "the other customer's send" });
    await drained();
    assert.equal(enqueued, sends + 1, 'accepted only');
    assert.equal(sub.messages.length, pushes);
  });

  it('dead-letters a message that is no status event', async () => {
    const sender = system.bus.createSender('orders');
    await sender.send({
      messageId: 'not-an-event',
      subject: 'accepted',
      body: { orderId: 'x} || y', status: 'accepted' },
    });
    await sender.close();
    const dlq = system.bus.createReceiver({ topic: 'orders', subscription: 'notifications', subQueue: 'deadLetter' });
    const [dead] = await waitFor(
      async () => {
        const got = await dlq.receiveMessages(1, { maxWaitTimeMs: 200 });
        return got.length > 0 ? got : undefined;
      },
      { timeoutMs: 60_000, what: 'the dead-lettered message' },
    );
    assert.equal(dead?.messageId, 'not-an-event');
    await dead?.complete();
    await dlq.close();
  });
});
