/**
 * The system under test: exactly what `npm start` composes (`startSystem` with the delivery app),
 * plus a paced location source inside the same process, driven by `run.ts` over IPC.
 *
 *   path 'function': `bus.createSender('locations').send(message)` → file (or memory) bus →
 *                    functions host → `forwardLocation` → SignalR output binding → hub group
 *   path 'direct':   `signalR.hub('tracking').send({kind:'groups', …}, 'location', [location])`,
 *                    the same location object the function would send; no queue, no function
 *
 * Every message is stamped `sentAt` (`process.hrtime`, ms: the system-wide monotonic clock the
 * client process reads too): the moment the rate made it due, so that a stall of this process
 * counts against every message it holds back.
 * `forwardLocation` passes only the fields it knows (orderid, storeid, courierid, lat, longitude,
 * timestamp), so the probe also travels in `courierid`: `probe:<phase>:<seq>:<sentAt>`.
 * @module
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { deliveryApp } from '@hubbub/delivery';
import type { WorkerHeap } from '@hubbub/functions';
import { silentLogger } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import { serveIpc } from '../lib/ipc.ts';
import { processMemoryKb } from '../lib/machine.ts';
import { classifyThreads, markBefore, type RoleStats, type ThreadRole, threadWindow, totalOf } from './threads.ts';

export type BusKind = 'file' | 'memory';
export type PathKind = 'function' | 'direct';

export interface PhaseStats {
  /** Messages sent in the measured window (warm-up excluded). */
  sent: number;
  /** Sends that failed (rejected by the bus or the hub). */
  sendErrors: number;
  firstError?: string;
  /** Achieved send rate over the measured window, messages/s. */
  rate: number;
  /** Largest number of messages one timer tick had to send (catching up after a late tick). */
  maxPerTick: number;
  /** Bus acknowledgement (durable append) of the measured sends, ms after sentAt: p50/p99/max. */
  sendAckMs?: { p50: number; p99: number; max: number };
  /**
   * Function path: sentAt → the hub's `send` called by the SignalR output binding, ms (queue,
   * receive loop and function invocation; the rest is hub → client).
   */
  toHubSendMs?: { p50: number; p99: number; max: number };
  /** Garbage-collection pauses of this process during the measured window. */
  gc: { count: number; totalMs: number; maxMs: number; major: number; majorMs: number };
  /** Event-loop delay during the measured window, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** CPU of this process during the measured window, % of one core. */
  cpuPercent: number;
  /** Share of the window the main thread was busy (event-loop utilization), %. */
  mainThreadBusyPercent: number;
  /** The process's resident memory at the window's end and its peak so far (Linux `VmHWM`), MB. */
  rssMb: { end: number; peak?: number };
  /**
   * Per thread role of this process (Linux; see `threads.ts`), per location sent in the window:
   * wake-ups (voluntary context switches), preemptions, CPU µs and µs runnable waiting for a core.
   */
  threads?: { total: Omit<RoleStats, 'threads'>; byRole: Partial<Record<ThreadRole, RoleStats>> };
}

export type ServerApi = {
  /**
   * Starts the system. `maxConcurrentCalls` (a what-if, not what `npm start` runs) starts a copy of
   * the function app whose host.json sets extensions.serviceBus.maxConcurrentCalls to it.
   */
  start(args: {
    bus: BusKind;
    maxConcurrentCalls?: number;
    /** The functions host's worker threads; unset: what `npm start` runs (deliveryApp.workerThreads). */
    workerThreads?: number;
    /** Their heap sizes (`{}`: the process's); unset: what `npm start` runs (deliveryApp.workerHeap). */
    workerHeap?: WorkerHeap;
    /** The bus's settleLingerMs; unset: what `npm start` runs (the bus's default). */
    settleLingerMs?: number;
    /** An application node of a cluster: its hub on this backplane takes no clients (hub nodes do). */
    cluster?: { backplaneUrl: string; signalRKey: string };
  }): Promise<{ port: number; url: string; dataDir: string; trackingKey: string }>;
  /** Clients the hub has (to check the load generator's count). */
  connections(args: null): number;
  /**
   * Sends at `rate` msg/s: `warmupMs` of warm-up (phase `warm`), then `measureMs` tagged `phase`;
   * resolves when every measured send has settled.
   */
  run(args: {
    path: PathKind;
    phase: string;
    rate: number;
    tickMs: number;
    warmupMs: number;
    measureMs: number;
    orders: number;
    /** Writes a CPU profile of the measured window to this file (`.cpuprofile`). */
    profile?: string;
  }): Promise<PhaseStats>;
  /** Messages waiting in queue `locations` (should be 0 after a phase). */
  backlog(args: null): Promise<number>;
  /** Closes the system, removes the data directory and exits soon after answering. */
  exit(args: null): Promise<null>;
};

