import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { cityRoutes, loadCity } from './city.ts';
import {
  type CourierRoute,
  distanceMeters,
  type LocationMessage,
  pointAlong,
  routeLength,
  runSimulator,
} from './simulator.ts';

const line: CourierRoute = {
  orderid: 'o1',
  storeid: 7,
  courierid: 'c1',
  path: [
    [47.61, -122.32],
    [47.62, -122.32],
    [47.62, -122.31],
  ],
};

describe('geometry', () => {
  it('measures distances like a map does', () => {
    // One thousandth of a degree of latitude is about 111 m everywhere.
    assert.ok(Math.abs(distanceMeters([47.61, -122.32], [47.611, -122.32]) - 111.2) < 0.2);
    assert.equal(distanceMeters([47.61, -122.32], [47.61, -122.32]), 0);
    const length = routeLength(line.path);
    assert.ok(Math.abs(length - (1112 + 750)) < 5, String(length));
  });

  it('finds points along a route, clamped to its ends', () => {
    assert.deepEqual(pointAlong(line.path, -5), [47.61, -122.32]);
    assert.deepEqual(pointAlong(line.path, 1e9), [47.62, -122.31]);
    const half = pointAlong(line.path, distanceMeters(line.path[0]!, line.path[1]!) / 2);
    assert.ok(Math.abs(half[0] - 47.615) < 1e-9 && half[1] === -122.32);
    const corner = distanceMeters(line.path[0]!, line.path[1]!);
    assert.deepEqual(pointAlong(line.path, corner), [47.62, -122.32]);
  });
});

describe('runSimulator', () => {
  it('sends every courier from the store to the customer, one position per interval', async () => {
    const clock = new ManualClock();
    const sent: LocationMessage[] = [];
    const run = runSimulator({
      routes: [line],
      intervalMs: 1000,
      speedMps: 500,
      clock,
      send: async (m) => {
        sent.push(m);
      },
    });
    // Each position is sent, then the simulator waits an interval on the clock.
    for (let tick = 1; tick <= 4; tick++) {
      await waitFor(() => sent.length === tick && clock.pending === 1);
      clock.advance(1000);
    }
    const result = await run;
    assert.deepEqual(result, { sent: 5, arrived: 1 });
    assert.deepEqual(sent[0], {
      orderid: 'o1',
      storeid: 7,
      courierid: 'c1',
      lat: 47.61,
      longitude: -122.32,
      timestamp: new Date(1_700_000_000_000).toISOString(),
    });
    assert.deepEqual([sent.at(-1)!.lat, sent.at(-1)!.longitude], [47.62, -122.31]);
    assert.equal(sent[1]!.timestamp, new Date(1_700_000_001_000).toISOString());
    for (let i = 1; i < sent.length - 1; i++) {
      const step = distanceMeters([sent[i - 1]!.lat, sent[i - 1]!.longitude], [sent[i]!.lat, sent[i]!.longitude]);
      assert.ok(step <= 500.5, `step ${i} is ${step} m`);
    }
  });

  it('stops when aborted, and loops routes when asked', async () => {
    const abort = new AbortController();
    const clock = new ManualClock();
    let sent = 0;
    const run = runSimulator({
      routes: [line],
      intervalMs: 10,
      speedMps: 1e6,
      loop: true,
      clock,
      signal: abort.signal,
      send: async () => {
        sent++;
      },
    });
    for (let tick = 1; tick <= 5; tick++) {
      await waitFor(() => sent === tick && clock.pending === 1);
      clock.advance(10);
    }
    abort.abort();
    const result = await run;
    assert.ok(result.arrived >= 2, `arrived ${result.arrived}`);
    assert.ok(result.sent >= 5);
  });

  it('stops with the error of a failed send', async () => {
    await assert.rejects(
      runSimulator({
        routes: [line],
        send: async () => {
          throw new Error('queue gone');
        },
      }),
      /queue gone/,
    );
  });

  it('rejects bad options with KERNEL_INVALID_OPTION', async () => {
    const send = async () => {};
    const bad: Array<[string, Parameters<typeof runSimulator>[0]]> = [
      ['routes', { send, routes: [] }],
      ['routes[0].path', { send, routes: [{ ...line, path: [[47, -122]] }] }],
      [
        'routes[0].path',
        {
          send,
          routes: [
            {
              ...line,
              path: [
                [91, 0],
                [0, 0],
              ],
            },
          ],
        },
      ],
      ['routes[0].orderid', { send, routes: [{ ...line, orderid: '' }] }],
      ['routes[0].courierid', { send, routes: [{ ...line, courierid: '' }] }],
      ['intervalMs', { send, routes: [line], intervalMs: -1 }],
      ['speedMps', { send, routes: [line], speedMps: 0 }],
      ['send', { send: undefined as never, routes: [line] }],
    ];
    for (const [option, options] of bad) {
      await assert.rejects(runSimulator(options), (err: { code?: string; detail?: { option?: string } }) => {
        assert.equal(err.code, 'KERNEL_INVALID_OPTION');
        assert.equal(err.detail?.option, option);
        return true;
      });
    }
  });
});

describe('the demo city', () => {
  it('has a route per order from its store to its customer, inside the map', () => {
    const city = loadCity();
    const routes = cityRoutes(city);
    assert.deepEqual(
      routes.map((r) => r.orderid),
      ['1001', '1002', '1003'],
    );
    const { south, north, west, east } = city.bounds;
    for (const order of city.orders) {
      const store = city.stores.find((s) => s.storeid === order.storeid);
      assert.ok(store, `store of order ${order.orderid}`);
      assert.deepEqual(order.route[0], store.at);
      assert.deepEqual(order.route.at(-1), order.customer.at);
      for (const [lat, lng] of order.route) assert.ok(lat > south && lat < north && lng > west && lng < east);
      const km = routeLength(order.route) / 1000;
      assert.ok(km > 0.5 && km < 3, `order ${order.orderid}: ${km} km`);
    }
  });
});
