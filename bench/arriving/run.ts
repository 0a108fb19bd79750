/**
 * What the arrival estimate costs each courier position: CPU per `dispatch.position` (the REST
 * API's POST /api/v1/orders/{id}/location after its checks: the order read, the restaurant
 * (cached), the route along the streets (memoized), the send to queue `locations`, the courier's
 * last position upserted) on a system with
 * the memory bus and store and nothing consuming the queue, for
 *
 * - `ready`: an order not yet picked up — no estimate (the path as it was before the estimate),
 * - `picked_up`: the estimate on every position, the courier far from the door (no push),
 * - `told`: the estimate near the door after the push went out (the flag seen: no store access),
 * - `cached`: as `picked_up` with the system's (memory) cache, where the order's position context
 *   is kept (the store read once per 10 s instead of each position),
 *
 * and, beside them, `read` — the order read alone, what a cached order would save — and
 * `estimate` — `estimateArrival` alone on an 8-position track. The variants alternate round by
 * round, the first rotating, after an unmeasured warm-up round; each figure is the median over
 * rounds, with its ratio to `ready` in the same run. CPU is process.cpuUsage (user + system).
 *
 *   npm run -s bench:arriving -- [--positions 3000] [--rounds 7]
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createDispatch,
  createLiveOrders,
  createStreetRouter,
  demoRestaurants,
  estimateArrival,
  type Fix,
  loadCity,
  memoizedRouter,
  type Order,
  type OrderStatus,
  type Principal,
  type Restaurant,
} from '@hubbub/delivery';
import { ManualClock, silentLogger } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import { watchMachine } from '../lib/machine.ts';

type Variant = 'ready' | 'picked_up' | 'told' | 'cached' | 'read' | 'estimate';
const VARIANTS: Variant[] = ['ready', 'picked_up', 'told', 'cached', 'read', 'estimate'];

const { values } = parseArgs({
  options: { positions: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '7' } },
});
const positions = Number(values.positions);
const rounds = Number(values.rounds);
if (!(positions >= 100) || !(rounds >= 1)) throw new Error('--positions ≥ 100, --rounds ≥ 1');

const DOOR = { lat: 47.62, lng: -122.315 };
const dir = mkdtempSync(join(tmpdir(), 'bench-arriving-'));
const system = await startSystem({
  port: 0,
  dataDir: dir,
  busUrl: 'memory://',
  storeUrl: 'memory://',
  rateLimits: false,
  logger: silentLogger,
});
const { database: db } = await system.store.databases.createIfNotExists({ id: 'delivery' });
const container = async (id: string, defaultTtl?: number) =>
  (await db.containers.createIfNotExists({ id, partitionKey: '/id', ...(defaultTtl ? { defaultTtl } : {}) })).container;
const [orders, restaurants, positionsContainer, arrivals] = await Promise.all([
  container('orders'),
  container('restaurants'),
  container('courier-positions'),
  container('arrivals', 604_800),
]);
const restaurant = demoRestaurants()[0]!;
await restaurants.items.upsert(restaurant);
await system.bus.admin.createQueue('locations');
await system.bus.admin.createTopic('orders');
await system.bus.admin.createSubscription('orders', 'notifications');
const places = new Map<string, Restaurant | undefined>();
// As the REST API routes orders (staff.ts): the demo city's streets, each pair of places routed once.
const routeFor = memoizedRouter(createStreetRouter(loadCity()));
const clock = new ManualClock(Date.now());
const courier: Principal = { id: 'u-courier', role: 'courier', sessionId: 's' };
let orderSeq = 0;

async function orderIn(status: OrderStatus): Promise<string> {
  const id = `o-bench-${++orderSeq}`;
  const at = new Date(clock.now()).toISOString();
  const order: Order = {
    id,
    customerId: 'u-customer',
    restaurantId: restaurant.id,
    status,
    deliveryAddress: DOOR,
    note: null,
    courierId: courier.id,
    reason: null,
    createdAt: at,
    updatedAt: at,
    history: [],
  };
  await orders.items.upsert(order);
  return id;
}

async function round(variant: Variant): Promise<number> {
  if (variant === 'estimate') {
    const track: Fix[] = Array.from({ length: 8 }, (_, i) => ({ lat: 47.61 + i * 1e-4, lng: -122.32, time: i * 1000 }));
    let sink = 0;
    const start = process.cpuUsage();
    for (let i = 0; i < positions; i++) sink += estimateArrival(track, DOOR)!.meters;
    const used = process.cpuUsage(start);
    if (sink === 0) throw new Error('unreachable');
    return (used.user + used.system) / positions;
  }
  const dispatch = createDispatch({
    orders,
    positions: positionsContainer,
    locations: system.bus.createSender('locations'),
    restaurant: async (id) => {
      if (!places.has(id)) places.set(id, (await restaurants.item(id, id).read<Restaurant>()).resource);
      return places.get(id);
    },
    live: createLiveOrders(undefined, silentLogger),
    clock,
    events: system.bus.createSender('orders'),
    arrivals,
    routeFor,
    ...(variant === 'cached' ? { cache: system.cache } : {}),
  });
  const id = await orderIn(variant === 'ready' ? 'ready' : 'picked_up');
  // Far (3 km south, moving north 8 m/s) or near the door (told on the first position).
  const south = variant === 'told' ? 150 : 3000;
  const at = (i: number) => ({ lat: DOOR.lat - (south - (i % 50) * 0.8) / 111_195, lng: DOOR.lng });
  if (variant === 'told') await dispatch.position(courier, id, at(0));
  const start = process.cpuUsage();
  for (let i = 0; i < positions; i++) {
    clock.advance(300); // within the courier's 4 positions a second
    if (variant === 'read') await orders.item(id, id).read<Order>();
    else await dispatch.position(courier, id, at(i));
  }
  const used = process.cpuUsage(start);
  if (variant === 'told' && (await arrivals.item(id, id).read()).resource === undefined) {
    throw new Error('the told variant should have sent its push first');
  }
  await system.bus.admin.deleteQueue('locations');
  await system.bus.admin.createQueue('locations');
  return (used.user + used.system) / positions;
}

const machine = watchMachine();
const perRound = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
process.stderr.write(`warm-up round: ${(await round('picked_up')).toFixed(1)} µs CPU per position (not counted)\n`);
for (let r = 0; r < rounds; r++) {
  const k = r % VARIANTS.length;
  for (const v of [...VARIANTS.slice(k), ...VARIANTS.slice(0, k)]) {
    const us = await round(v);
    perRound[v].push(Math.round(us * 100) / 100);
    process.stderr.write(`round ${r + 1} ${v}: ${us.toFixed(2)} µs CPU per position\n`);
  }
}
await system.close();
rmSync(dir, { recursive: true, force: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(perRound.ready);
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'delivery/arriving',
      what: 'CPU µs per courier position through dispatch.position (memory bus and store, one process)',
      positions,
      rounds,
      variants: Object.fromEntries(
        VARIANTS.map((v) => [
          v,
          {
            perRound: perRound[v],
            medianUs: median(perRound[v]),
            ratioToReady: Math.round((median(perRound[v]) / base) * 100) / 100,
          },
        ]),
      ),
      machine: machine.stop(),
      node: process.version,
    },
    null,
    2,
  )}\n`,
);
