import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  estimateArrival,
  type Fix,
  isArriving,
  metersAlongRoute,
  metersBetween,
  metersLeft,
  type Point,
  recentSpeed,
} from './arrival.ts';
import { cityRoutes, loadCity } from './city.ts';
import { distanceMeters, pointAlong, routeLength } from './simulator.ts';

const door: Point = { lat: 47.62, lng: -122.32 };
/** `meters` north of `p` (a degree of latitude is ~111,195 m). */
const north = (p: Point, meters: number): Point => ({ lat: p.lat + meters / 111_195, lng: p.lng });
/** A courier heading north to `door` at `mps`, one position a second, `n` positions ending `endMeters` short. */
function approach(n: number, mps: number, endMeters: number, t0 = 1_000_000): Fix[] {
  return Array.from({ length: n }, (_, i) => ({
    ...north(door, -(endMeters + (n - 1 - i) * mps)),
    time: t0 + i * 1000,
  }));
}

describe('arrival estimate', () => {
  it('metersBetween agrees with the simulator’s haversine', () => {
    const a = { lat: 47.61, lng: -122.33 };
    assert.ok(Math.abs(metersBetween(a, door) - distanceMeters([a.lat, a.lng], [door.lat, door.lng])) < 1e-6);
  });

  it('without a route: the straight line times the detour factor', () => {
    const at = north(door, -1000);
    assert.ok(Math.abs(metersLeft(at, door) - 1300) < 2);
    assert.ok(Math.abs(metersLeft(at, door, null, { detourFactor: 1 }) - 1000) < 2);
  });

  it('along a route: what is left of the route from the nearest point, not the straight line', () => {
    // An L: 1 km east, then 1 km north to the door. The courier is halfway along the first leg.
    const corner = north(door, -1000);
    const start = { lat: corner.lat, lng: corner.lng - 1000 / (111_195 * Math.cos((corner.lat * Math.PI) / 180)) };
    const route = [start, corner, door];
    const halfway = { lat: start.lat, lng: (start.lng + corner.lng) / 2 };
    const along = metersAlongRoute(halfway, route)!;
    assert.ok(Math.abs(along - 1500) < 5, `${along}`);
    // 40 m off the street beside it: the way back onto the route counts.
    const beside = north(halfway, 40);
    assert.ok(Math.abs(metersAlongRoute(beside, route)! - 1540) < 5);
    // Far off the route: null, and metersLeft falls back to the straight line.
    const away = north(halfway, 600);
    assert.equal(metersAlongRoute(away, route), null);
    assert.ok(Math.abs(metersLeft(away, door, route) - metersBetween(away, door) * 1.3) < 1e-6);
    // Past the end: nothing left but the way to the door.
    assert.ok(metersAlongRoute(door, route)! < 1);
    assert.equal(metersAlongRoute(halfway, [door]), null);
  });

  it('on a demo route of the city: the route left shrinks as the courier moves along it', () => {
    const route = cityRoutes(loadCity())[0]!.path;
    const points = route.map(([lat, lng]) => ({ lat, lng }));
    const total = routeLength(route);
    let previous = Number.POSITIVE_INFINITY;
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const [lat, lng] = pointAlong(route, total * f);
      const left = metersAlongRoute({ lat, lng }, points)!;
      assert.ok(Math.abs(left - total * (1 - f)) < 2, `${f}: ${left} vs ${total * (1 - f)}`);
      assert.ok(left < previous);
      previous = left;
    }
  });

  it('speed: path over time of the last positions; null with one position or none elapsed', () => {
    assert.equal(recentSpeed([]), null);
    assert.equal(recentSpeed(approach(1, 8, 500)), null);
    const same = approach(2, 8, 500).map((f) => ({ ...f, time: 5 }));
    assert.equal(recentSpeed(same), null);
    assert.ok(Math.abs(recentSpeed(approach(10, 8, 500))! - 8) < 0.01);
    // Smoothed over the window: a slow start long ago does not count.
    const slowThenFast = [...approach(10, 1, 900, 0), ...approach(6, 8, 500, 20_000)];
    assert.ok(Math.abs(recentSpeed(slowThenFast)! - 8) < 0.01);
    // Positions older than maxAgeMs before the newest are left out.
    const gap = [...approach(3, 8, 900, 0), ...approach(2, 4, 500, 600_000)];
    assert.ok(Math.abs(recentSpeed(gap)! - 4) < 0.01);
  });

  it('seconds = metres left ÷ speed, with a floor for a stopped courier and a ceiling for a jump', () => {
    const moving = estimateArrival(approach(6, 8, 1000), door, null, { detourFactor: 1 })!;
    assert.ok(Math.abs(moving.meters - 1000) < 2);
    assert.ok(Math.abs(moving.seconds! - 125) < 1);
    const stopped = Array.from({ length: 5 }, (_, i) => ({ ...north(door, -500), time: i * 1000 }));
    const e = estimateArrival(stopped, door, null, { detourFactor: 1 })!;
    assert.equal(e.speedMps, 1);
    assert.ok(Number.isFinite(e.seconds) && Math.abs(e.seconds! - 500) < 1);
    const jump = [
      { ...north(door, -5000), time: 0 },
      { ...north(door, -100), time: 1000 },
    ];
    assert.equal(estimateArrival(jump, door)!.speedMps, 20);
    assert.deepEqual(estimateArrival([], door), null);
    const one = estimateArrival(approach(1, 8, 700), door)!;
    assert.equal(one.seconds, null);
    assert.ok(one.meters > 0);
  });

  it('arriving: within the metres or the seconds of the threshold', () => {
    assert.equal(isArriving(null), false);
    assert.equal(isArriving({ meters: 299, seconds: null, speedMps: null }), true);
    assert.equal(isArriving({ meters: 1000, seconds: null, speedMps: null }), false);
    assert.equal(isArriving({ meters: 1000, seconds: 119, speedMps: 8.4 }), true);
    assert.equal(isArriving({ meters: 1000, seconds: 121, speedMps: 8.3 }), false);
    assert.equal(isArriving({ meters: 1000, seconds: 121, speedMps: 8.3 }, { seconds: 180 }), true);
    assert.equal(isArriving({ meters: 250, seconds: 250, speedMps: 1 }, { meters: 100, seconds: 60 }), false);
  });
});
