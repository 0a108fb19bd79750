/**
 * The courier's arrival estimate, one implementation for the server (which puts it on each live
 * location and decides when the customer is told the courier is about to arrive, `orders/dispatch.ts`)
 * and the customer's web app (`ui/src/views/order.tsx`, which imports this file as it is: pure, no
 * imports, no I/O).
 *
 * Distance left: along the route when the order has one (from the point of the route nearest the
 * courier to its end, plus the way back onto it), else the straight line to the door times a detour
 * factor (streets are not straight). Speed: the courier's recent positions (path length over the
 * time they span, the last `window` positions within `maxAgeMs`), held between a floor and a
 * ceiling — a courier standing at a light gives a long estimate, not infinity, and a GPS jump does
 * not give zero.
 * @module
 */

/** `{lat, lng}` in degrees. */
export interface Point {
  readonly lat: number;
  readonly lng: number;
}

/** A position of the courier at `time` (ms since the epoch). */
export interface Fix extends Point {
  readonly time: number;
}

export interface ArrivalOptions {
  /** Straight line × this, when the order has no route. @default 1.3 */
  readonly detourFactor?: number;
  /** Speed floor in m/s (a stopped courier). @default 1 */
  readonly minSpeedMps?: number;
  /** Speed ceiling in m/s. @default 20 */
  readonly maxSpeedMps?: number;
  /** Positions the speed is smoothed over. @default 6 */
  readonly window?: number;
  /** Positions older than this before the newest are left out of the speed. @default 60_000 */
  readonly maxAgeMs?: number;
  /** Further than this from its route, the courier left it: the straight line counts instead. @default 150 */
  readonly offRouteMeters?: number;
}

export interface ArrivalEstimate {
  /** Metres left to the door. */
  readonly meters: number;
  /** Seconds to the door; null until two positions give a speed. */
  readonly seconds: number | null;
  /** The smoothed speed used (after floor and ceiling); null with seconds. */
  readonly speedMps: number | null;
}

/** When the customer is told the courier is about to arrive. */
export interface ArrivingThreshold {
  /** @default 120 */
  readonly seconds?: number;
  /** @default 300 */
  readonly meters?: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine). */
export function metersBetween(a: Point, b: Point): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Metres left along `route` (ending at the door) from `at`: the way to the nearest point of the
 * route, then the route from there. Null when `at` is further than `offRouteMeters` from it.
 */
export function metersAlongRoute(at: Point, route: readonly Point[], offRouteMeters = 150): number | null {
  if (route.length < 2) return null;
  // Each leg in a local flat projection around `at` (metres east, north): exact enough for a city.
  const kx = EARTH_RADIUS_M * rad(1) * Math.cos(rad(at.lat));
  const ky = EARTH_RADIUS_M * rad(1);
  let best = Number.POSITIVE_INFINITY;
  let bestLeg = 0;
  let bestT = 0;
  for (let i = 1; i < route.length; i++) {
    const a = route[i - 1]!;
    const b = route[i]!;
    const ax = (a.lng - at.lng) * kx;
    const ay = (a.lat - at.lat) * ky;
    const dx = (b.lng - a.lng) * kx;
    const dy = (b.lat - a.lat) * ky;
    const len2 = dx * dx + dy * dy;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
    const d = Math.hypot(ax + t * dx, ay + t * dy);
    if (d < best) {
      best = d;
      bestLeg = i;
      bestT = t;
    }
  }
  if (best > offRouteMeters) return null;
  const a = route[bestLeg - 1]!;
  const b = route[bestLeg]!;
  let left = best + (1 - bestT) * metersBetween(a, b);
  for (let i = bestLeg + 1; i < route.length; i++) left += metersBetween(route[i - 1]!, route[i]!);
  return left;
}

/** Metres left to `destination`: along `route` when given and the courier is on it, else the straight line × the detour factor. */
export function metersLeft(
  at: Point,
  destination: Point,
  route?: readonly Point[] | null,
  options: ArrivalOptions = {},
): number {
  const along = route ? metersAlongRoute(at, route, options.offRouteMeters ?? 150) : null;
  return along ?? metersBetween(at, destination) * (options.detourFactor ?? 1.3);
}

/**
 * The courier's recent speed in m/s, unclamped: the path over the last `window` positions (those
 * within `maxAgeMs` of the newest) divided by the time they span; null with fewer than two or no time between them.
 */
export function recentSpeed(track: readonly Fix[], options: ArrivalOptions = {}): number | null {
  const window = Math.max(2, options.window ?? 6);
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  if (track.length < 2) return null;
  const newest = track[track.length - 1]!;
  let first = track.length - 1;
  while (first > 0 && track.length - first < window && newest.time - track[first - 1]!.time <= maxAgeMs) first--;
  const seconds = (newest.time - track[first]!.time) / 1000;
  if (!(seconds > 0)) return null;
  let meters = 0;
  for (let i = first + 1; i < track.length; i++) meters += metersBetween(track[i - 1]!, track[i]!);
  return meters / seconds;
}

/** The estimate from the courier's track (oldest first; its last position is where the courier is). */
export function estimateArrival(
  track: readonly Fix[],
  destination: Point,
  route?: readonly Point[] | null,
  options: ArrivalOptions = {},
): ArrivalEstimate | null {
  const at = track[track.length - 1];
  if (at === undefined) return null;
  const meters = metersLeft(at, destination, route, options);
  const raw = recentSpeed(track, options);
  if (raw === null) return { meters, seconds: null, speedMps: null };
  const speedMps = Math.min(options.maxSpeedMps ?? 20, Math.max(options.minSpeedMps ?? 1, raw));
  return { meters, seconds: meters / speedMps, speedMps };
}

/** True when the courier is about to arrive: within `threshold.meters`, or `threshold.seconds` away. */
export function isArriving(estimate: ArrivalEstimate | null, threshold: ArrivingThreshold = {}): boolean {
  if (estimate === null) return false;
  if (estimate.meters <= (threshold.meters ?? 300)) return true;
  return estimate.seconds !== null && estimate.seconds <= (threshold.seconds ?? 120);
}
