/**
 * The courier simulator: moves couriers along their routes at a steady speed and sends each
 * position as a location message (the seed's `{orderid, storeid, lat, longitude}` plus courier id
 * and timestamp) through `send` — to queue `locations` of a running Hubbub, or any bus.
 * @module
 */
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';

/** `[latitude, longitude]` in degrees. */
export type LatLng = readonly [number, number];

export interface CourierRoute {
  readonly orderid: string;
  readonly storeid: number | string;
  readonly courierid: string;
  /** From the store to the customer; at least two points. */
  readonly path: readonly LatLng[];
}

/** The server's arrival estimate on a location (`arrival.ts`): whole metres and seconds left. */
export interface LocationEta {
  meters: number;
  /** Null until the courier's speed is known. */
  seconds: number | null;
}

export interface LocationMessage {
  orderid: string;
  storeid: number | string;
  courierid: string;
  lat: number;
  longitude: number;
  /** ISO 8601. */
  timestamp: string;
  /** Once the order is picked up, when the position came through the REST API. */
  eta?: LocationEta;
}

export interface SimulatorOptions {
  /** Delivers one location message (e.g. to queue `locations`). A rejection stops the simulator. */
  send: (message: LocationMessage) => Promise<void>;
  /** One courier per route, all moving at once. */
  routes: readonly CourierRoute[];
  /** Time between two positions of a courier, in ms. @default 1000 */
  intervalMs?: number;
  /** Courier speed in metres per second. @default 8 (about 29 km/h, a bike in city traffic) */
  speedMps?: number;
  /** Start a route over when its courier arrives (runs until aborted). @default false */
  loop?: boolean;
  /** Stops the simulator; `runSimulator` then resolves. */
  signal?: AbortSignal;
  /** @default systemClock */
  clock?: Clock;
}

export interface SimulatorResult {
  /** Messages sent. */
  sent: number;
  /** Routes driven to their end. */
  arrived: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine). */
export function distanceMeters(a: LatLng, b: LatLng): number {
  const dLat = rad(b[0] - a[0]);
  const dLng = rad(b[1] - a[1]);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[0])) * Math.cos(rad(b[0])) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Length of a polyline in metres. */
export function routeLength(path: readonly LatLng[]): number {
  let total = 0;
  for (let i = 1; i < path.length; i++) total += distanceMeters(path[i - 1]!, path[i]!);
  return total;
}

/** The point `meters` along a polyline (linear between its points), clamped to its ends. */
export function pointAlong(path: readonly LatLng[], meters: number): LatLng {
  let left = Math.max(0, meters);
  for (let i = 1; i < path.length; i++) {
    const a = path[i - 1]!;
    const b = path[i]!;
    const leg = distanceMeters(a, b);
    if (left <= leg) {
      const t = leg === 0 ? 0 : left / leg;
      return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    }
    left -= leg;
  }
  return path[path.length - 1]!;
}

const isLatLng = (p: unknown): p is LatLng =>
  Array.isArray(p) &&
  p.length === 2 &&
  typeof p[0] === 'number' &&
  typeof p[1] === 'number' &&
  Math.abs(p[0]) <= 90 &&
  Math.abs(p[1]) <= 180;

function validate(options: SimulatorOptions): { intervalMs: number; speedMps: number } {
  if (typeof options.send !== 'function') throw new InvalidOptionError('send', 'must be a function');
  if (!Array.isArray(options.routes) || options.routes.length === 0) {
    throw new InvalidOptionError('routes', 'must be a non-empty array');
  }
  options.routes.forEach((r: CourierRoute, i) => {
    if (typeof r?.orderid !== 'string' || r.orderid === '') {
      throw new InvalidOptionError(`routes[${i}].orderid`, 'must be a non-empty string');
    }
    if (typeof r.courierid !== 'string' || r.courierid === '') {
      throw new InvalidOptionError(`routes[${i}].courierid`, 'must be a non-empty string');
    }
    if (!Array.isArray(r.path) || r.path.length < 2 || !r.path.every(isLatLng)) {
      throw new InvalidOptionError(`routes[${i}].path`, 'must hold at least two [lat, lng] points in range');
    }
  });
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new InvalidOptionError('intervalMs', 'must be ≥ 0');
  const speedMps = options.speedMps ?? 8;
  if (!Number.isFinite(speedMps) || speedMps <= 0) throw new InvalidOptionError('speedMps', 'must be > 0');
  return { intervalMs, speedMps };
}

function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      signal?.removeEventListener('abort', done);
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Drives every route at once: each tick, every courier still under way moves `speedMps × intervalMs`
 * metres and its position is sent. Resolves when all couriers arrived (unless `loop`) or `signal` aborts.
 */
export async function runSimulator(options: SimulatorOptions): Promise<SimulatorResult> {
  const { intervalMs, speedMps } = validate(options);
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  const step = (speedMps * Math.max(intervalMs, 1)) / 1000;
  const couriers = options.routes.map((route) => ({ route, length: routeLength(route.path), travelled: 0 }));
  let active = couriers.slice();
  const result: SimulatorResult = { sent: 0, arrived: 0 };

  while (active.length > 0 && !signal?.aborted) {
    const timestamp = new Date(clock.now()).toISOString();
    await Promise.all(
      active.map(async (c) => {
        const [lat, longitude] = pointAlong(c.route.path, c.travelled);
        const { orderid, storeid, courierid } = c.route;
        await options.send({ orderid, storeid, courierid, lat, longitude, timestamp });
        result.sent++;
      }),
    );
    const next: typeof active = [];
    for (const c of active) {
      if (c.travelled >= c.length) {
        result.arrived++;
        if (!options.loop) continue;
        c.travelled = 0;
      } else {
        c.travelled = Math.min(c.length, c.travelled + step);
      }
      next.push(c);
    }
    active = next;
    if (active.length > 0) await sleep(clock, intervalMs, signal);
  }
  return result;
}
