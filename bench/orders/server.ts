/**
 * bench/orders, the system process: Hubbub Delivery exactly as `npm start` composes it
 * (`startSystem` with the function app, the pages, the REST API part, push on) on a fresh
 * temporary data directory — the file bus and PGlite there, or `--store postgres` — driven over
 * IPC by `run.ts`. It also runs the baselines, in this process, on the same running system: the
 * order document written straight to the store (no API, no bus, no processor), and the live status
 * sent straight to the order's hub group (no API).
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  accountIdOf,
  type DeliveryApi,
  deliveryApiPart,
  deliveryApp,
  hashPassword,
  ORDER_STATUS_TARGET,
  orderGroup,
  priceOrder,
  type Restaurant,
  seedDemoAccounts,
} from '@hubbub/delivery';
import { silentLogger } from '@hubbub/kernel';
import { SqlDriver, type SqlExecutor, type SqlQuery } from '@hubbub/store/driver';
import { type RunningSystem, startSystem } from '@hubbub/system';
import pg from 'pg';
import { serveIpc } from '../lib/ipc.ts';
import { now, orderRequest, type Quantiles, quantiles, RESTAURANT, r3, type StoreKind } from './common.ts';

export type ServerApi = {
  /** `acceptOnly`: the processor and the notifier disabled (`AzureWebJobs.<name>.Disabled`): the API alone. */
  /** `workerThreads`: the functions host's invocation threads (`app.workerThreads`; default: deliveryApp's, as `npm start`). */
  start(args: {
    store: StoreKind;
    customers: number;
    postgresUrl: string;
    acceptOnly: boolean;
    workerThreads?: number;
  }): Promise<{
    url: string;
    password: string;
    customers: string[];
    customerPassword: string;
  }>;
  /** Messages not yet processed (active, locked ones included): submissions, and status events for the notifier. */
  backlog(args: null): Promise<{ processing: number; notifications: number }>;
  /** The same order documents the processor writes, created straight in container `orders`. */
  storeInsert(args: { count: number; concurrency: number; seconds: number; customerIds: string[] }): Promise<{
    written: number;
    failed: number;
    seconds: number;
    perSecond: number;
    latencyMs: Quantiles;
    /** CPU time of this process per document written (this process's other work included). */
    cpuMsPerOrder: number;
  }>;
  /** `orderStatus` sent straight to each order's group, the k-th at `t0 + k / rate` (hub send, no API). */
  directSend(args: { sends: { orderId: string; status: string }[]; t0: number; rate: number }): Promise<{
    sent: number;
    errors: number;
    maxLateMs: number;
  }>;
  /** Starts a CPU profile and an event-loop utilization window. */
  profileStart(args: { cpuProfile: boolean; sql: boolean }): Promise<null>;
  /** Ends them: the main thread's busy share, the CPU used; the profile written to `file`. */
  profileStop(args: { file?: string }): Promise<{
    mainThreadBusyPercent: number;
    cpuPercent: number;
    /** CPU time of the system process in the window, ms (every thread: PGlite's, the GC's …). */
    cpuMs: number;
    /** CPU time of its main thread (the event loop: HTTP, bus, functions host), ms (10 ms ticks). */
    mainThreadCpuMs: number;
    /** PGlite statements in the window (with `sql`), most frequent first. */
    sql?: { statement: string; count: number; totalMs: number }[];
  }>;
  /** CPU time the system process has used so far, ms: every thread, and its main thread alone. */
  cpu(args: null): Promise<{ cpuMs: number; mainThreadCpuMs: number }>;
  exit(args: null): Promise<null>;
};

if (process.send === undefined) throw new Error('This script is started by bench/orders/run.ts.');

let system: RunningSystem | undefined;
let dataDir: string | undefined;
let storeKind: StoreKind = 'pglite';
let postgres: string | undefined;
const schema = `bench_orders_${process.pid}`;
let restaurantDoc: Restaurant | undefined;
let window:
  | { elu: ReturnType<typeof performance.eventLoopUtilization>; cpu: NodeJS.CpuUsage; main: number; at: number }
  | undefined;

