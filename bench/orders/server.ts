/**
 * bench/orders, the system process: Hubbub Delivery exactly as `npm start` composes it
 * (`startSystem` with the function app, the pages, the REST API part, push on) on a fresh
 * temporary data directory — the file bus and PGlite there, or `--store postgres` — driven over
 * IPC by `run.ts`. It also runs the baselines, in this process, on the same running system: the
 * order document written straight to the store (no API, no bus, no processor), and the live status
 * sent straight to the order's hub group (no API).
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
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
import { type RunningSystem, startSystem } from '@hubbub/system';
import pg from 'pg';
import { serveIpc } from '../lib/ipc.ts';
import { now, orderRequest, type Quantiles, quantiles, RESTAURANT, r3, type StoreKind } from './common.ts';

export type ServerApi = {
  start(args: { store: StoreKind; customers: number; postgresUrl: string }): Promise<{
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
    /** CPU time of the system process in the window, ms. */
    cpuMs: number;
    /** PGlite statements in the window (with `sql`), most frequent first. */
    sql?: { statement: string; count: number; totalMs: number }[];
  }>;
  exit(args: null): Promise<null>;
};

if (process.send === undefined) throw new Error('This script is started by bench/orders/run.ts.');

let system: RunningSystem | undefined;
let dataDir: string | undefined;
let storeKind: StoreKind = 'pglite';
let postgres: string | undefined;
const schema = `bench_orders_${process.pid}`;
let restaurantDoc: Restaurant | undefined;
let window: { elu: ReturnType<typeof performance.eventLoopUtilization>; cpu: NodeJS.CpuUsage; at: number } | undefined;
let inspector: Session | undefined;

/** Diagnostics: PGlite statements during a profile window, by their first words (count, total ms). */
let sqlCounts: Map<string, { n: number; ms: number }> | undefined;
const pgliteQuery = PGlite.prototype.query;
PGlite.prototype.query = async function (this: PGlite, ...args: Parameters<typeof pgliteQuery>) {
  const counts = sqlCounts;
  if (counts === undefined) return pgliteQuery.apply(this, args);
  const t = now();
  try {
    return await pgliteQuery.apply(this, args);
  } finally {
    const key = String(args[0]).replace(/\s+/g, ' ').slice(0, 120);
    const entry = counts.get(key) ?? { n: 0, ms: 0 };
    entry.n++;
    entry.ms += now() - t;
    counts.set(key, entry);
  }
} as typeof pgliteQuery;
const running = (): RunningSystem => {
  if (system === undefined) throw new Error('not started');
  return system;
};

serveIpc<ServerApi>({
  start: async ({ store, customers, postgresUrl }) => {
    storeKind = store;
    postgres = postgresUrl;
    dataDir = mkdtempSync(join(tmpdir(), 'hubbub-bench-orders-'));
    let api: DeliveryApi | undefined;
    system = await startSystem({
      port: 0,
      dataDir,
      ...(store === 'postgres' ? { storeUrl: `${postgresUrl}?schema=${schema}` } : {}),
      app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
      pages: deliveryApp.webFiles,
      parts: [(context) => (api = deliveryApiPart()(context))],
      secrets: deliveryApp.secrets,
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
    window = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), at: now() };
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
    };
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
