/**
 * bench/orders: orders through Hubbub Delivery as `npm start` runs it (issue 15) — how many
 * orders per second the REST API accepts (202: on the bus durably), and how long a status change
 * takes from the restaurant's transition request to the customer's page (the official
 * `@microsoft/signalr` client in the order's group), each beside a baseline from the same run on
 * the same system: the order document written straight to the store (no API, no bus), and the
 * status sent straight to the order's hub group (no API).
 *
 *   node --import tsx --conditions=source bench/orders/run.ts [--store pglite|postgres]
 *        [--count 20000] [--seconds 5] [--concurrency 64] [--customers 20]
 *        [--rate 200] [--warmup 1] [--measure 6] [--profile file.cpuprofile]
 *        [--server-node-flags='--max-semi-space-size=8']
 *
 * `--profile` writes a CPU profile of the system process while orders are placed at full speed.
 *
 * The system runs in a child process (`server.ts`, with `npm start`'s Node flags); this process is
 * the load: the HTTP clients (keep-alive) and the customers' SignalR connections. Prints one JSON
 * object on stdout; progress goes to stderr. Bounded: every phase by time and count, the whole run
 * by RUN_TIMEOUT_MS.
 * @module
 */
import { Agent, request as httpRequest } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as signalR from '@microsoft/signalr';
import { Children } from '../lib/children.ts';
import type { Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';
import { now, orderRequest, type Quantiles, quantiles, r3, type StoreKind } from './common.ts';
import type { ServerApi } from './server.ts';

const { values: flags } = parseArgs({
  options: {
    store: { type: 'string', default: 'pglite' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    count: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    customers: { type: 'string', default: '20' },
    rate: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '1' },
    measure: { type: 'string', default: '6' },
    profile: { type: 'string' },
    'profile-status': { type: 'string' },
    'count-sql': { type: 'boolean', default: false },
    'accept-only': { type: 'boolean', default: false },
    'worker-threads': { type: 'string' },
    'server-node-flags': { type: 'string', default: '--max-semi-space-size=8' },
  },
});
const num = (name: keyof typeof flags, min: number, max: number) => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be in [${min}, ${max}]`);
  return value;
};
if (flags.store !== 'pglite' && flags.store !== 'postgres') throw new Error('--store must be pglite or postgres');
const config = {
  store: flags.store as StoreKind,
  /** Orders placed at full speed: at most this many, for at most `seconds`. */
  count: num('count', 1, 200_000),
  seconds: num('seconds', 1, 30),
  concurrency: num('concurrency', 1, 1024),
  customers: num('customers', 1, 200),
  /** The steady rate of the latency phases, per second. */
  rate: num('rate', 1, 5_000),
  warmupSec: num('warmup', 0, 10),
  measureSec: num('measure', 1, 30),
  /** The functions host's invocation threads (0: on the main thread); default: as `npm start` (deliveryApp.workerThreads). */
  workerThreads: flags['worker-threads'] === undefined ? undefined : num('worker-threads', 0, 8),
};
const TARGET_ACCEPTED_PER_SEC = 2_000;
const TARGET_STATUS_P99_MS = 50;
const RUN_TIMEOUT_MS = 3 * 60_000;
const DRAIN_MS = 30_000;

const log = (message: string) => process.stderr.write(`[orders] ${message}\n`);
const here = dirname(fileURLToPath(import.meta.url));
// The system runs with the Node flags `npm start` uses, and resolves packages as this process does.
const children = new Children(
  here,
  process.execArgv.filter((a) => a.startsWith('--conditions=')),
);

// ---- HTTP ---------------------------------------------------------------------------------------

let base = '';
let agent = new Agent({ keepAlive: true, maxSockets: 1024 });
/**
 * New connections for a phase: a keep-alive socket left idle past the server's keep-alive timeout
 * (5 s) is closed by the server, and a request sent on it as it closes fails with ECONNRESET.
 */
function freshConnections(): void {
  agent.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: 1024 });
}

interface Reply {
  status: number;
  body: string;
}

function call(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function signIn(email: string, password: string): Promise<{ token: string; id: string }> {
  const reply = await call('POST', '/api/v1/session', undefined, { email, password });
  if (reply.status !== 201) throw new Error(`sign-in of ${email}: ${reply.status} ${reply.body}`);
  const body = JSON.parse(reply.body) as { token: string; account: { id: string } };
  return { token: body.token, id: body.account.id };
}

/** Runs `work(i)` for i = 0…n-1, `concurrency` at a time. */
async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const countBy = (xs: readonly number[]) => {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
};

// ---- phases -------------------------------------------------------------------------------------

interface Customer {
  email: string;
  token: string;
  id: string;
}

interface Placed {
  orderId: string;
  customer: Customer;
}

/** Orders at full speed: `concurrency` clients, each placing the next order as soon as the last is answered. */
async function placeOrders(customers: Customer[], runTag: string, limits: { count: number; seconds: number }) {
  freshConnections();
  const accepted: Placed[] = [];
  const latencies: number[] = [];
  const refused: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const began = now();
  const deadline = began + limits.seconds * 1000;
  let last = began;
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (next < limits.count && now() < deadline) {
        const i = next++;
        const customer = customers[i % customers.length]!;
        const t = now();
        try {
          const reply = await call('POST', '/api/v1/orders', customer.token, orderRequest(i), {
            'idempotency-key': `bench-${runTag}-${i}`,
          });
          last = now();
          if (reply.status === 202) {
            latencies.push(last - t);
            accepted.push({ orderId: (JSON.parse(reply.body) as { id: string }).id, customer });
          } else {
            refused.push(reply.status);
            firstError ??= `${reply.status} ${reply.body.slice(0, 300)}`;
          }
        } catch (err) {
          errors++;
          firstError ??= String(err);
          last = now();
        }
      }
    }),
  );
  const seconds = (last - began) / 1000;
  return {
    phase: {
      placed: next,
      accepted: accepted.length,
      refused: countBy(refused),
      errors,
      ...(firstError === undefined ? {} : { firstError }),
      seconds: r3(seconds),
      acceptedPerSecond: Math.round(accepted.length / Math.max(seconds, 1e-3)),
      latencyMs: quantiles(latencies),
    },
    accepted,
  };
}

/**
 * Waits until the processor has taken every submission (`processed`: the seconds after the phase)
 * and the notifier every status event (`idle`), so the next phase starts on an idle system.
 */
async function drain(server: Peer<ServerApi>): Promise<{ seconds: number; left: number; idleSeconds: number }> {
  const began = now();
  let backlog = await server.call('backlog', null);
  let processed: number | undefined;
  while (now() - began < DRAIN_MS) {
    if (backlog.processing === 0) processed ??= now();
    if (backlog.processing === 0 && backlog.notifications === 0) break;
    await sleep(50);
    backlog = await server.call('backlog', null);
  }
  return {
    seconds: r3(((processed ?? now()) - began) / 1000),
    left: backlog.processing,
    idleSeconds: r3((now() - began) / 1000),
  };
}

interface Watcher {
  connection: signalR.HubConnection;
  /** `<orderId>/<status>` → arrival time (`now()`). */
  arrivals: Map<string, number>;
}

/** The customer's page: the official client on the order's URL, which POSTs `<url>/negotiate`. */
async function watch(customer: Customer, orderId: string): Promise<Watcher> {
  const arrivals = new Map<string, number>();
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${base}/api/v1/orders/${orderId}`, {
      accessTokenFactory: () => customer.token,
      transport: signalR.HttpTransportType.WebSockets,
    })
    .configureLogging(signalR.LogLevel.None)
    .build();
  connection.on('orderStatus', (s: { orderId: string; status: string }) => {
    const key = `${s.orderId}/${s.status}`;
    if (!arrivals.has(key)) arrivals.set(key, now());
  });
  await connection.start();
  return { connection, arrivals };
}