/** CPU time of the calling thread in ms, from /proc/thread-self/stat (utime + stime, 100 Hz ticks). */
function threadCpuMs(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
let inspector: Session | undefined;

/**
 * Diagnostics: the store's SQL statements during a profile window, by their first words (count,
 * total ms from the call to the answer — with PGlite in its thread, the wait for it included).
 * Counted where the SQL driver hands each statement to its executor (PGlite or `pg`).
 */
let sqlCounts: Map<string, { n: number; ms: number }> | undefined;
const executorOf = Object.getOwnPropertyDescriptor(SqlDriver.prototype, 'executor')!.get!;
const counted = new WeakMap<object, SqlExecutor>();
const timed =
  (query: SqlQuery): SqlQuery =>
  async (text, ...rest) => {
    const counts = sqlCounts;
    if (counts === undefined) return query(text, ...rest);
    const t = now();
    try {
      return await query(text, ...rest);
    } finally {
      const key = String(text).replace(/\s+/g, ' ').slice(0, 120);
      const entry = counts.get(key) ?? { n: 0, ms: 0 };
      entry.n++;
      entry.ms += now() - t;
      counts.set(key, entry);
    }
  };
Object.defineProperty(SqlDriver.prototype, 'executor', {
  get(this: SqlDriver): SqlExecutor {
    const executor = executorOf.call(this) as SqlExecutor;
    let wrapped = counted.get(executor);
    if (wrapped === undefined) {
      wrapped = {
        query: timed(executor.query),
        transaction: (work) => executor.transaction((q) => work(timed(q))),
        close: () => executor.close(),
      };
      counted.set(executor, wrapped);
    }
    return wrapped;
  },
});
const running = (): RunningSystem => {
  if (system === undefined) throw new Error('not started');
  return system;
};

serveIpc<ServerApi>({
  start: async ({ store, customers, postgresUrl, acceptOnly, workerThreads }) => {
    storeKind = store;
    postgres = postgresUrl;
    dataDir = mkdtempSync(join(tmpdir(), 'hubbub-bench-orders-'));
    let api: DeliveryApi | undefined;
    system = await startSystem({
      port: 0,
      dataDir,
      ...(store === 'postgres' ? { storeUrl: `${postgresUrl}?schema=${schema}` } : {}),
      app: {
        dir: deliveryApp.functionsDir,
        queues: deliveryApp.queues,
        workerThreads: workerThreads ?? deliveryApp.workerThreads,
      },
      pages: deliveryApp.webFiles,
      parts: [(context) => (api = deliveryApiPart()(context))],
      secrets: deliveryApp.secrets,
      ...(acceptOnly
        ? { settings: { 'AzureWebJobs.processOrder.Disabled': 'true', 'AzureWebJobs.notifyOrder.Disabled': 'true' } }
        : {}),
      // One load generator on one address: the per-address budgets of `npm start` would pace the
      // load generator, not measure the system.
      rateLimits: false,
      logger: silentLogger,
    });
    await api!.ready();
    const password = system.keys.secrets.DemoPassword!;
    await seedDemoAccounts(system.store, password);
    // More customers beside the demo one, written as the API's sign-up writes them but with a
    // cheaper scrypt (logN 10 instead of 15): their sign-ins are setup, not what is measured.
    const customerPassword = 'bench-orders-customer';
    const accounts = system.store.database('delivery').container('accounts');
    const hash = await hashPassword(customerPassword, { logN: 10, r: 8, p: 1 });
    const emails: string[] = [];
    for (let i = 1; i < customers; i++) {
      const email = `bench-customer-${i}@example.com`;
      emails.push(email);
      await accounts.items.upsert({
        id: accountIdOf(email),
        email,
        name: `Bench customer ${i}`,
        role: 'customer',
        passwordHash: hash,
        createdAt: new Date().toISOString(),
      });
    }
    restaurantDoc = (
      await system.store.database('delivery').container('restaurants').item(RESTAURANT, RESTAURANT).read<Restaurant>()
    ).resource;
    return { url: system.url, password, customers: emails, customerPassword };
  },

  backlog: async () => {
    const admin = running().bus.admin;
    const count = async (subscription: string) =>
      (await admin.getRuntimeProperties({ topic: 'orders', subscription })).activeMessageCount;
    return { processing: await count('processing'), notifications: await count('notifications') };
  },

  storeInsert: async ({ count, concurrency, seconds, customerIds }) => {
    const orders = running().store.database('delivery').container('orders');
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const cpu = process.cpuUsage();
    const began = now();
    const deadline = began + seconds * 1000;
    let last = began;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count && now() < deadline) {
          const i = next++;
          const request = orderRequest(i);
          const at = new Date().toISOString();
          const customerId = customerIds[i % customerIds.length]!;
          // What processOrder writes for a submission (functions/src/functions/process-order.js).
          const doc = {
            id: `base-${process.pid}-${i}`,
            customerId,
            restaurantId: request.restaurantId,
            deliveryAddress: request.deliveryAddress,
            note: null,
            requestHash: 'x'.repeat(43),
            createdAt: at,
            updatedAt: at,
            courierId: null,
            reason: null,
            restaurantName: restaurantDoc?.name,
            status: 'placed',
            ...priceOrder(restaurantDoc, request),
            history: [{ status: 'placed', at, by: `customer:${customerId}` }],
          };
          const t = now();
          try {
            await orders.items.create(doc);
            latencies.push(now() - t);
          } catch {
            failed++;
          }
          last = now();
        }
      }),
    );
    const secondsTaken = (last - began) / 1000;
    const used = process.cpuUsage(cpu);
    return {
      cpuMsPerOrder: r3((used.user + used.system) / 1000 / Math.max(latencies.length, 1)),
      written: latencies.length,
      failed,
      seconds: r3(secondsTaken),
      perSecond: Math.round(latencies.length / Math.max(secondsTaken, 1e-3)),
      latencyMs: quantiles(latencies),
    };
  },

  directSend: ({ sends: due, t0, rate }) => {
    const hub = running().signalR.hub('tracking');
    let k = 0;
    let errors = 0;
    let maxLateMs = 0;
    const sends: Promise<unknown>[] = [];
    return new Promise((resolve) => {
      const tick = () => {
        const t = now();
        while (k < due.length && t0 + (k * 1000) / rate <= t) {
          maxLateMs = Math.max(maxLateMs, t - (t0 + (k * 1000) / rate));
          const { orderId, status } = due[k++]!;
          // The object the API's live.ts sends at a transition.
          sends.push(
            hub
              .send({ kind: 'groups', names: [orderGroup(orderId)] }, ORDER_STATUS_TARGET, [
                { orderId, status, at: new Date().toISOString(), reason: null },
              ])
              .catch(() => void errors++),
          );
        }
        if (k >= due.length) {
          clearInterval(timer);
          void Promise.all(sends).then(() => resolve({ sent: k, errors, maxLateMs: r3(maxLateMs) }));
        }
      };
      const timer = setInterval(tick, 1);
    });
  },

  profileStart: async ({ cpuProfile, sql }) => {
    sqlCounts = sql ? new Map() : undefined;
    window = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), main: threadCpuMs(), at: now() };
    if (cpuProfile) {
      inspector = new Session();
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.start');
    }
    return null;
  },

  profileStop: async ({ file }) => {
    if (window === undefined) throw new Error('no profile started');
    const elu = performance.eventLoopUtilization(window.elu);
    const cpu = process.cpuUsage(window.cpu);
    const mainThreadCpuMs = threadCpuMs() - window.main;
    const wallUs = (now() - window.at) * 1000;
    if (inspector !== undefined) {
      const { profile } = await inspector.post('Profiler.stop');
      if (file !== undefined) writeFileSync(file, JSON.stringify(profile));
      inspector.disconnect();
      inspector = undefined;
    }
    window = undefined;
    const sql =
      sqlCounts === undefined
        ? undefined
        : [...sqlCounts.entries()]
            .sort((a, b) => b[1].n - a[1].n)
            .map(([statement, { n, ms }]) => ({ statement, count: n, totalMs: Math.round(ms) }));
    sqlCounts = undefined;
    return {
      ...(sql === undefined ? {} : { sql }),
      mainThreadBusyPercent: Math.round(elu.utilization * 1000) / 10,
      cpuPercent: Math.round(((cpu.user + cpu.system) / wallUs) * 1000) / 10,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      mainThreadCpuMs,
    };
  },

  cpu: async () => {
    const used = process.cpuUsage();
    return { cpuMs: (used.user + used.system) / 1000, mainThreadCpuMs: threadCpuMs() };
  },

  exit: async () => {
    await system?.close().catch(() => undefined);
    if (storeKind === 'postgres' && postgres !== undefined) {
      // The run's schema and everything in it (the delivery, push and other databases).
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
    }
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    setTimeout(() => process.exit(0), 10);
    return null;
  },
});