if (process.send === undefined) throw new Error('This script is started by bench/e2e-latency/run.ts.');

// The system-wide monotonic clock (CLOCK_MONOTONIC on Linux), the same in every process.
// `performance.timeOrigin + performance.now()` is not: each process pairs its hrtime origin with a
// wall-clock reading taken at a slightly different moment, and two processes disagreed by ~1 ms.
const now = () => Number(process.hrtime.bigint()) / 1e6;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function quantiles(values: number[]): { p50: number; p99: number; max: number } {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: r3(at(0.5)), p99: r3(at(0.99)), max: r3(s[s.length - 1]!) };
}

/** A copy of the delivery function app (inside the repository, so `@azure/functions` resolves) with another maxConcurrentCalls. */
function patchedApp(maxConcurrentCalls: number): string {
  const dir = fileURLToPath(new URL(`../.tmp/e2e-latency-app-${maxConcurrentCalls}`, import.meta.url));
  rmSync(dir, { recursive: true, force: true });
  cpSync(deliveryApp.functionsDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const hostJson = JSON.parse(readFileSync(join(dir, 'host.json'), 'utf8')) as {
    extensions: { serviceBus: Record<string, unknown> };
  };
  hostJson.extensions.serviceBus.maxConcurrentCalls = maxConcurrentCalls;
  writeFileSync(join(dir, 'host.json'), JSON.stringify(hostJson, null, 2));
  return dir;
}

let system: Awaited<ReturnType<typeof startSystem>> | undefined;
let dataDir: string | undefined;
let roles = new Map<number, ThreadRole>();
markBefore();
const orderId = (i: number) => `bench-${i}`;

/** Resident memory now and at its peak (`VmHWM`, where /proc has it), MB. */
function rssMb(): { end: number; peak?: number } {
  const end = Math.round(process.memoryUsage.rss() / 2 ** 20);
  const { hwmKb } = processMemoryKb('self');
  return hwmKb === undefined ? { end } : { end, peak: Math.round(hwmKb / 1024) };
}

serveIpc<ServerApi>({
  start: async ({ bus, maxConcurrentCalls, workerThreads, workerHeap, settleLingerMs, cluster }) => {
    dataDir = mkdtempSync(join(tmpdir(), 'hubbub-e2e-latency-'));
    const appDir = maxConcurrentCalls === undefined ? deliveryApp.functionsDir : patchedApp(maxConcurrentCalls);
    system = await startSystem({
      port: 0,
      dataDir,
      ...(bus === 'memory' ? { busUrl: 'memory://' } : {}),
      ...(settleLingerMs === undefined ? {} : { busSettleLingerMs: settleLingerMs }),
      ...(cluster === undefined
        ? {}
        : { backplaneUrl: cluster.backplaneUrl, hubClients: false, keys: { signalR: cluster.signalRKey } }),
      app: {
        dir: appDir,
        queues: deliveryApp.queues,
        // What `npm start` runs unless the run asks for another count.
        workerThreads: workerThreads ?? deliveryApp.workerThreads,
        workerHeap: workerHeap ?? deliveryApp.workerHeap,
      },
      pages: deliveryApp.webFiles,
      secrets: deliveryApp.secrets,
      // One load generator on one address opens every customer: the per-address budgets of
      // `npm start` would pace the connect phase, not the latency measured here.
      rateLimits: false,
      logger: silentLogger,
    });
    roles = await classifyThreads();
    return { port: system.port, url: system.url, dataDir, trackingKey: system.keys.secrets.TrackingKey! };
  },
  connections: () => {
    if (system === undefined) throw new Error('not started');
    return system.signalR.hub('tracking').connectionCount;
  },
  run: ({ path, phase, rate, tickMs, warmupMs, measureMs, orders, profile }) => {
    if (system === undefined) throw new Error('not started');
    const sys = system;
    const sender = path === 'function' ? sys.bus.createSender(deliveryApp.queues[0]!) : undefined;
    const hub = sys.signalR.hub('tracking');
    const acks: number[] = [];
    // Stage split: wrap this hub's send (the output binding calls it) to time sentAt → hub send.
    const hubSends: number[] = [];
    const send = hub.send;
    const sendEncoded = hub.sendEncoded;
    if (sender !== undefined) {
      const marker = `probe:${phase}:`;
      // A measured probe (`probe:<phase>:<seq>:<sentAt>`) reached the hub: sentAt → now.
      const reached = (probe: string) => hubSends.push(now() - Number(probe.slice(probe.lastIndexOf(':') + 1)));
      hub.send = function timedSend(this: typeof hub, ...args: Parameters<typeof send>) {
        const probe = (args[2][0] as { courierid?: unknown } | undefined)?.courierid;
        if (typeof probe === 'string' && probe.startsWith(marker)) reached(probe);
        return send.apply(this, args);
      };
      // With an invocation thread the output binding hands over the record already encoded.
      hub.sendEncoded = function timedSendEncoded(this: typeof hub, ...args: Parameters<typeof sendEncoded>) {
        const json = args[1].json;
        const at = json.indexOf(`"${marker}`);
        if (at >= 0) reached(json.slice(at + 1, json.indexOf('"', at + 1)));
        return sendEncoded.apply(this, args);
      };
    }
    let session: Session | undefined;
    const pending = new Set<Promise<void>>();
    let sent = 0;
    let sendErrors = 0;
    let firstError: string | undefined;
    let maxPerTick = 0;
    let seq = 0;

    /**
     * `sentAt` is when the message was due by the rate, not when the late tick got to it: a stall
     * of this process (GC, a blocked loop) counts in full against every message it delays, not
     * only against those already in flight (no coordinated omission).
     */
    const sendOne = (measured: boolean, sentAt: number) => {
      const n = seq++;
      const orderid = orderId(n % orders);
      const courierid = `probe:${measured ? phase : 'warm'}:${n}:${sentAt}`;
      const lat = 47.6 + (n % 1000) / 100_000;
      const longitude = -122.3 - (n % 1000) / 100_000;
      let work: Promise<void>;
      if (sender !== undefined) {
        const body = { orderid, storeid: 7, courierid, lat, longitude, seq: n, sentAt };
        work = sender.send({ body, subject: 'driveby', contentType: 'application/json' });
        if (measured) work = work.then(() => void acks.push(now() - sentAt));
      } else {
        // What forwardLocation would send for that body.
        const location = { orderid, storeid: 7, courierid, lat, longitude, timestamp: new Date().toISOString() };
        work = hub.send({ kind: 'groups', names: [`order-${orderid}`] }, 'location', [location]);
      }
      const tracked: Promise<void> = work
        .catch((err: unknown) => {
          if (!measured) return;
          sendErrors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        })
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
      if (measured) sent++;
    };

    return new Promise<PhaseStats>((resolve) => {
      const t0 = now();
      const measureFrom = t0 + warmupMs;
      const end = measureFrom + measureMs;
      let due = 0;
      let measuring = false;
      let cpu0: NodeJS.CpuUsage | undefined;
      let elu0: ReturnType<typeof performance.eventLoopUtilization> | undefined;
      let measuredFrom = 0;
      let measuredSeq0 = 0;
      const threads = threadWindow(roles);
      const loop = monitorEventLoopDelay({ resolution: 1 });
      const gc = { count: 0, totalMs: 0, maxMs: 0, major: 0, majorMs: 0 };
      const gcObserver = new PerformanceObserver((list) => {
        if (!measuring) return;
        for (const entry of list.getEntries()) {
          gc.count++;
          gc.totalMs += entry.duration;
          gc.maxMs = Math.max(gc.maxMs, entry.duration);
          if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
            gc.major++;
            gc.majorMs += entry.duration;
          }
        }
      });
      gcObserver.observe({ entryTypes: ['gc'] });

      const tick = () => {
        const t = now();
        if (!measuring && t >= measureFrom) {
          measuring = true;
          measuredFrom = t;
          measuredSeq0 = seq;
          cpu0 = process.cpuUsage();
          elu0 = performance.eventLoopUtilization();
          threads.start();
          loop.enable();
          if (profile !== undefined) {
            session = new Session();
            session.connect();
            void session.post('Profiler.enable').then(() => session?.post('Profiler.start'));
            // Allocation sampling too, counting what the GC already collected: where the garbage comes from.
            void session.post('HeapProfiler.enable').then(() =>
              session?.post('HeapProfiler.startSampling', {
                samplingInterval: 32_768,
                includeObjectsCollectedByMajorGC: true,
                includeObjectsCollectedByMinorGC: true,
              }),
            );
          }
        }
        const target = Math.floor((Math.min(t, end) - t0) * (rate / 1000));
        const n = target - due;
        if (measuring) maxPerTick = Math.max(maxPerTick, n);
        // Message k (0-based from t0) falls due at t0 + (k + 1) / rate.
        for (let i = 0; i < n; i++) sendOne(measuring, t0 + ((due + i + 1) * 1000) / rate);
        due = target;
        if (t >= end) finish(t);
      };
      const timer = setInterval(tick, tickMs);

      const finish = (t: number) => {
        clearInterval(timer);
        loop.disable();
        gcObserver.disconnect();
        const cpu = process.cpuUsage(cpu0);
        const elu = performance.eventLoopUtilization(elu0);
        const byRole = threads.stop(seq - measuredSeq0);
        const windowMs = t - measuredFrom;
        const eventLoopDelayMs = {
          p50: r3(loop.percentile(50) / 1e6),
          p99: r3(loop.percentile(99) / 1e6),
          max: r3(loop.max / 1e6),
        };
        const measuredCount = seq - measuredSeq0;
        void Promise.allSettled([...pending]).then(async () => {
          await sender?.close();
          hub.send = send;
          hub.sendEncoded = sendEncoded;
          if (session !== undefined && profile !== undefined) {
            const { profile: cpuProfile } = await session.post('Profiler.stop');
            const { profile: heapProfile } = await session.post('HeapProfiler.stopSampling');
            session.disconnect();
            mkdirSync(dirname(profile), { recursive: true });
            writeFileSync(profile, JSON.stringify(cpuProfile));
            writeFileSync(profile.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(heapProfile));
          }
          resolve({
            sent,
            sendErrors,
            ...(firstError === undefined ? {} : { firstError }),
            rate: Math.round((measuredCount / windowMs) * 1000),
            maxPerTick,
            ...(sender === undefined ? {} : { sendAckMs: quantiles(acks), toHubSendMs: quantiles(hubSends) }),
            gc: { ...gc, totalMs: r3(gc.totalMs), maxMs: r3(gc.maxMs), majorMs: r3(gc.majorMs) },
            eventLoopDelayMs,
            cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / windowMs) * 1000) / 10,
            mainThreadBusyPercent: Math.round(elu.utilization * 1000) / 10,
            rssMb: rssMb(),
            ...(byRole === undefined ? {} : { threads: { total: totalOf(byRole), byRole } }),
          });
        });
      };
    });
  },
  backlog: async () => {
    if (system === undefined) throw new Error('not started');
    const props = await system.bus.admin.getRuntimeProperties(deliveryApp.queues[0]!);
    return props.activeMessageCount;
  },
  exit: async () => {
    await system?.close().catch(() => undefined);
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    setTimeout(() => process.exit(0), 10);
    return null;
  },
});