interface LatencyResult {
  path: string;
  sent: number;
  measured: number;
  received: number;
  missing: number;
  errors: number;
  latencyMs: Quantiles;
  /** Transition requests without an answer 5 s after the last was due (API path). */
  unanswered?: number;
  /** The transition request's own answer (API path). */
  requestMs?: Quantiles;
  refused?: Record<string, number>;
  firstError?: string;
  maxLateMs?: number;
}

/** One status change of the latency phases: order, the status it goes to. */
interface Change {
  order: Placed;
  status: string;
}

/** The restaurant's moves, in rounds over the orders: every order accepted, then preparing, then ready. */
const API_STATUSES = ['accepted', 'preparing', 'ready'] as const;
/** The direct baseline's statuses (names the API does not send in this run, so arrivals do not mix). */
const DIRECT_STATUSES = ['picked_up', 'delivered', 'cancelled'] as const;

function changesOf(orders: Placed[], statuses: readonly string[], count: number): Change[] {
  const changes: Change[] = [];
  for (const status of statuses)
    for (const order of orders) if (changes.length < count) changes.push({ order, status });
  return changes;
}

/** Latency from each change's due time (`t0 + k / rate`) to its arrival on the customer's connection. */
async function collect(
  path: string,
  changes: Change[],
  t0: number,
  watchers: Map<string, Watcher>,
  warm: number,
): Promise<{ latencyMs: Quantiles; received: number; missing: number; measured: number }> {
  const due = (k: number) => t0 + (k * 1000) / config.rate;
  const arrivalOf = (k: number) => {
    const { order, status } = changes[k]!;
    return watchers.get(order.customer.id)!.arrivals.get(`${order.orderId}/${status}`);
  };
  const waitUntil = now() + 5_000;
  while (now() < waitUntil && changes.some((_, k) => arrivalOf(k) === undefined)) await sleep(20);
  const latencies: number[] = [];
  let missing = 0;
  for (let k = warm; k < changes.length; k++) {
    const at = arrivalOf(k);
    if (at === undefined) missing++;
    else latencies.push(at - due(k));
  }
  log(`${path}: ${latencies.length}/${changes.length - warm} arrived`);
  return { latencyMs: quantiles(latencies), received: latencies.length, missing, measured: changes.length - warm };
}

