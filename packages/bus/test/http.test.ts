import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import type { LocalBroker } from '../src/broker/local-broker.ts';
import { type BusHttpOptions, createBusHttpHandler, createSasToken } from '../src/http/index.ts';
import { type Bus, openBus } from '../src/index.ts';

interface Peeked {
  Body: string;
  BodyEncoding?: string;
  BrokerProperties: Record<string, unknown>;
  UserProperties: Record<string, unknown>;
}
type WithRuntime = { maxDeliveryCount: number; runtime: { activeMessageCount: number } };

interface Harness {
  bus: Bus;
  server: Server;
  base: string;
  clock: ManualClock;
}

async function start(options: BusHttpOptions = {}, withNext = false): Promise<Harness> {
  const clock = new ManualClock(Date.now());
  const bus = await openBus({
    url: 'memory://',
    clock,
    entities: {
      queues: [{ name: 'orders' }, { name: 'small', maxMessageSizeInKilobytes: 1 }],
      topics: [{ name: 'events', subscriptions: [{ name: 'all' }] }],
    },
  });
  const handler = createBusHttpHandler(bus, { clock, ...options });
  const server = createServer((req, res) => {
    if (withNext) {
      handler(req, res, () => {
        res.writeHead(299);
        res.end('next');
      });
    } else handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { bus, server, base: `http://127.0.0.1:${port}${options.basePath ?? ''}`, clock };
}

async function stop(h: Harness): Promise<void> {
  await new Promise<void>((resolve) => h.server.close(() => resolve()));
  await h.bus.close();
}

async function expectError(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${await res.clone().text()}`);
  const body = (await res.json()) as { code: string; message: string; detail: Record<string, unknown> };
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
  assert.equal(typeof body.detail, 'object');
  return body.detail;
}

const brokerProps = (res: Response): Record<string, unknown> =>
  JSON.parse(res.headers.get('brokerproperties') ?? '{}') as Record<string, unknown>;

describe('bus HTTP API: messages', () => {
  let h: Harness;
  before(async () => {
    h = await start();
  });
  after(() => stop(h));

  it('sends with BrokerProperties and custom headers, peek-locks (201) and completes via Location', async () => {
    const body = JSON.stringify({ orderid: 1, storeid: 7, lat: 1.5, longitude: 2.5 });
    const sent = await fetch(`${h.base}/orders/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        brokerproperties: JSON.stringify({ Label: 'driveby', MessageId: 'm-1', CorrelationId: 'c-1' }),
        storeid: '7',
        priority: '"high"',
      },
      body,
    });
    assert.equal(sent.status, 201);

    const got = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'POST' });
    assert.equal(got.status, 201);
    assert.equal(await got.text(), body);
    assert.equal(got.headers.get('content-type'), 'application/json');
    assert.equal(got.headers.get('storeid'), '7');
    assert.equal(got.headers.get('priority'), '"high"');
    const bp = brokerProps(got);
    assert.equal(bp.Label, 'driveby');
    assert.equal(bp.MessageId, 'm-1');
    assert.equal(bp.CorrelationId, 'c-1');
    assert.equal(bp.DeliveryCount, 1, 'the broker counts this delivery, as Service Bus REST does');
    assert.equal(typeof bp.SequenceNumber, 'number');
    assert.equal(typeof bp.LockToken, 'string');
    assert.equal(typeof bp.LockedUntilUtc, 'string');
    const location = got.headers.get('location');
    assert.equal(location, `${h.base}/orders/messages/m-1/${bp.LockToken}`);

    assert.equal((await fetch(location!, { method: 'DELETE' })).status, 200);
    await expectError(await fetch(location!, { method: 'DELETE' }), 410, 'BUS_LOCK_LOST');
    assert.equal((await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'POST' })).status, 204);
  });

  it('receive-and-delete (DELETE head) answers 200, then 204 when empty', async () => {
    await fetch(`${h.base}/orders/messages`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    const got = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' });
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'hi');
    assert.equal(brokerProps(got).LockToken, undefined);
    assert.equal(got.headers.get('location'), null);
    assert.equal((await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' })).status, 204);
  });

  it('unlocks (PUT) for redelivery with a higher delivery count, and renews (POST) the lock', async () => {
    await fetch(`${h.base}/orders/messages`, { method: 'POST', body: 'again' });
    const first = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'POST' });
    const location = first.headers.get('location')!;
    const renewed = await fetch(location, { method: 'POST' });
    assert.equal(renewed.status, 200);
    assert.equal(typeof brokerProps(renewed).LockedUntilUtc, 'string');
    assert.equal((await fetch(location, { method: 'PUT' })).status, 200);
    await expectError(await fetch(location, { method: 'PUT' }), 410, 'BUS_LOCK_LOST');
    await expectError(await fetch(location, { method: 'POST' }), 410, 'BUS_LOCK_LOST');
    const second = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' });
    assert.equal(brokerProps(second).DeliveryCount, 2);
    assert.equal(await second.text(), 'again');
  });

  it('a lock that expired is lost', async () => {
    await fetch(`${h.base}/orders/messages`, { method: 'POST', body: 'slow' });
    const got = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'POST' });
    h.clock.advance(61_000);
    await expectError(await fetch(got.headers.get('location')!, { method: 'DELETE' }), 410, 'BUS_LOCK_LOST');
    const again = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' });
    assert.equal(await again.text(), 'slow');
  });

  it('long-polls until a message arrives', async () => {
    const waiting = fetch(`${h.base}/orders/messages/head?timeout=30`, { method: 'DELETE' });
    await fetch(`${h.base}/orders/messages`, { method: 'POST', body: 'late' });
    const got = await waiting;
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'late');
  });

  it('stops waiting when the client goes away, without taking a message', async () => {
    // The in-process broker's own view of the queue: its waiting receivers.
    const store = (h.bus.broker as LocalBroker).catalog.receivable('orders');
    const abort = new AbortController();
    const waiting = fetch(`${h.base}/orders/messages/head?timeout=30`, { method: 'POST', signal: abort.signal });
    await waitFor(() => store.waiters.size === 1, { what: 'a waiting receive' });
    abort.abort();
    await assert.rejects(waiting);
    await waitFor(() => store.waiters.size === 0, { what: 'the receive to stop' });
    await fetch(`${h.base}/orders/messages`, { method: 'POST', body: 'kept' });
    const got = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' });
    assert.equal(await got.text(), 'kept');
    assert.equal(brokerProps(got).DeliveryCount, 1);
  });

  it('honours ScheduledEnqueueTimeUtc and TimeToLive from BrokerProperties', async () => {
    const at = new Date(h.clock.now() + 60_000);
    const sent = await fetch(`${h.base}/orders/messages`, {
      method: 'POST',
      headers: { brokerproperties: JSON.stringify({ ScheduledEnqueueTimeUtc: at.toUTCString(), TimeToLive: 3600 }) },
      body: 'later',
    });
    assert.equal(sent.status, 201);
    assert.equal((await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' })).status, 204);
    const [peeked] = (await (await fetch(`${h.base}/orders/messages?count=1`)).json()) as Peeked[];
    assert.equal(peeked?.BrokerProperties.State, 'Scheduled');
    h.clock.advance(61_000);
    const got = await waitFor(async () => {
      const res = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' });
      return res.status === 200 ? res : undefined;
    });
    assert.equal(await got.text(), 'later');
    assert.equal(brokerProps(got).TimeToLive, 3600);
  });

  it('drops duplicates by MessageId on entities with duplicate detection', async () => {
    await h.bus.admin.createQueue('dedupe', { requiresDuplicateDetection: true });
    for (let i = 0; i < 2; i++) {
      const sent = await fetch(`${h.base}/dedupe/messages`, {
        method: 'POST',
        headers: { brokerproperties: JSON.stringify({ MessageId: 'same' }) },
        body: `copy ${i}`,
      });
      assert.equal(sent.status, 201);
    }
    const peeked = (await (await fetch(`${h.base}/dedupe/messages?count=10`)).json()) as Peeked[];
    assert.deepEqual(
      peeked.map((p) => p.Body),
      ['copy 0'],
    );
  });

  it('sends a JSON batch and peeks it (extension) in the same format', async () => {
    const batch = [
      {
        Body: '{"a":1}',
        BrokerProperties: { Label: 'one', ContentType: 'application/json' },
        UserProperties: { n: 1 },
      },
      { Body: 'plain', BrokerProperties: { MessageId: 'two' } },
      { Body: Buffer.from([0, 1, 2]).toString('base64'), BodyEncoding: 'base64' },
    ];
    const sent = await fetch(`${h.base}/orders/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.microsoft.servicebus.json' },
      body: JSON.stringify(batch),
    });
    assert.equal(sent.status, 201);
    const peeked = (await (await fetch(`${h.base}/orders/messages?count=10`)).json()) as Peeked[];
    assert.equal(peeked.length, 3);
    assert.equal(peeked[0]!.Body, '{"a":1}');
    assert.equal(peeked[0]!.BrokerProperties.Label, 'one');
    assert.deepEqual(peeked[0]!.UserProperties, { n: 1 });
    assert.equal(peeked[1]!.Body, 'plain');
    assert.equal(peeked[1]!.BrokerProperties.MessageId, 'two');
    assert.equal(peeked[2]!.BodyEncoding, 'base64');
    assert.deepEqual(Buffer.from(peeked[2]!.Body, 'base64'), Buffer.from([0, 1, 2]));
    const from = peeked[1]!.BrokerProperties.SequenceNumber;
    const later = (await (await fetch(`${h.base}/orders/messages?count=10&fromSequenceNumber=${from}`)).json()) as [];
    assert.equal(later.length, 2);
    // drain
    for (let i = 0; i < 3; i++) await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE' });
  });

  const badSends: Array<[string, RequestInit, number, string]> = [
    ['malformed BrokerProperties', { headers: { brokerproperties: '{oops' }, body: 'x' }, 400, 'BUS_INVALID_MESSAGE'],
    [
      'BrokerProperties of the wrong type',
      { headers: { brokerproperties: '{"MessageId":1}' }, body: 'x' },
      400,
      'BUS_INVALID_MESSAGE',
    ],
    [
      'malformed batch JSON',
      { headers: { 'content-type': 'application/vnd.microsoft.servicebus.json' }, body: '[{' },
      400,
      'BUS_INVALID_MESSAGE',
    ],
    [
      'batch that is not an array',
      { headers: { 'content-type': 'application/vnd.microsoft.servicebus.json' }, body: '{}' },
      400,
      'BUS_INVALID_MESSAGE',
    ],
    [
      'batch entry without Body',
      { headers: { 'content-type': 'application/vnd.microsoft.servicebus.json' }, body: '[{}]' },
      400,
      'BUS_INVALID_MESSAGE',
    ],
    [
      'empty batch body',
      { headers: { 'content-type': 'application/vnd.microsoft.servicebus.json' }, body: '' },
      400,
      'BUS_INVALID_MESSAGE',
    ],
    [
      'bad UserProperties',
      {
        headers: { 'content-type': 'application/vnd.microsoft.servicebus.json' },
        body: '[{"Body":"x","UserProperties":[1]}]',
      },
      400,
      'BUS_INVALID_MESSAGE',
    ],
  ];
  for (const [name, init, status, code] of badSends) {
    it(`rejects ${name} with ${status} ${code}`, async () => {
      await expectError(await fetch(`${h.base}/orders/messages`, { method: 'POST', ...init }), status, code);
    });
  }

  it('refuses messages larger than the entity allows (413) and accepts nothing', async () => {
    const detail = await expectError(
      await fetch(`${h.base}/small/messages`, { method: 'POST', body: 'x'.repeat(2048) }),
      413,
      'BUS_MESSAGE_TOO_LARGE',
    );
    assert.ok(detail);
    assert.equal((await fetch(`${h.base}/small/messages/head?timeout=0`, { method: 'DELETE' })).status, 204);
  });

  it('answers unknown entities with 404 BUS_ENTITY_NOT_FOUND', async () => {
    await expectError(
      await fetch(`${h.base}/nope/messages`, { method: 'POST', body: 'x' }),
      404,
      'BUS_ENTITY_NOT_FOUND',
    );
    await expectError(await fetch(`${h.base}/nope/messages/head`, { method: 'POST' }), 404, 'BUS_ENTITY_NOT_FOUND');
    await expectError(await fetch(`${h.base}/nope/messages/1/abc`, { method: 'DELETE' }), 404, 'BUS_ENTITY_NOT_FOUND');
    await expectError(await fetch(`${h.base}/nope/messages?count=1`), 404, 'BUS_ENTITY_NOT_FOUND');
    await expectError(await fetch(`${h.base}/nope`), 404, 'BUS_ENTITY_NOT_FOUND');
  });

  it('answers bad lock tokens with 410 BUS_LOCK_LOST', async () => {
    await expectError(
      await fetch(`${h.base}/orders/messages/1/not-a-token`, { method: 'DELETE' }),
      410,
      'BUS_LOCK_LOST',
    );
  });

  it('rejects bad receive and peek parameters', async () => {
    await expectError(
      await fetch(`${h.base}/orders/messages/head?timeout=soon`, { method: 'POST' }),
      400,
      'BUS_INVALID_OPTION',
    );
    await expectError(
      await fetch(`${h.base}/orders/messages/head?timeout=-1`, { method: 'DELETE' }),
      400,
      'BUS_INVALID_OPTION',
    );
    await expectError(await fetch(`${h.base}/orders/messages?count=0`), 400, 'BUS_INVALID_OPTION');
    await expectError(await fetch(`${h.base}/orders/messages?count=1&fromSequenceNumber=x`), 400, 'BUS_INVALID_OPTION');
  });

  it('answers unknown routes 404 and wrong methods 405', async () => {
    await expectError(await fetch(`${h.base}/`, { method: 'POST' }), 405, 'BUS_METHOD_NOT_ALLOWED');
    await expectError(await fetch(`${h.base}/$Resources/Things`), 404, 'BUS_ROUTE_NOT_FOUND');
    await expectError(await fetch(`${h.base}/%E0%A4%A/messages`, { method: 'POST' }), 404, 'BUS_ROUTE_NOT_FOUND');
    const res = await fetch(`${h.base}/orders/messages/head`, { method: 'GET' });
    assert.equal(res.headers.get('allow'), 'POST, DELETE');
    await expectError(res, 405, 'BUS_METHOD_NOT_ALLOWED');
    await expectError(await fetch(`${h.base}/orders/messages`, { method: 'DELETE' }), 405, 'BUS_METHOD_NOT_ALLOWED');
  });

  it('receives from a session entity only through sessions (400)', async () => {
    await h.bus.admin.createQueue('sessions', { requiresSession: true });
    await expectError(
      await fetch(`${h.base}/sessions/messages/head?timeout=0`, { method: 'POST' }),
      400,
      'BUS_INVALID_OPERATION',
    );
  });
});

describe('bus HTTP API: management and topics', () => {
  let h: Harness;
  before(async () => {
    h = await start();
  });
  after(() => stop(h));

  it('GET on the base path lists every queue, topic and subscription with its counts', async () => {
    await h.bus.admin.createQueue('overview', { maxDeliveryCount: 1 });
    const sender = h.bus.createSender('overview');
    await sender.send([{ body: 'a' }, { body: 'b' }, { body: 'poison' }]);
    await sender.scheduleMessages({ body: 'later' }, new Date(h.clock.now() + 60_000));
    const receiver = h.bus.createReceiver('overview');
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeMs: 0 });
    await first!.deadLetter({ reason: 'Poison' });
    await h.bus.createSender('events').send({ body: 'e' });
    const res = await fetch(`${h.base}/`);
    assert.equal(res.status, 200);
    const overview = (await res.json()) as { queues: Array<{ name: string }>; topics: unknown[] };
    assert.deepEqual(
      overview.queues.find((q) => q.name === 'overview'),
      { name: 'overview', active: 2, scheduled: 1, deferred: 0, locked: 0, deadLettered: 1 },
    );
    assert.deepEqual(overview.topics, [
      {
        name: 'events',
        subscriptions: [{ name: 'all', active: 1, scheduled: 0, deferred: 0, locked: 0, deadLettered: 0 }],
      },
    ]);
    await h.bus.admin.deleteQueue('overview');
    await h.bus.createReceiver('events/subscriptions/all', { receiveMode: 'receiveAndDelete' }).receiveMessages(1, {
      maxWaitTimeMs: 0,
    });
  });

  it('creates, reads, updates, lists and deletes queues and topics as JSON', async () => {
    const created = await fetch(`${h.base}/payments`, {
      method: 'PUT',
      body: JSON.stringify({ lockDuration: 'PT30S' }),
    });
    assert.equal(created.status, 201);
    const props = (await created.json()) as Record<string, unknown>;
    assert.equal(props.kind, 'queue');
    assert.equal(props.lockDuration, 30_000);
    await expectError(await fetch(`${h.base}/payments`, { method: 'PUT', body: '{}' }), 409, 'BUS_ENTITY_EXISTS');
    const updated = await fetch(`${h.base}/payments`, {
      method: 'PUT',
      headers: { 'if-match': '*' },
      body: JSON.stringify({ maxDeliveryCount: 3 }),
    });
    assert.equal(updated.status, 200);
    const got = (await (await fetch(`${h.base}/payments`)).json()) as WithRuntime;
    assert.equal(got.maxDeliveryCount, 3);
    assert.equal(got.runtime.activeMessageCount, 0);
    const queues = (await (await fetch(`${h.base}/$Resources/Queues`)).json()) as Array<{ name: string }>;
    assert.ok(queues.some((q) => q.name === 'payments'));
    assert.equal((await fetch(`${h.base}/payments`, { method: 'DELETE' })).status, 200);
    await expectError(await fetch(`${h.base}/payments`, { method: 'DELETE' }), 404, 'BUS_ENTITY_NOT_FOUND');

    const topic = await fetch(`${h.base}/alerts`, { method: 'PUT', body: JSON.stringify({ kind: 'topic' }) });
    assert.equal(topic.status, 201);
    const topics = (await (await fetch(`${h.base}/$Resources/Topics`)).json()) as Array<{ name: string }>;
    assert.ok(topics.some((t) => t.name === 'alerts'));
    assert.equal(((await (await fetch(`${h.base}/alerts`)).json()) as { kind: string }).kind, 'topic');
    assert.equal((await fetch(`${h.base}/alerts`, { method: 'DELETE' })).status, 200);
  });

  const badBodies: Array<[string, string, RequestInit, number, string]> = [
    ['malformed JSON', '/q1', { method: 'PUT', body: '{' }, 400, 'BUS_INVALID_OPTION'],
    ['non-object body', '/q1', { method: 'PUT', body: '[1]' }, 400, 'BUS_INVALID_OPTION'],
    ['unknown kind', '/q1', { method: 'PUT', body: '{"kind":"stream"}' }, 400, 'BUS_INVALID_OPTION'],
    ['out-of-range option', '/q1', { method: 'PUT', body: '{"maxDeliveryCount":0}' }, 400, 'BUS_INVALID_OPTION'],
    ['invalid name', '/bad name!', { method: 'PUT', body: '{}' }, 400, 'BUS_INVALID_ENTITY_NAME'],
    [
      'update of a missing queue',
      '/q2',
      { method: 'PUT', headers: { 'if-match': '*' }, body: '{}' },
      404,
      'BUS_ENTITY_NOT_FOUND',
    ],
    [
      'subscription of a missing topic',
      '/none/subscriptions/s',
      { method: 'PUT', body: '{}' },
      404,
      'BUS_ENTITY_NOT_FOUND',
    ],
    ['missing subscription', '/events/subscriptions/none', { method: 'GET' }, 404, 'BUS_ENTITY_NOT_FOUND'],
    [
      'rule without filter',
      '/events/subscriptions/all/rules/r',
      { method: 'PUT', body: '{}' },
      400,
      'BUS_INVALID_FILTER',
    ],
    ['missing rule', '/events/subscriptions/all/rules/none', { method: 'GET' }, 404, 'BUS_ENTITY_NOT_FOUND'],
    ['delete missing rule', '/events/subscriptions/all/rules/none', { method: 'DELETE' }, 404, 'BUS_ENTITY_NOT_FOUND'],
  ];
  for (const [name, path, init, status, code] of badBodies) {
    it(`rejects ${name} with ${status} ${code}`, async () => {
      await expectError(await fetch(`${h.base}${path}`, init), status, code);
    });
  }

  it('reports a bad SQL filter with its position', async () => {
    const detail = await expectError(
      await fetch(`${h.base}/events/subscriptions/all/rules/bad`, {
        method: 'PUT',
        body: JSON.stringify({ filter: { kind: 'sql', expression: '(storeid = 7' } }),
      }),
      400,
      'BUS_INVALID_FILTER',
    );
    assert.equal(detail.position, 13);
    await expectError(
      await fetch(`${h.base}/events/subscriptions/all/rules/bad`, {
        method: 'PUT',
        body: JSON.stringify({ filter: { kind: 'true' }, action: { sqlExpression: 'SET sys.SequenceNumber = 1' } }),
      }),
      400,
      'BUS_INVALID_ACTION',
    );
  });

  it('routes topic messages through subscription rules and actions', async () => {
    assert.equal(
      (
        await fetch(`${h.base}/events/subscriptions/drivebys`, {
          method: 'PUT',
          body: JSON.stringify({ lockDuration: 'PT1M' }),
        })
      ).status,
      201,
    );
    const subs = (await (await fetch(`${h.base}/events/subscriptions`)).json()) as Array<{ subscriptionName: string }>;
    assert.deepEqual(subs.map((s) => s.subscriptionName).sort(), ['all', 'drivebys']);
    const rule = await fetch(`${h.base}/events/subscriptions/drivebys/rules/store7`, {
      method: 'PUT',
      body: JSON.stringify({
        filter: { kind: 'sql', expression: "sys.Label = 'driveby' AND storeid = 7" },
        action: { sqlExpression: "SET routed = 'yes'" },
      }),
    });
    assert.equal(rule.status, 201);
    await expectError(
      await fetch(`${h.base}/events/subscriptions/drivebys/rules/store7`, {
        method: 'PUT',
        body: JSON.stringify({ filter: { kind: 'true' } }),
      }),
      409,
      'BUS_ENTITY_EXISTS',
    );
    assert.equal(
      (await fetch(`${h.base}/events/subscriptions/drivebys/rules/$Default`, { method: 'DELETE' })).status,
      200,
    );
    const rules = (await (await fetch(`${h.base}/events/subscriptions/drivebys/rules`)).json()) as Array<{
      name: string;
    }>;
    assert.deepEqual(
      rules.map((r) => r.name),
      ['store7'],
    );
    const one = (await (await fetch(`${h.base}/events/subscriptions/drivebys/rules/store7`)).json()) as {
      name: string;
    };
    assert.equal(one.name, 'store7');

    for (const storeid of [7, 8]) {
      const sent = await fetch(`${h.base}/events/messages`, {
        method: 'POST',
        headers: { brokerproperties: JSON.stringify({ Label: 'driveby' }), storeid: String(storeid) },
        body: `store ${storeid}`,
      });
      assert.equal(sent.status, 201);
    }
    const got = await fetch(`${h.base}/events/subscriptions/drivebys/messages/head?timeout=0`, { method: 'POST' });
    assert.equal(got.status, 201);
    assert.equal(await got.text(), 'store 7');
    assert.equal(got.headers.get('routed'), '"yes"');
    assert.match(got.headers.get('location')!, /\/events\/subscriptions\/drivebys\/messages\//);
    assert.equal((await fetch(got.headers.get('location')!, { method: 'DELETE' })).status, 200);
    assert.equal(
      (await fetch(`${h.base}/events/subscriptions/drivebys/messages/head?timeout=0`, { method: 'POST' })).status,
      204,
    );
    const sub = (await (await fetch(`${h.base}/events/subscriptions/all`)).json()) as WithRuntime;
    assert.equal(sub.runtime.activeMessageCount, 2);
    await expectError(
      await fetch(`${h.base}/events/messages/head?timeout=0`, { method: 'POST' }),
      404,
      'BUS_ENTITY_NOT_FOUND',
    );
    assert.equal((await fetch(`${h.base}/events/subscriptions/drivebys`, { method: 'DELETE' })).status, 200);
  });
});

describe('bus HTTP API: SAS auth, mounting and limits', () => {
  const key = { name: 'RootManageSharedAccessKey', key: 'c2VjcmV0' };
  let h: Harness;
  before(async () => {
    h = await start(
      {
        keys: [
          key,
          { name: 'sender', key: 'send-key', rights: ['Send'] },
          { name: 'listener', key: 'listen-key', rights: ['Listen'] },
        ],
        basePath: '/bus',
        maxRequestBytes: 4096,
      },
      true,
    );
  });
  after(() => stop(h));

  const token = (resource: string, k = key, expiresIn = 3600): string =>
    createSasToken(resource, k, h.clock.now() / 1000 + expiresIn);

  it('accepts a valid SharedAccessSignature', async () => {
    const res = await fetch(`${h.base}/orders/messages`, {
      method: 'POST',
      headers: { authorization: token(`${h.base}/orders`) },
      body: 'signed',
    });
    assert.equal(res.status, 201);
    const all = await fetch(`${h.base}/orders/messages/head?timeout=0`, {
      method: 'DELETE',
      headers: { authorization: token(h.base) },
    });
    assert.equal(await all.text(), 'signed');
  });

  const bad: Array<[string, () => Record<string, string>]> = [
    ['no Authorization', () => ({})],
    ['another scheme', () => ({ authorization: 'Bearer x' })],
    ['a wrong key', () => ({ authorization: token(`${h.base}/orders`, { name: key.name, key: 'other' }) })],
    ['an unknown key name', () => ({ authorization: token(`${h.base}/orders`, { name: 'x', key: key.key }) })],
    ['an expired token', () => ({ authorization: token(`${h.base}/orders`, key, -10) })],
    ['a token for another entity', () => ({ authorization: token(`${h.base}/payments`) })],
  ];
  for (const [name, headers] of bad) {
    it(`answers 401 BUS_UNAUTHORIZED to ${name}`, async () => {
      const res = await fetch(`${h.base}/orders/messages`, { method: 'POST', headers: headers(), body: 'x' });
      assert.equal(res.headers.get('www-authenticate'), 'SharedAccessSignature');
      await expectError(res, 401, 'BUS_UNAUTHORIZED');
    });
  }

  it('enforces Send, Listen and Manage rights per key', async () => {
    const sender = { name: 'sender', key: 'send-key' };
    const listener = { name: 'listener', key: 'listen-key' };
    const as = (k: { name: string; key: string }): Record<string, string> => ({ authorization: token(h.base, k) });
    assert.equal(
      (await fetch(`${h.base}/orders/messages`, { method: 'POST', headers: as(sender), body: 'r' })).status,
      201,
    );
    const denied = await expectError(
      await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'DELETE', headers: as(sender) }),
      401,
      'BUS_UNAUTHORIZED',
    );
    assert.equal(denied.required, 'Listen');
    await expectError(
      await fetch(`${h.base}/orders/messages`, { method: 'POST', headers: as(listener), body: 'x' }),
      401,
      'BUS_UNAUTHORIZED',
    );
    await expectError(await fetch(`${h.base}/orders`, { headers: as(listener) }), 401, 'BUS_UNAUTHORIZED');
    await expectError(
      await fetch(`${h.base}/q9`, { method: 'PUT', headers: as(sender), body: '{}' }),
      401,
      'BUS_UNAUTHORIZED',
    );
    const peeked = await fetch(`${h.base}/orders/messages?count=5`, { headers: as(listener) });
    assert.equal(peeked.status, 200);
    const got = await fetch(`${h.base}/orders/messages/head?timeout=0`, { method: 'POST', headers: as(listener) });
    assert.equal(await got.text(), 'r');
    assert.equal((await fetch(got.headers.get('location')!, { method: 'DELETE', headers: as(listener) })).status, 200);
    assert.equal((await fetch(`${h.base}/orders`, { headers: as(key) })).status, 200);
  });

  it('passes requests outside its base path to next()', async () => {
    const res = await fetch(`${h.base.replace('/bus', '')}/api/other`);
    assert.equal(res.status, 299);
    assert.equal(await res.text(), 'next');
  });

  it('refuses request bodies over maxRequestBytes with 413', async () => {
    await expectError(
      await fetch(`${h.base}/orders/messages`, {
        method: 'POST',
        headers: { authorization: token(`${h.base}/orders`) },
        body: 'x'.repeat(5000),
      }),
      413,
      'BUS_MESSAGE_TOO_LARGE',
    );
  });

  it('validates its options', () => {
    assert.throws(() => createBusHttpHandler(h.bus, { basePath: 'bus' }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createBusHttpHandler(h.bus, { keys: [{ name: '', key: 'k' }] }), {
      code: 'KERNEL_INVALID_OPTION',
    });
    assert.throws(() => createBusHttpHandler(h.bus, { maxRequestBytes: 0 }), { code: 'KERNEL_INVALID_OPTION' });
    for (const rights of [[], ['Read']] as never[]) {
      assert.throws(() => createBusHttpHandler(h.bus, { keys: [{ name: 'k', key: 'v', rights }] }), {
        code: 'KERNEL_INVALID_OPTION',
      });
    }
    assert.throws(() => createBusHttpHandler(h.bus, { maxTimeoutSeconds: -1 }), { code: 'KERNEL_INVALID_OPTION' });
  });
});
