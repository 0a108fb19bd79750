/**
 * End to end, as the seed's flow runs: a location is sent to queue `locations` (with the `hubbub send`
 * command and with the bus client), the queue-triggered function forwards it through the SignalR
 * output binding, and the official `@microsoft/signalr` client — negotiated through the `negotiate`
 * function and put in its order's group by the server — receives it. Customers of other orders don't.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hubbub/kernel';
import { ran, runScript } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { createTrackingToken, type LocationMessage } from '../src/index.ts';
import { startTestSystem, type TestSystem } from './system.ts';

const cli = fileURLToPath(new URL('../../../packages/cli/src/main.ts', import.meta.url));
const simulate = fileURLToPath(new URL('../src/simulate.ts', import.meta.url));

const run = (script: string, args: string[]) => ran(runScript(script, args));

async function customer(system: TestSystem, orderid: string) {
  const received: LocationMessage[] = [];
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${system.url}/api?${system.trackingQuery(orderid)}`)
    .configureLogging(signalR.LogLevel.None)
    .build();
  connection.on('location', (location: LocationMessage) => received.push(location));
  await connection.start();
  return { connection, received };
}

describe('live location: queue → function → SignalR group → official client', () => {
  let system: TestSystem;
  before(async () => {
    system = await startTestSystem();
  });
  after(async () => {
    await system[Symbol.asyncDispose]();
  });

  it('delivers what hubbub send and the bus client send to the customers of that order only', async () => {
    const ana = await customer(system, '1001');
    const ben = await customer(system, '1002');
    try {
      const sent = await run(cli, [
        'send',
        'locations',
        JSON.stringify({ orderid: '1001', storeid: 7, lat: 47.6141, longitude: -122.318 }),
        '--label',
        'driveby',
        '--content-type',
        'application/json',
        '--url',
        `${system.url}/bus`,
        '--key',
        system.busKeyArg,
      ]);
      assert.equal(sent.code, 0, sent.stderr);

      const sender = system.bus.createSender('locations');
      await sender.send({
        body: { orderid: '1001', storeid: 7, courierid: 'courier-ana', lat: 47.615, longitude: -122.3175 },
        subject: 'driveby',
        contentType: 'application/json',
      });
      await sender.send({
        body: { orderid: 1002, storeid: 12, lat: 47.6198, longitude: -122.3208, timestamp: '2026-11-21T12:00:00Z' },
        subject: 'driveby',
        contentType: 'application/json',
      });
      await sender.close();

      await waitFor(() => ana.received.length >= 2 && ben.received.length >= 1, { what: 'three locations' });
      assert.deepEqual(ana.received.map((l) => [l.orderid, l.storeid, l.lat, l.longitude]).sort(), [
        ['1001', 7, 47.6141, -122.318],
        ['1001', 7, 47.615, -122.3175],
      ]);
      assert.equal(ana.received.find((l) => l.courierid !== null)?.courierid, 'courier-ana');
      assert.deepEqual(ben.received, [
        {
          orderid: '1002',
          storeid: 12,
          courierid: null,
          lat: 47.6198,
          longitude: -122.3208,
          timestamp: '2026-11-21T12:00:00.000Z',
        },
      ]);
      for (const l of ana.received) assert.ok(!Number.isNaN(Date.parse(l.timestamp)));
    } finally {
      await ana.connection.stop();
      await ben.connection.stop();
    }
  });

  it('runs the courier simulator against the bus HTTP API until the courier arrives', async () => {
    const chi = await customer(system, '1003');
    try {
      const out = await run(simulate, [
        '--url',
        `${system.url}/bus`,
        '--key',
        system.busKeyArg,
        '--order',
        '1003',
        '--interval',
        '5',
        '--speed',
        '60000',
      ]);
      assert.equal(out.code, 0, out.stderr);
      const sent = Number(/Sent (\d+) positions; 1 couriers arrived/.exec(out.stdout)?.[1]);
      assert.ok(sent >= 2, out.stdout);
      await waitFor(() => chi.received.length === sent, { what: `${sent} positions of order 1003` });
      assert.deepEqual(new Set(chi.received.map((l) => l.courierid)), new Set(['courier-chi']));
      assert.deepEqual([chi.received.at(-1)?.lat, chi.received.at(-1)?.longitude], [47.6254, -122.3194]);
    } finally {
      await chi.connection.stop();
    }
  });

  it('simulator CLI: bad options exit 1 with a message', async () => {
    for (const [args, message] of [
      [['--speed', '0'], /--speed must be a positive number/],
      [['--interval', 'soon'], /--interval must be a positive number/],
      [['--order', '999'], /no demo order 999/],
      [['--key', 'nokey'], /--key must be name=key/],
    ] as const) {
      const out = await run(simulate, ['--url', `${system.url}/bus`, '--key', system.busKeyArg, ...args]);
      assert.equal(out.code, 1, args.join(' '));
      assert.match(out.stderr, message);
    }
    const missing = await run(simulate, [
      '--url',
      `${system.url}/bus`,
      '--key',
      system.busKeyArg,
      '--queue',
      'nope',
      '--order',
      '1001',
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /answered 404/);
  });

  it('refuses a negotiate without a valid order id', async () => {
    for (const query of ['', '?orderid=', '?orderid=a%20b', `?orderid=${'x'.repeat(65)}`, '?orderid=..%2F1']) {
      const res = await fetch(`${system.url}/api/negotiate${query}`, { method: 'POST' });
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { code: string; detail: { field: string } };
      assert.equal(body.code, 'DELIVERY_INVALID_ORDER_ID');
      assert.equal(body.detail.field, 'orderid');
    }
  });

  it('grants tracking only to a signed, unexpired token naming that order', async () => {
    const negotiate = async (query: string) => {
      const res = await fetch(`${system.url}/api/negotiate?${query}`, { method: 'POST' });
      return {
        status: res.status,
        body: (await res.json()) as { code?: string; detail?: { reason?: string } },
      };
    };
    const good = system.trackingQuery('1001');
    const token = new URLSearchParams(good).get('token')!;
    const [payload, signature] = token.split('.') as [string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ o: '1002', exp: 4_102_444_800 })).toString('base64url');
    const expired = createTrackingToken('1001', 'not-the-servers-key-but-long', { ttlSeconds: -10 });
    const cases: [string, number, string, string?][] = [
      ['orderid=1001', 401, 'DELIVERY_TRACKING_TOKEN_REQUIRED'],
      [`orderid=1001&token=${token}&token=${token}`, 401, 'DELIVERY_TRACKING_TOKEN_REQUIRED'],
      [`orderid=1002&token=${token}`, 401, 'DELIVERY_TRACKING_TOKEN_INVALID', 'another-order'],
      [`orderid=1002&token=${forgedPayload}.${signature}`, 401, 'DELIVERY_TRACKING_TOKEN_INVALID', 'signature'],
      [`orderid=1001&token=${payload}.${'A'.repeat(43)}`, 401, 'DELIVERY_TRACKING_TOKEN_INVALID', 'signature'],
      [`orderid=1001&token=${expired}`, 401, 'DELIVERY_TRACKING_TOKEN_INVALID', 'signature'],
      [`orderid=1001&token=${'x'.repeat(2000)}`, 401, 'DELIVERY_TRACKING_TOKEN_INVALID', 'malformed'],
      [`orderid=1001&orderid=1002&token=${token}`, 400, 'FUNCTIONS_BAD_REQUEST'],
      ['orderid=1&orderid=%20evil%0Auser', 400, 'FUNCTIONS_BAD_REQUEST'],
    ];
    for (const [query, status, code, reason] of cases) {
      const { status: got, body } = await negotiate(query);
      assert.equal(got, status, query);
      assert.equal(body.code, code, query);
      if (reason !== undefined) assert.equal(body.detail?.reason, reason, query);
    }
    const ok = await negotiate(good);
    assert.equal(ok.status, 200);
  });

  it('refuses an expired tracking token signed with the right key', async () => {
    const res = await fetch(`${system.url}/api/negotiate?${system.trackingQuery('1001', -1)}`, { method: 'POST' });
    assert.equal(res.status, 401);
    const body = (await res.json()) as { code: string; detail: { reason: string } };
    assert.equal(body.detail.reason, 'expired');
  });

  it('requires the bus key for every bus API call, and lists no demo orders unless asked to', async () => {
    const unsigned = await fetch(`${system.url}/bus/locations/messages`, { method: 'POST', body: '{}' });
    assert.equal(unsigned.status, 401);
    await unsigned.arrayBuffer();
    const signed = await fetch(`${system.url}/bus/locations/messages?count=1`, {
      headers: { authorization: system.busAuthorization() },
    });
    assert.equal(signed.status === 200 || signed.status === 204, true, String(signed.status));
    await signed.arrayBuffer();
    const demo = await fetch(`${system.url}/api/demo-orders`);
    assert.equal(demo.status, 404);
    await demo.arrayBuffer();
  });

  it('lets no one reach the hub without a token from negotiate', async () => {
    const sneaky = new signalR.HubConnectionBuilder()
      .withUrl(`${system.url}/client/?hub=tracking`)
      .configureLogging(signalR.LogLevel.None)
      .build();
    await assert.rejects(sneaky.start(), /401/);
  });

  it('dead-letters a message that is not a location, and keeps delivering the next ones', async () => {
    const ana = await customer(system, '1001');
    try {
      const sender = system.bus.createSender('locations');
      await sender.send({ body: { orderid: '1001', lat: 'north', longitude: 0 }, contentType: 'application/json' });
      await sender.send({ body: 'not json', contentType: 'text/plain' });
      await sender.send({ body: { orderid: '1001', lat: 47.62, longitude: -122.31 }, contentType: 'application/json' });
      await sender.close();
      await waitFor(() => ana.received.length >= 1, { what: 'the good location' });
      assert.deepEqual(
        ana.received.map((l) => [l.lat, l.longitude]),
        [[47.62, -122.31]],
      );
      const dlq = system.bus.createReceiver({ queue: 'locations', subQueue: 'deadLetter' });
      const dead = await waitFor(
        async () => {
          const peeked = await dlq.peekMessages(10);
          return peeked.length === 2 ? peeked : undefined;
        },
        { what: 'two dead-lettered messages', timeoutMs: 10_000 },
      );
      await dlq.close();
      assert.deepEqual(dead.map((m) => m.deadLetterReason).sort(), [
        'MaxDeliveryCountExceeded',
        'MaxDeliveryCountExceeded',
      ]);
    } finally {
      await ana.connection.stop();
    }
  });
});