/** The restaurant moves each order through the API, the k-th change at `t0 + k / rate` (open loop). */
async function transitions(changes: Change[], restaurantToken: string, watchers: Map<string, Watcher>, warm: number) {
  freshConnections();
  const t0 = now() + 100;
  const requestMs: number[] = [];
  const refused: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const inFlight: Promise<void>[] = [];
  let answered = 0;
  for (let k = 0; k < changes.length; k++) {
    const due = t0 + (k * 1000) / config.rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    const { order, status } = changes[k]!;
    inFlight.push(
      call('POST', `/api/v1/orders/${order.orderId}/transitions`, restaurantToken, { to: status }).then(
        (reply) => {
          answered++;
          if (reply.status === 200) {
            if (k >= warm) requestMs.push(now() - due);
          } else {
            refused.push(reply.status);
            firstError ??= `${reply.status} ${reply.body.slice(0, 300)}`;
          }
        },
        (err: unknown) => {
          answered++;
          errors++;
          firstError ??= String(err);
        },
      ),
    );
  }
  // Bounded: requests still unanswered 5 s after the last was due count as missing.
  const unanswered = await Promise.race([
    Promise.all(inFlight).then(() => 0),
    sleep(5_000).then(() => inFlight.length - answered),
  ]);
  const got = await collect('api', changes, t0, watchers, warm);
  return {
    path: 'POST /api/v1/orders/{id}/transitions {to} (restaurant: accepted, preparing, ready) → order read + replace (ifMatch) → topic orders → hub group order-<id> → customer',
    sent: changes.length,
    ...got,
    errors,
    unanswered,
    requestMs: quantiles(requestMs),
    refused: countBy(refused),
    ...(firstError === undefined ? {} : { firstError }),
  } satisfies LatencyResult;
}

