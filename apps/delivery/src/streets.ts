/**
 * Routes on the city's streets (`web/city.json`): the street plan as a graph — every street's
 * points and every crossing of two streets are nodes, the pieces of street between them edges —
 * and the shortest way between two places (Dijkstra), each place joined to the nearest point of a
 * street. The server routes an order from its restaurant to its door with it, so the arrival
 * estimate counts the way left along the streets (`arrival.ts`).
 * @module
 */
import { metersBetween, type Point } from './arrival.ts';
import type { City } from './city.ts';

export interface StreetRouterOptions {
  /** A place further than this from every street is not routed. @default 400 */
  readonly maxSnapMeters?: number;
}

/** The shortest way along the streets from `from` to `to` (both included), or null when there is none. */
export type StreetRouter = (from: Point, to: Point) => Point[] | null;

interface Edge {
  readonly a: number;
  readonly b: number;
  readonly meters: number;
}

export function createStreetRouter(city: Pick<City, 'streets'>, options: StreetRouterOptions = {}): StreetRouter {
  const maxSnap = options.maxSnapMeters ?? 400;
  const first = city.streets[0]?.path[0];
  const lat0 = first?.[0] ?? 0;
  // A flat projection around the city, metres east and north: exact enough for a city's streets.
  const ky = 111_195;
  const kx = 111_195 * Math.cos((lat0 * Math.PI) / 180);
  const xy = (p: Point) => [p.lng * kx, p.lat * ky] as const;

  const nodes: Point[] = [];
  const ids = new Map<string, number>();
  const node = (p: Point): number => {
    const key = `${p.lat.toFixed(7)},${p.lng.toFixed(7)}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = nodes.push(p) - 1;
      ids.set(key, id);
    }
    return id;
  };

  const segments: [Point, Point][] = [];
  for (const street of city.streets) {
    for (let i = 1; i < street.path.length; i++) {
      const [a, b] = [street.path[i - 1]!, street.path[i]!];
      segments.push([
        { lat: a[0], lng: a[1] },
        { lat: b[0], lng: b[1] },
      ]);
    }
  }
  // Each segment split at its crossings with every other one.
  const edges: Edge[] = [];
  for (const [i, [a, b]] of segments.entries()) {
    const [ax, ay] = xy(a);
    const [bx, by] = xy(b);
    const cuts: number[] = [0, 1];
    for (const [j, [c, d]] of segments.entries()) {
      if (i === j) continue;
      const [cx, cy] = xy(c);
      const [dx, dy] = xy(d);
      const den = (bx - ax) * (dy - cy) - (by - ay) * (dx - cx);
      if (Math.abs(den) < 1e-9) continue; // parallel
      const t = ((cx - ax) * (dy - cy) - (cy - ay) * (dx - cx)) / den;
      const u = ((cx - ax) * (by - ay) - (cy - ay) * (bx - ax)) / den;
      if (t >= 0 && t <= 1 && u >= 0 && u <= 1) cuts.push(t);
    }
    cuts.sort((x, y) => x - y);
    const at = (t: number): Point => ({ lat: a.lat + (b.lat - a.lat) * t, lng: a.lng + (b.lng - a.lng) * t });
    for (let k = 1; k < cuts.length; k++) {
      const [p, q] = [at(cuts[k - 1]!), at(cuts[k]!)];
      const [na, nb] = [node(p), node(q)];
      if (na !== nb) edges.push({ a: na, b: nb, meters: metersBetween(p, q) });
    }
  }

  const graph: { to: number; meters: number }[][] = nodes.map(() => []);
  for (const { a, b, meters } of edges) {
    graph[a]!.push({ to: b, meters });
    graph[b]!.push({ to: a, meters });
  }

  /** The nearest point of any edge to `p`: the edge and where on it (0..1), or null beyond maxSnap. */
  function snap(p: Point): { edge: Edge; t: number; at: Point } | null {
    const [px, py] = xy(p);
    let best: { edge: Edge; t: number; at: Point } | null = null;
    let bestD = maxSnap;
    for (const edge of edges) {
      const [a, b] = [nodes[edge.a]!, nodes[edge.b]!];
      const [ax, ay] = xy(a);
      const [bx, by] = xy(b);
      const [vx, vy] = [bx - ax, by - ay];
      const len2 = vx * vx + vy * vy;
      const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / len2));
      const d = Math.hypot(ax + t * vx - px, ay + t * vy - py);
      if (d <= bestD) {
        bestD = d;
        best = { edge, t, at: { lat: a.lat + (b.lat - a.lat) * t, lng: a.lng + (b.lng - a.lng) * t } };
      }
    }
    return best;
  }

  return (from, to) => {
    const s = snap(from);
    const e = snap(to);
    if (s === null || e === null) return null;
    // Two extra nodes where the places join the streets, linked to their edges' ends.
    const start = nodes.length;
    const end = nodes.length + 1;
    const extra = new Map<number, { to: number; meters: number }[]>();
    const link = (x: number, y: number, meters: number) => {
      for (const [p, q] of [
        [x, y],
        [y, x],
      ] as const) {
        const list = extra.get(p) ?? [];
        list.push({ to: q, meters });
        extra.set(p, list);
      }
    };
    for (const [id, { edge, t }] of [
      [start, s],
      [end, e],
    ] as const) {
      link(id, edge.a, edge.meters * t);
      link(id, edge.b, edge.meters * (1 - t));
    }
    if (s.edge === e.edge) link(start, end, s.edge.meters * Math.abs(s.t - e.t));

    const adjacency = (id: number): { to: number; meters: number }[] => {
      const out = [...(extra.get(id) ?? [])];
      for (const edge of graph[id] ?? []) out.push(edge);
      return out;
    };
    const count = nodes.length + 2;
    const dist = new Float64Array(count).fill(Number.POSITIVE_INFINITY);
    const previous = new Int32Array(count).fill(-1);
    const done = new Uint8Array(count);
    dist[start] = 0;
    // Binary heap of [distance, node].
    const heap: [number, number][] = [[0, start]];
    const push = (item: [number, number]) => {
      heap.push(item);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]![0] <= heap[i]![0]) break;
        [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
        i = parent;
      }
    };
    const pop = (): [number, number] => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const [l, r] = [2 * i + 1, 2 * i + 2];
          let m = i;
          if (l < heap.length && heap[l]![0] < heap[m]![0]) m = l;
          if (r < heap.length && heap[r]![0] < heap[m]![0]) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i]!, heap[m]!];
          i = m;
        }
      }
      return top;
    };
    while (heap.length > 0) {
      const [d, id] = pop();
      if (done[id]) continue;
      done[id] = 1;
      if (id === end) break;
      for (const { to: next, meters } of adjacency(id)) {
        const nd = d + meters;
        if (nd < dist[next]!) {
          dist[next] = nd;
          previous[next] = id;
          push([nd, next]);
        }
      }
    }
    if (!Number.isFinite(dist[end]!)) return null;
    const way: Point[] = [];
    for (let id = end; id !== -1; id = previous[id]!) {
      way.push(id === start ? s.at : id === end ? e.at : nodes[id]!);
    }
    way.reverse();
    return [from, ...way, to];
  };
}

/**
 * `router` with its last `size` answers kept (least recently used dropped first): orders from one
 * restaurant to one address are routed once.
 */
export function memoizedRouter(router: StreetRouter, size = 1024): StreetRouter {
  const kept = new Map<string, Point[] | null>();
  return (from, to) => {
    const key = `${from.lat},${from.lng}>${to.lat},${to.lng}`;
    let way = kept.get(key);
    if (way === undefined) {
      way = router(from, to);
      if (kept.size >= size) kept.delete(kept.keys().next().value!);
    } else {
      kept.delete(key);
    }
    kept.set(key, way);
    return way;
  };
}
