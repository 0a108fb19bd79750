/**
 * Web Push opt-in through the REST API against startSystem (memory store and bus, the system's
 * real push service): `PUT /api/v1/push/installations/{id}` makes a browser installation carrying
 * the signed-in customer's id and the order-status template, updates it, and refuses another
 * customer the same id; GET and DELETE see only the customer's own; bad subscriptions are refused
 * naming the field; a server without push answers DELIVERY_PUSH_UNAVAILABLE.
 */
import assert from 'node:assert/strict';
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import type { PushService } from '@hubbub/push';
import { startSystem } from '@hubbub/system';
import { deliveryApp } from '../src/index.ts';
import { deliveryApiPart } from '../src/orders/index.ts';
import { isPublicEndpoint } from '../src/orders/push.ts';
import { customerTag, ORDER_STATUS_TEMPLATE } from '../src/push-templates.ts';
import { type ApiSystem, startApiSystem } from './api-client.ts';

let api: ApiSystem;
let push: PushService;
let alice: { token: string; id: string };
let bob: { token: string; id: string };

/** A subscription as a browser makes it: a fresh P-256 key and auth secret, an FCM-like endpoint. */
function subscription(endpoint = `https://fcm.googleapis.com/fcm/send/${randomUUID()}`) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

const path = (id: string) => `/api/v1/push/installations/${id}`;
const put = (token: string, id: string, body: unknown) => api.call('PUT', path(id), { token, body });

before(async () => {
  api = await startApiSystem();
  push = api.push!;
  alice = await api.signUp('push-alice@example.com');
  bob = await api.signUp('push-bob@example.com');
});
after(async () => {
  await api?.[Symbol.asyncDispose]();
});