async function directSends(server: Peer<ServerApi>, changes: Change[], watchers: Map<string, Watcher>, warm: number) {
  const t0 = now() + 200;
  const stats = await server.call(
    'directSend',
    { sends: changes.map((c) => ({ orderId: c.order.orderId, status: c.status })), t0, rate: config.rate },
    120_000,
  );
  const got = await collect('direct', changes, t0, watchers, warm);
  return {
    path: "signalR.hub('tracking').send(group order-<id>, 'orderStatus', [status]) in the system process → customer (no API)",
    sent: stats.sent,
    ...got,
    errors: stats.errors,
    maxLateMs: stats.maxLateMs,
  } satisfies LatencyResult;
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const runTimer = setTimeout(() => {
    log(`the whole run exceeded ${RUN_TIMEOUT_MS / 1000} s; stopping`);
    children.killAll();
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  const started = now();
  const machine = watchMachine();
  const server = children.start<ServerApi>(
    'server.ts',
    'system',
    flags['server-node-flags']!.split(' ').filter((f) => f !== ''),
  );
  const watchers = new Map<string, Watcher>();
  try {
    await server.serving;
    const info = await server.call('start', {
      store: config.store,
      customers: config.customers,
      postgresUrl: flags.postgres!,
      acceptOnly: flags['accept-only'] === true,
      ...(config.workerThreads === undefined ? {} : { workerThreads: config.workerThreads }),
    });
    base = info.url;
    log(`system at ${base} (${config.store}); signing in ${config.customers} customers and the restaurant`);
    const customers: Customer[] = [];
    customers.push({ email: 'customer@example.com', ...(await signIn('customer@example.com', info.password)) });
    for (const email of info.customers) customers.push({ email, ...(await signIn(email, info.customerPassword)) });
    const restaurant = await signIn('pike-street-pizza@example.com', info.password);

    // 1. Orders at full speed, until each is durable (202); then the processor's backlog drains.
    const runTag = `${process.pid}-${Date.now()}`;
    log(`placing orders: ${config.concurrency} clients, at most ${config.count} or ${config.seconds} s`);
    // Warm-up, not measured: a round of orders per client (cold code paths, first statements).
    const warmup = await placeOrders(customers, `${runTag}-warm`, { count: config.concurrency * 2, seconds: 10 });
    if (flags['accept-only'] !== true) await drain(server);
    log(`warm-up: ${warmup.phase.accepted} orders accepted in ${warmup.phase.seconds} s`);
    const cpuBefore = await server.call('cpu', null);
    await server.call('profileStart', { cpuProfile: flags.profile !== undefined, sql: flags['count-sql'] === true });
    const placed = await placeOrders(customers, runTag, config);
    const placing = placed.phase;
    const accepted = [...warmup.accepted, ...placed.accepted];
    const systemLoad = await server.call('profileStop', flags.profile === undefined ? {} : { file: flags.profile });
    // CPU per order is what the machine's other load does not change much (the rates above it does).
    const api = {
      ...placing,
      system: systemLoad,
      cpuMsPerOrder: r3(systemLoad.cpuMs / Math.max(placing.accepted, 1)),
      mainThreadCpuMsPerOrder: r3(systemLoad.mainThreadCpuMs / Math.max(placing.accepted, 1)),
    };
    log(
      `api: ${api.accepted} accepted in ${api.seconds} s = ${api.acceptedPerSecond}/s (p50 ${api.latencyMs.p50} ms, p99 ${api.latencyMs.p99} ms); refused ${JSON.stringify(api.refused)}, errors ${api.errors}; system main thread busy ${api.system.mainThreadBusyPercent}%, CPU ${api.system.cpuPercent}% (${api.cpuMsPerOrder} ms per order, ${api.mainThreadCpuMsPerOrder} ms of it on the main thread)`,
    );
    if (flags['accept-only'] === true) {
      // The API alone (processor and notifier disabled): what accepting an order costs by itself.
      const report = {
        benchmark: 'orders --accept-only',
        date: new Date().toISOString(),
        node: process.version,
        machine: machine.stop(),
        config,
        api,
      };
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    const drained = await drain(server);
    const processedPerSecond = Math.round(api.accepted / (api.seconds + drained.seconds));
    // Everything an order costs — accepted, processed, notified — over the phase and the drain
    // after it (a processor lagging in the phase does its share there).
    const cpuAfter = await server.call('cpu', null);
    const perOrder = (ms: number) => r3(ms / Math.max(api.accepted, 1));
    const cpuThroughDrain = {
      cpuMsPerOrder: perOrder(cpuAfter.cpuMs - cpuBefore.cpuMs),
      mainThreadCpuMsPerOrder: perOrder(cpuAfter.mainThreadCpuMs - cpuBefore.mainThreadCpuMs),
    };
    log(
      `processor: backlog drained ${drained.seconds} s after the phase (${drained.left} left): ${processedPerSecond}/s; notifier idle after ${drained.idleSeconds} s; through the drain ${cpuThroughDrain.cpuMsPerOrder} ms CPU per order, ${cpuThroughDrain.mainThreadCpuMsPerOrder} ms on the main thread`,
    );

    // 2. Baseline: the same number of order documents, created straight in the store.
    const store = await server.call(
      'storeInsert',
      {
        count: Math.max(api.accepted, 1),
        concurrency: config.concurrency,
        seconds: config.seconds,
        customerIds: customers.map((c) => c.id),
      },
      120_000,
    );
    log(
      `store: ${store.written} inserted in ${store.seconds} s = ${store.perSecond}/s (p99 ${store.latencyMs.p99} ms; ${store.cpuMsPerOrder} ms CPU each)`,
    );

    // 3. Status on the page at a steady rate: the customers' pages in their orders' groups.
    // Three changes per order (accepted, preparing, ready), in rounds over the orders.
    const wanted = Math.round(config.rate * (config.warmupSec + config.measureSec));
    const orders = accepted.slice(0, Math.ceil(wanted / API_STATUSES.length));
    const apiChanges = changesOf(orders, API_STATUSES, wanted);
    const directChanges = changesOf(orders, DIRECT_STATUSES, wanted);
    // Too few orders: the phase is shorter, the warm-up its share of it.
    const warm = Math.floor((apiChanges.length * config.warmupSec) / (config.warmupSec + config.measureSec));
    if (apiChanges.length < wanted) {
      log(`only ${orders.length} orders for ${wanted} status changes: the phase is shorter (${apiChanges.length})`);
    }
    // Each customer's one connection negotiates through its first order; the server grants its other
    // orders' groups to the same user on their negotiate (a user's groups apply to all its connections).
    const first = new Map<string, Placed>();
    for (const o of orders) if (!first.has(o.customer.id)) first.set(o.customer.id, o);
    for (const o of first.values()) watchers.set(o.customer.id, await watch(o.customer, o.orderId));
    const rest = orders.filter((o) => first.get(o.customer.id) !== o);
    let grantFailures = 0;
    await pool(rest.length, 16, async (i) => {
      const o = rest[i]!;
      const reply = await call('GET', `/api/v1/orders/${o.orderId}/negotiate`, o.customer.token);
      if (reply.status !== 200) grantFailures++;
    });
    log(`${watchers.size} customers connected, watching ${orders.length} orders (${grantFailures} grants failed)`);
    await server.call('profileStart', {
      cpuProfile: flags['profile-status'] !== undefined,
      sql: flags['count-sql'] === true,
    });
    const statusApi = {
      ...(await transitions(apiChanges, restaurant.token, watchers, warm)),
      system: {} as object,
    };
    const statusLoad = await server.call(
      'profileStop',
      flags['profile-status'] === undefined ? {} : { file: flags['profile-status'] },
    );
    statusApi.system = { ...statusLoad, cpuMsPerChange: r3(statusLoad.cpuMs / Math.max(apiChanges.length, 1)) };
    log(
      `status via API: p50 ${statusApi.latencyMs.p50} ms, p99 ${statusApi.latencyMs.p99} ms, max ${statusApi.latencyMs.max} ms; missing ${statusApi.missing}`,
    );
    const statusDirect = await directSends(server, directChanges, watchers, warm);
    log(
      `status direct: p50 ${statusDirect.latencyMs.p50} ms, p99 ${statusDirect.latencyMs.p99} ms, max ${statusDirect.latencyMs.max} ms; missing ${statusDirect.missing}`,
    );

    const ratio = (a: number, b: number) => (b === 0 ? null : r3(a / b));
    const report = {
      benchmark: 'orders',
      date: new Date().toISOString(),
      node: process.version,
      machine: machine.stop(),
      config: { ...config, restaurant: 'pike-street-pizza', system: 'startSystem as npm start (file bus, push on)' },
      wallSeconds: Math.round((now() - started) / 1000),
      throughput: {
        api: {
          path: 'POST /api/v1/orders (Idempotency-Key) → session (cache) + menu (cache) → topic orders (file bus, fsync; duplicate detection) → 202',
          ...api,
        },
        processor: {
          drainedSecondsAfter: drained.seconds,
          left: drained.left,
          processedPerSecond,
          notifierIdleSecondsAfter: drained.idleSeconds,
          /** The system's CPU from the phase's start until the backlog drained, per order accepted. */
          ...cpuThroughDrain,
        },
        store: {
          path: "container('orders').items.create(the document processOrder writes), in the system process",
          ...store,
        },
        ratioApiVsStore: ratio(api.acceptedPerSecond, store.perSecond),
        cpuRatioApiVsStore: ratio(api.cpuMsPerOrder, store.cpuMsPerOrder),
      },
      status: {
        customers: watchers.size,
        orders: orders.length,
        changes: apiChanges.length,
        warmupChanges: warm,
        grantFailures,
        api: statusApi,
        direct: statusDirect,
        ratioApiVsDirect: {
          p50: ratio(statusApi.latencyMs.p50, statusDirect.latencyMs.p50),
          p99: ratio(statusApi.latencyMs.p99, statusDirect.latencyMs.p99),
        },
      },
      targets: {
        acceptedPerSecond: {
          min: TARGET_ACCEPTED_PER_SEC,
          value: api.acceptedPerSecond,
          pass: api.acceptedPerSecond >= TARGET_ACCEPTED_PER_SEC && api.errors === 0,
        },
        statusP99Ms: {
          max: TARGET_STATUS_P99_MS,
          rate: config.rate,
          value: statusApi.latencyMs.p99,
          pass:
            statusApi.latencyMs.p99 < TARGET_STATUS_P99_MS &&
            statusApi.missing === 0 &&
            statusApi.errors === 0 &&
            (statusApi.unanswered ?? 0) === 0 &&
            apiChanges.length === wanted,
        },
      },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    clearTimeout(runTimer);
    await Promise.all([...watchers.values()].map((w) => w.connection.stop().catch(() => undefined)));
    agent.destroy();
    await children.stop(server as unknown as Peer<never>, { askToExit: true, timeoutMs: 15_000 });
  }
}

process.on('exit', () => children.killAll());
main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
