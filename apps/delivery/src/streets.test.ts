import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metersBetween, type Point } from './arrival.ts';
import { loadCity } from './city.ts';
import { demoRestaurants } from './orders/restaurants.ts';
import { createStreetRouter, memoizedRouter } from './streets.ts';

const length = (way: readonly Point[]) => way.slice(1).reduce((m, p, i) => m + metersBetween(way[i]!, p), 0);

describe('routes on the streets', () => {
  // Two north–south streets 1 km apart joined by one east–west street at their north end.
  const lat0 = 47.6;
  const lng0 = -122.32;
  const dLng = 1000 / (111_195 * Math.cos((lat0 * Math.PI) / 180));
  const dLat = 1000 / 111_195;
  const u = {
    streets: [
      { name: 'West', path: [[lat0, lng0] as const, [lat0 + dLat, lng0] as const] },
      { name: 'East', path: [[lat0, lng0 + dLng] as const, [lat0 + dLat, lng0 + dLng] as const] },
      { name: 'North', path: [[lat0 + dLat, lng0 - dLng / 2] as const, [lat0 + dLat, lng0 + dLng * 1.5] as const] },
    ],
  };

  it('goes round by the streets, not across', () => {
    const route = createStreetRouter(u);
    const from = { lat: lat0 + dLat * 0.1, lng: lng0 };
    const to = { lat: lat0 + dLat * 0.1, lng: lng0 + dLng };
    const way = route(from, to)!;
    assert.deepEqual(way[0], from);
    assert.deepEqual(way.at(-1), to);
    // Up 900 m, across 1 km, down 900 m.
    assert.ok(Math.abs(length(way) - 2800) < 5, `${length(way)}`);
    assert.ok(
      way.some((p) => Math.abs(p.lat - (lat0 + dLat)) < 1e-9 && Math.abs(p.lng - lng0) < 1e-9),
      'by the corner',
    );
  });

  it('joins a place off the street to its nearest point; on one street, goes straight along it', () => {
    const route = createStreetRouter(u);
    const from = { lat: lat0 + dLat * 0.2, lng: lng0 - dLng * 0.05 }; // 50 m west of West
    const to = { lat: lat0 + dLat * 0.7, lng: lng0 };
    const way = route(from, to)!;
    assert.ok(Math.abs(length(way) - 550) < 5, `${length(way)}`);
    assert.equal(route({ lat: lat0 - 0.1, lng: lng0 }, to), null, 'too far from every street');
    assert.equal(createStreetRouter({ streets: [] })(from, to), null);
  });

  it('on the demo city: a restaurant to a door, along streets, no shorter than the straight line', () => {
    const city = loadCity();
    const route = createStreetRouter(city);
    const door = { lat: 47.62, lng: -122.315 };
    for (const r of demoRestaurants()) {
      const way = route(r.location, door);
      assert.ok(way !== null, r.id);
      const straight = metersBetween(r.location, door);
      assert.ok(length(way) >= straight - 1 && length(way) <= straight * 2, `${r.id}: ${length(way)} vs ${straight}`);
    }
  });

  it('memoized: one route per pair of places, the least recently used dropped', () => {
    let calls = 0;
    const counted = memoizedRouter((from, to) => {
      calls++;
      return [from, to];
    }, 2);
    const [a, b, c] = [
      { lat: 1, lng: 1 },
      { lat: 2, lng: 2 },
      { lat: 3, lng: 3 },
    ];
    assert.deepEqual(counted(a, b), [a, b]);
    counted(a, b);
    assert.equal(calls, 1);
    counted(a, c);
    counted(a, b); // a→b used last: a→c is the least recent
    counted(b, c); // drops a→c
    counted(a, b);
    assert.equal(calls, 3);
    counted(a, c);
    assert.equal(calls, 4);
  });
});