describe('registering a browser for push', () => {
  it('creates the installation with the customer’s user id and the order-status template, then updates it', async () => {
    const id = randomUUID();
    const first = subscription();
    const created = await put(alice.token, id, first);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.installationId, id);
    assert.equal(created.body.userId, alice.id);
    assert.equal(created.body.endpointOrigin, 'https://fcm.googleapis.com');
    assert.deepEqual(created.body.templates, [ORDER_STATUS_TEMPLATE]);
    assert.equal(created.body.pushChannelExpired, false);
    assert.equal(JSON.stringify(created.body).includes(first.keys.auth), false, 'keys are never answered');

    const stored = await push.getInstallation(id);
    assert.equal(stored?.platform, 'browser');
    assert.equal(stored?.userId, alice.id);
    assert.deepEqual(stored?.pushChannel, { endpoint: first.endpoint, ...first.keys });
    const expires = Date.parse(stored?.expirationTime ?? '');
    assert.ok(
      expires > Date.now() + 89 * 86_400_000 && expires <= Date.now() + 90 * 86_400_000,
      stored?.expirationTime,
    );
    const found = await push.listInstallations({ tag: customerTag(alice.id) });
    assert.deepEqual(
      found.installations.map((i) => i.installationId),
      [id],
    );

    // The browser renews its subscription: same id, new keys, and the subscription's own expiry.
    const second = { ...subscription(), expirationTime: Date.now() + 86_400_000 };
    const updated = await put(alice.token, id, second);
    assert.equal(updated.status, 200);
    const renewed = await push.getInstallation(id);
    assert.deepEqual(renewed?.pushChannel, { endpoint: second.endpoint, ...second.keys });
    assert.equal(renewed?.expirationTime, new Date(second.expirationTime).toISOString());

    const read = await api.call('GET', path(id), { token: alice.token });
    assert.equal(read.status, 200);
    assert.equal(read.body.lastUpdate, updated.body.lastUpdate);
  });

  it('does not let another customer overwrite, read or delete an installation', async () => {
    const id = randomUUID();
    const mine = subscription();
    assert.equal((await put(alice.token, id, mine)).status, 201);

    const taken = await put(bob.token, id, subscription());
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'DELIVERY_PUSH_INSTALLATION_TAKEN');
    assert.equal(taken.body.detail.installationId, id);
    assert.deepEqual((await push.getInstallation(id))?.pushChannel, { endpoint: mine.endpoint, ...mine.keys });
    assert.equal((await push.getInstallation(id))?.userId, alice.id);

    for (const method of ['GET', 'DELETE']) {
      const reply = await api.call(method, path(id), { token: bob.token });
      assert.equal(reply.status, 404, method);
      assert.equal(reply.body.code, 'DELIVERY_NOT_FOUND');
    }
    assert.ok(await push.getInstallation(id), 'still there after the other customer’s DELETE');

    // Racing PUTs of two customers for a fresh id: exactly one wins.
    const raced = randomUUID();
    const replies = await Promise.all([put(alice.token, raced, subscription()), put(bob.token, raced, subscription())]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409]);
    const winner = replies[0]!.status === 201 ? alice.id : bob.id;
    assert.equal((await push.getInstallation(raced))?.userId, winner);

    const removed = await api.call('DELETE', path(id), { token: alice.token });
    assert.equal(removed.status, 204);
    assert.equal(await push.getInstallation(id), undefined);
    assert.equal((await api.call('GET', path(id), { token: alice.token })).status, 404);
    assert.equal((await api.call('DELETE', path(id), { token: alice.token })).status, 404);
  });

  it('needs a customer’s session', async () => {
    const id = randomUUID();
    const anonymous = await api.call('PUT', path(id), { body: subscription() });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'DELIVERY_UNAUTHORIZED');
    const courier = await api.signIn('courier@example.com');
    const forbidden = await put(courier, id, subscription());
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.code, 'DELIVERY_FORBIDDEN');
    assert.equal(await push.getInstallation(id), undefined);
    const wrongMethod = await api.call('POST', path(id), { token: alice.token, body: subscription() });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'PUT, GET, DELETE');
  });

  it('refuses bad ids and subscriptions, naming the field, and keeps nothing', async () => {
    const good = subscription();
    const offCurve = Buffer.alloc(65, 7);
    offCurve[0] = 4;
    const cases: [string, unknown, string][] = [
      ['short-id', good, 'installationId'],
      [`${'x'.repeat(65)}`, good, 'installationId'],
      [randomUUID(), { ...good, endpoint: 'http://fcm.googleapis.com/fcm/send/x' }, 'endpoint'],
      [randomUUID(), { ...good, endpoint: 'https://127.0.0.1:8443/push/x' }, 'endpoint'],
      [randomUUID(), { ...good, endpoint: 'https://[::1]/push/x' }, 'endpoint'],
      [randomUUID(), { ...good, endpoint: 'https://10.1.2.3/push/x' }, 'endpoint'],
      [randomUUID(), { ...good, endpoint: 'https://push.localhost/x' }, 'endpoint'],
      [randomUUID(), { ...good, endpoint: `https://fcm.googleapis.com/${'a'.repeat(2048)}` }, 'endpoint'],
      [randomUUID(), { ...good, keys: { ...good.keys, p256dh: good.keys.auth } }, 'keys.p256dh'],
      [randomUUID(), { ...good, keys: { ...good.keys, p256dh: offCurve.toString('base64url') } }, 'keys.p256dh'],
      [randomUUID(), { ...good, keys: { ...good.keys, auth: 'not base64url!' } }, 'keys.auth'],
      [randomUUID(), { ...good, keys: { p256dh: good.keys.p256dh } }, 'keys.auth'],
      [randomUUID(), { ...good, extra: true }, 'extra'],
      [randomUUID(), { ...good, expirationTime: 'tomorrow' }, 'expirationTime'],
      [randomUUID(), { ...good, expirationTime: Date.now() - 1_000 }, 'expirationTime'],
    ];
    for (const [id, body, field] of cases) {
      const reply = await put(alice.token, id, body);
      assert.equal(reply.status, 400, `${field}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.code, 'DELIVERY_INVALID_BODY');
      assert.equal(reply.body.detail.field, field, JSON.stringify(reply.body));
      if (id.length === 36) assert.equal(await push.getInstallation(id), undefined);
    }
    const notJson = await api.call('PUT', path(randomUUID()), {
      token: alice.token,
      raw: '{"endpoint":',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(notJson.body.code, 'DELIVERY_INVALID_JSON');
    const text = await api.call('PUT', path(randomUUID()), { token: alice.token, raw: 'x' });
    assert.equal(text.status, 415);
  });

  it('keeps ten installations per customer, evicting the least recently updated', async () => {
    const carol = await api.signUp('push-carol@example.com');
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) {
      const id = `carol-browser-${String(i).padStart(4, '0')}`;
      ids.push(id);
      assert.equal((await put(carol.token, id, subscription())).status, 201);
      if (i === 0) assert.equal((await put(carol.token, id, subscription())).status, 200); // still the oldest
    }
    const { installations } = await push.listInstallations({ tag: customerTag(carol.id) });
    assert.deepEqual(
      installations.map((i) => i.installationId),
      ids.slice(1),
    );
  });

  it('tells public push services from loopback, private and link-local addresses', () => {
    for (const url of [
      'https://fcm.googleapis.com/x',
      'https://updates.push.services.mozilla.com/x',
      'https://8.8.8.8/',
    ]) {
      assert.equal(isPublicEndpoint(new URL(url)), true, url);
    }
    for (const url of [
      'https://localhost/',
      'https://127.1.2.3/',
      'https://192.168.0.4/',
      'https://172.20.0.1/',
      'https://169.254.169.254/',
      'https://[::1]/',
      'https://[fe80::1]/',
      'https://[fd00::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://0.0.0.0/',
    ]) {
      assert.equal(isPublicEndpoint(new URL(url)), false, url);
    }
  });
});

describe('a server without push', () => {
  it('answers DELIVERY_PUSH_UNAVAILABLE', async () => {
    const system = await startSystem({
      port: 0,
      push: false,
      amqpPort: false,
      pages: deliveryApp.webFiles,
      parts: [deliveryApiPart()],
      logger: silentLogger,
    });
    try {
      const signUp = await fetch(`${system.url}/api/v1/account`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'no-push@example.com', password: 'correct horse battery', name: 'N' }),
      });
      const { token } = (await signUp.json()) as { token: string };
      const reply = await fetch(`${system.url}${path(randomUUID())}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(subscription()),
      });
      assert.equal(reply.status, 503);
      assert.equal(((await reply.json()) as { code: string }).code, 'DELIVERY_PUSH_UNAVAILABLE');
    } finally {
      await system.close();
    }
  });
});

describe('the OpenAPI document', () => {
  it('describes the installation route with the schema the PUT validates with', async () => {
    const doc = (await api.call('GET', '/api/openapi.json')).body;
    const route = doc.paths['/api/v1/push/installations/{installationId}'];
    assert.deepEqual(Object.keys(route).sort(), ['delete', 'get', 'parameters', 'put']);
    assert.equal(
      route.put.requestBody.content['application/json'].schema.$ref,
      '#/components/schemas/PushSubscription',
    );
    const schema = doc.components.schemas.PushSubscription;
    assert.deepEqual(schema.required.sort(), ['endpoint', 'keys']);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.endpoint.maxLength, 2048);
    assert.ok(doc.components.schemas.PushInstallation.properties.pushChannelExpired);
  });
});
