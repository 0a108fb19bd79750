import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { createBusHttpHandler, createSasToken, type SasKey } from '../src/http/index.ts';
import { type Bus, openBus } from '../src/index.ts';

// Every route of the keyed HTTP API refuses every kind of bad credential with 401
// BUS_UNAUTHORIZED and leaves the data as it was: one case per (route, credential), so a route
// that skipped the check would fail here even though the others still hold.

const root: SasKey = { name: 'RootManageSharedAccessKey', key: 'c2VjcmV0' };

let bus: Bus;
let server: Server;
let base: string;
let clock: ManualClock;
/** Location of a message peek-locked (with a valid token) before the cases run. */
let locked: string;

const token = (resource: string, key: SasKey = root, expiresIn = 3600): string =>
  createSasToken(resource, key, clock.now() / 1000 + expiresIn);

const credentials: Array<[string, () => Record<string, string>]> = [
  ['no Authorization header', () => ({})],
  ['a forged signature', () => ({ authorization: token(base, { name: root.name, key: 'not-the-key' }) })],
  ['an expired token', () => ({ authorization: token(base, root, -10) })],
  ['an unknown key name', () => ({ authorization: token(base, { name: 'Nobody', key: root.key }) })],
  ['a token for another entity', () => ({ authorization: token(`${base}/payments`) })],
];

const ifMatch = { 'if-match': '*' };
const routes: Array<
  [name: string, method: string, url: () => string, body?: string, headers?: Record<string, string>]
> = [
  ['peek', 'GET', () => `${base}/orders/messages?count=10`],
  ['send', 'POST', () => `${base}/orders/messages`, 'intruder'],
  ['receive-and-delete', 'DELETE', () => `${base}/orders/messages/head?timeout=0`],
  ['peek-lock receive', 'POST', () => `${base}/orders/messages/head?timeout=0`],
  ['complete', 'DELETE', () => locked],
  ['abandon', 'PUT', () => locked],
  ['renew lock', 'POST', () => locked],
  ['read queue', 'GET', () => `${base}/orders`],
  ['create queue', 'PUT', () => `${base}/intruder`, '{}'],
  ['update queue', 'PUT', () => `${base}/orders`, '{"maxDeliveryCount":1}', ifMatch],
  ['delete queue', 'DELETE', () => `${base}/orders`],
  ['read topic', 'GET', () => `${base}/events`],
  ['delete topic', 'DELETE', () => `${base}/events`],
  ['list subscriptions', 'GET', () => `${base}/events/subscriptions`],
  ['read subscription', 'GET', () => `${base}/events/subscriptions/all`],
  ['create subscription', 'PUT', () => `${base}/events/subscriptions/intruder`, '{}'],
  ['update subscription', 'PUT', () => `${base}/events/subscriptions/all`, '{"maxDeliveryCount":1}', ifMatch],
  ['delete subscription', 'DELETE', () => `${base}/events/subscriptions/all`],
  ['list rules', 'GET', () => `${base}/events/subscriptions/all/rules`],
  ['read rule', 'GET', () => `${base}/events/subscriptions/all/rules/vip`],
  ['create rule', 'PUT', () => `${base}/events/subscriptions/all/rules/intruder`, '{"filter":{"kind":"true"}}'],
  ['delete rule', 'DELETE', () => `${base}/events/subscriptions/all/rules/vip`],
  ['list queues', 'GET', () => `${base}/$Resources/Queues`],
  ['list topics', 'GET', () => `${base}/$Resources/Topics`],
  ['overview', 'GET', () => `${base}/`],
];

/** Everything a request could change: entities, their properties, rules, and every message. */
async function snapshot(): Promise<unknown> {
  const messages = async (path: string) =>
    (await bus.broker.peek(path, { maxMessageCount: 100 })).map(({ msg }) => ({
      seq: msg.seq,
      body: Buffer.from(msg.body).toString(),
      deliveryCount: msg.deliveryCount,
      state: msg.state,
    }));
  return {
    queues: await bus.admin.listQueues(),
    topics: await bus.admin.listTopics(),
    subscriptions: await bus.admin.listSubscriptions('events'),
    rules: await bus.admin.listRules('events', 'all'),
    orders: await messages('orders'),
    held: await messages('held'),
    all: await messages('events/subscriptions/all'),
  };
}

describe('bus HTTP API: every route refuses bad credentials and changes nothing', () => {
  before(async () => {
    clock = new ManualClock(Date.now());
    bus = await openBus({
      url: 'memory://',
      clock,
      entities: {
        queues: [{ name: 'orders' }, { name: 'held' }],
        topics: [
          {
            name: 'events',
            subscriptions: [
              { name: 'all', rules: [{ name: 'vip', filter: { kind: 'sql', expression: 'vip = TRUE' } }] },
            ],
          },
        ],
      },
    });
    const handler = createBusHttpHandler(bus, { clock, keys: [root] });
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    await bus.createSender('orders').send({ body: 'order-1' });
    await bus.createSender('held').send({ body: 'held-1' });
    await bus.createSender('events').send({ body: 'event-1', applicationProperties: { vip: true } });
    const got = await fetch(`${base}/held/messages/head?timeout=0`, {
      method: 'POST',
      headers: { authorization: token(base) },
    });
    assert.equal(got.status, 201);
    locked = got.headers.get('location')!;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await bus.close();
  });

  for (const [route, method, url, body, headers] of routes) {
    for (const [credential, auth] of credentials) {
      it(`${method} ${route} with ${credential}: 401 BUS_UNAUTHORIZED, data intact`, async () => {
        const before = await snapshot();
        const res = await fetch(url(), { method, headers: { ...headers, ...auth() }, ...(body ? { body } : {}) });
        assert.equal(res.status, 401, `expected 401, got ${res.status} ${await res.clone().text()}`);
        assert.equal(res.headers.get('www-authenticate'), 'SharedAccessSignature');
        assert.equal(((await res.json()) as { code: string }).code, 'BUS_UNAUTHORIZED');
        assert.deepEqual(await snapshot(), before);
      });
    }
  }

  it('still serves a valid token afterwards: the lock held, every message is there', async () => {
    const authorization = token(base);
    const peeked = await fetch(`${base}/orders/messages?count=10`, { headers: { authorization } });
    assert.deepEqual(
      ((await peeked.json()) as Array<{ Body: string }>).map((m) => m.Body),
      ['order-1'],
    );
    assert.equal((await fetch(`${base}/$Resources/Queues`, { headers: { authorization } })).status, 200);
    assert.equal((await fetch(locked, { method: 'DELETE', headers: { authorization } })).status, 200);
    const rule = await fetch(`${base}/events/subscriptions/all/rules/vip`, { headers: { authorization } });
    assert.equal(rule.status, 200);
  });
});
