/**
 * The delivery REST API through real HTTP against startSystem on memory:// store and bus: every
 * route, the bad inputs of each (bodies naming the field, unknown ids, wrong content type, oversized
 * bodies, forged and expired sessions), the idempotent create, the processor writing what the API
 * accepted, the status machine and concurrent transitions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { type ApiSystem, startApiSystem } from './api-client.ts';

let api: ApiSystem;
before(async () => {
  api = await startApiSystem();
});
after(async () => {
  await api?.[Symbol.asyncDispose]();
});

describe('restaurants and menus', () => {
  it('lists the demo restaurants, each with its menu, without auth', async () => {
    const list = await api.call('GET', '/api/v1/restaurants');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((r: { id: string }) => r.id),
      ['15th-ave-tacos', 'broadway-noodle-bar', 'pike-street-pizza'],
    );
    assert.equal(list.body.items[0].menu, undefined, 'the list leaves menus out');
    const one = await api.call('GET', '/api/v1/restaurants/pike-street-pizza');
    assert.equal(one.status, 200);
    assert.equal(one.body.name, 'Pike Street Pizza');
    assert.equal(one.body._etag, undefined);
    assert.equal(one.body.deliveryArea, undefined);
    const menu = await api.call('GET', '/api/v1/restaurants/pike-street-pizza/menu');
    assert.equal(menu.status, 200);
    assert.ok(
      menu.body.items.some((i: { id: string; priceCents: number }) => i.id === 'margherita' && i.priceCents === 1400),
    );
  });

  it('serves restaurants and menus through the cache: a change in the store shows once the entry goes', async () => {
    const before = await api.call('GET', '/api/v1/restaurants/broadway-noodle-bar/menu');
    const container = api.store.database('delivery').container('restaurants');
    const { resource } = await container.item('broadway-noodle-bar', 'broadway-noodle-bar').read<{ name: string }>();
    const { _etag, _ts, ...doc } = resource as unknown as Record<string, unknown>;
    await container.items.upsert({ ...doc, name: 'Renamed Noodle Bar' });
    const cached = await api.call('GET', '/api/v1/restaurants/broadway-noodle-bar');
    assert.equal(cached.body.name, 'Broadway Noodle Bar', 'read from the cache');
    assert.deepEqual((await api.call('GET', '/api/v1/restaurants/broadway-noodle-bar/menu')).body, before.body);
    await api.cache.delete('delivery:restaurant:broadway-noodle-bar');
    assert.equal((await api.call('GET', '/api/v1/restaurants/broadway-noodle-bar')).body.name, 'Renamed Noodle Bar');
    await container.items.upsert(doc);
    await api.cache.delete('delivery:restaurant:broadway-noodle-bar');
  });

  it('answers 404 for an unknown restaurant or route, 405 with Allow for a wrong method', async () => {
    for (const path of [
      '/api/v1/restaurants/nope',
      '/api/v1/restaurants/nope/menu',
      '/api/v1/restaurants/a%2Fb',
      '/api/v1/orders/x/y/z',
    ]) {
      const reply = await api.call('GET', path);
      assert.equal(reply.status, 404, path);
      assert.equal(reply.body.code, 'DELIVERY_NOT_FOUND', path);
    }
    const bad = await api.call('GET', '/api/v1/restaurants/%E0%A4%A');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'KERNEL_BAD_URL');
    const wrong = await api.call('DELETE', '/api/v1/restaurants');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.body.code, 'DELIVERY_METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.get('allow'), 'GET');
  });

  it('leaves the SignalR REST API and the functions their /api paths', async () => {
    assert.equal((await api.call('GET', '/api/v1/health')).status, 200);
    const negotiate = await api.call('POST', '/api/negotiate?orderid=1001');
    assert.equal(negotiate.body.code, 'DELIVERY_TRACKING_TOKEN_REQUIRED');
  });
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1, generated from the schemas the routes validate with', async () => {
    const reply = await api.call('GET', '/api/openapi.json');
    assert.equal(reply.status, 200);
    const doc = reply.body;
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/api/v1/account',
      '/api/v1/courier/deliveries',
      '/api/v1/courier/offers',
      '/api/v1/live/negotiate',
      '/api/v1/operations/overview',
      '/api/v1/orders',
      '/api/v1/orders/{orderId}',
      '/api/v1/orders/{orderId}/assignment',
      '/api/v1/orders/{orderId}/cancel',
      '/api/v1/orders/{orderId}/location',
      '/api/v1/orders/{orderId}/negotiate',
      '/api/v1/orders/{orderId}/transitions',
      '/api/v1/push/installations/{installationId}',
      '/api/v1/restaurants',
      '/api/v1/restaurants/{restaurantId}',
      '/api/v1/restaurants/{restaurantId}/menu',
      '/api/v1/restaurants/{restaurantId}/orders',
      '/api/v1/session',
    ]);
    const offers = doc.paths['/api/v1/courier/offers'].get.parameters;
    assert.deepEqual(
      offers.map((p: { name: string }) => p.name),
      ['lat', 'lng', 'limit'],
    );
    assert.equal(doc.components.schemas.CourierPosition.additionalProperties, false);
    const create = doc.components.schemas.OrderCreate;
    assert.deepEqual(create.required.sort(), ['deliveryAddress', 'items', 'restaurantId']);
    assert.equal(create.additionalProperties, false);
    assert.equal(create.properties.items.items.properties.quantity.maximum, 50);
    assert.equal(doc.components.schemas.SignUp.properties.password.minLength, 8);
    const list = doc.paths['/api/v1/orders'].get.parameters;
    assert.deepEqual(
      list.map((p: { name: string }) => p.name),
      ['limit', 'cursor', 'status'],
    );
    assert.equal(list[0].schema.maximum, 100);
    assert.ok(list[2].schema.enum.includes('picked_up'));
    // Every $ref resolves to a component.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z]+/g) ?? [];
    for (const ref of new Set(refs)) assert.ok(doc.components.schemas[ref.split('/').at(-1)!], ref);
  });
});

describe('accounts and sessions', () => {
  it('signs a customer up and in: a bearer token and an HttpOnly SameSite=Lax cookie', async () => {
    const reply = await api.call('POST', '/api/v1/account', {
      body: { email: 'Dana@Example.com', password: 'correct horse battery', name: 'Dana' },
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.body.account.role, 'customer');
    assert.equal(reply.body.account.email, 'dana@example.com');
    assert.equal(reply.body.account.passwordHash, undefined);
    const cookie = reply.headers.get('set-cookie')!;
    assert.match(cookie, /^hubbub_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Lax; Path=\/; Max-Age=604800$/);
    const bearer = await api.call('GET', '/api/v1/account', { token: reply.body.token });
    assert.equal(bearer.status, 200);
    assert.equal(bearer.body.id, reply.body.account.id);
    const viaCookie = await api.call('GET', '/api/v1/account', { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(viaCookie.status, 200);
    const again = await api.call('POST', '/api/v1/account', {
      body: { email: 'dana@example.com', password: 'another password', name: 'Dana 2' },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'DELIVERY_EMAIL_TAKEN');
    const signIn = await api.call('POST', '/api/v1/session', {
      body: { email: 'dana@example.com', password: 'correct horse battery' },
    });
    assert.equal(signIn.status, 201);
    assert.notEqual(signIn.body.token, reply.body.token);
  });

  it('names the bad field of an invalid body; refuses other content types, bad JSON and oversized bodies', async () => {
    const cases: [unknown, string][] = [
      [{ password: 'correct horse battery', name: 'x' }, 'email'],
      [{ email: 'not-an-email', password: 'correct horse battery', name: 'x' }, 'email'],
      [{ email: 'e@example.com', password: 'short', name: 'x' }, 'password'],
      [{ email: 'e@example.com', password: 'correct horse battery', name: '   ' }, 'name'],
      [{ email: 'e@example.com', password: 'correct horse battery', name: 'x', role: 'operator' }, 'role'],
      [[1, 2], ''],
    ];
    for (const [body, field] of cases) {
      const reply = await api.call('POST', '/api/v1/account', { body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.body.code, 'DELIVERY_INVALID_BODY');
      assert.equal(reply.body.detail.field, field, JSON.stringify(body));
    }
    const text = await api.call('POST', '/api/v1/session', { raw: '{}', headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 415);
    assert.equal(text.body.code, 'DELIVERY_UNSUPPORTED_MEDIA_TYPE');
    const none = await api.call('POST', '/api/v1/session', { raw: '{}' });
    assert.equal(none.body.code, 'DELIVERY_UNSUPPORTED_MEDIA_TYPE');
    const json = await api.call('POST', '/api/v1/session', {
      raw: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(json.status, 400);
    assert.equal(json.body.code, 'DELIVERY_INVALID_JSON');
    const big = await api.call('POST', '/api/v1/account', {
      raw: JSON.stringify({ email: 'e@example.com', password: 'x'.repeat(100_000), name: 'x' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'KERNEL_BODY_TOO_LARGE');
    assert.equal((await api.call('GET', '/api/v1/restaurants')).status, 200, 'the server is fine');
  });

  it('refuses a missing, malformed, forged or signed-out session with 401', async () => {
    const { token } = await api.signUp('signout@example.com');
    const reasons: [Record<string, string>, string][] = [
      [{}, 'missing'],
      [{ authorization: 'Bearer short' }, 'malformed'],
      [{ authorization: 'Basic abc' }, 'malformed'],
      [{ authorization: `Bearer ${'A'.repeat(43)}` }, 'unknown'],
      [{ cookie: `hubbub_session=${'B'.repeat(43)}` }, 'unknown'],
    ];
    for (const [headers, reason] of reasons) {
      const reply = await api.call('GET', '/api/v1/account', { headers });
      assert.equal(reply.status, 401, JSON.stringify(headers));
      assert.equal(reply.body.code, 'DELIVERY_UNAUTHORIZED');
      assert.equal(reply.body.detail.reason, reason, JSON.stringify(headers));
    }
    const out = await api.call('DELETE', '/api/v1/session', { token });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie')!, /^hubbub_session=; .*Max-Age=0/);
    const after = await api.call('GET', '/api/v1/account', { token });
    assert.equal(after.status, 401);
    assert.equal(after.body.detail.reason, 'unknown');
  });

  it('answers a wrong password and an unknown email alike, and rate-limits failed sign-ins', async () => {
    await api.signUp('limited@example.com');
    const wrong = await api.call('POST', '/api/v1/session', {
      body: { email: 'limited@example.com', password: 'wrong password' },
    });
    const unknown = await api.call('POST', '/api/v1/session', {
      body: { email: 'nobody@example.com', password: 'wrong password' },
    });
    for (const reply of [wrong, unknown]) {
      assert.equal(reply.status, 401);
      assert.equal(reply.body.code, 'DELIVERY_INVALID_CREDENTIALS');
    }
    let limited: Awaited<ReturnType<ApiSystem['call']>> | undefined;
    for (let i = 0; i < 12 && limited === undefined; i++) {
      const reply = await api.call('POST', '/api/v1/session', {
        body: { email: 'limited@example.com', password: 'wrong again' },
      });
      if (reply.status === 429) limited = reply;
      else assert.equal(reply.status, 401);
    }
    assert.ok(limited, 'the failures were rate-limited');
    assert.equal(limited.body.code, 'KERNEL_RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});

describe('the session cookie', () => {
  it('is refused for a change from another origin; the same change from this one goes through', async () => {
    const reply = await api.call('POST', '/api/v1/account', {
      body: { email: 'cookie@example.com', password: 'correct horse battery', name: 'Cookie' },
    });
    const cookie = reply.headers.get('set-cookie')!.split(';')[0]!;
    const foreign = await api.call('DELETE', '/api/v1/session', { headers: { cookie, origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.code, 'DELIVERY_CROSS_ORIGIN');
    const ownPort = new URL(api.url).port;
    const own = await api.call('DELETE', '/api/v1/session', {
      headers: { cookie, origin: `http://localhost:${ownPort}` },
    });
    assert.equal(own.status, 204);
  });
});

describe('an expired session', () => {
  it('is refused with 401 reason expired', async () => {
    const clock = new ManualClock(Date.now());
    await using system = await startApiSystem({ clock, sessionTtlSeconds: 60, demo: false });
    const { token } = await system.signUp('expiring@example.com');
    assert.equal((await system.call('GET', '/api/v1/account', { token })).status, 200);
    clock.advance(61_000);
    const reply = await system.call('GET', '/api/v1/account', { token });
    assert.equal(reply.status, 401);
    assert.equal(reply.body.code, 'DELIVERY_UNAUTHORIZED');
    assert.equal(reply.body.detail.reason, 'expired');
  });
});
