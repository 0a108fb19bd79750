/**
 * bench/function-path: main-thread CPU per courier location through the function path, in
 * isolation — `startSystem` with the delivery app, no customers connected — beside a plain bus
 * processor doing the same hub send, alternating in one process (the baseline of the same run).
 *
 *   function:  sender.send(location) → bus queue `locations` → functions host → `forwardLocation`
 *              (the real `@azure/functions` invocation model) → signalR output → hub group send
 *   processor: sender.send(location) → bus queue `locations-plain` → `bus.createProcessor` (128 in
 *              flight, as the app's host.json) → the object forwardLocation builds → the same hub
 *              sends (its order's group, and every other group the function sent to)
 *   direct:    (`--paths …,direct`) the object forwardLocation builds → the same hub sends; no bus
 *   floor:     (first in every round unless `--no-floor`) the same pacing timer and bodies, nothing
 *              sent: each path is also reported above it (µs and main-thread wake-ups per location)
 *
 * Load-robust measures: CPU time of the main thread (`/proc/self/task/<pid>/schedstat`, ns on a
 * core — waiting for a core does not count) and of the whole process per location, GC pauses
 * (PerformanceObserver 'gc'). The pacing timer, the sender and the bus are in both paths.
 *
 *   node --max-semi-space-size=8 --expose-gc --import tsx --conditions=source bench/function-path/run.ts
 *        [--bus memory|file] [--rate 1000] [--warmup 2] [--measure 5] [--rounds 3]
 *        [--paths function,processor] [--worker-threads N] [--worker-heap OLD,SEMI] [--profile FILE.cpuprofile]
 *        [--saturate 1000,2000,4000,8000,12000,16000] [--prefetch N] [--no-floor]
 *
 * `--worker-threads N` runs the app's invocations on N worker threads (the main thread keeps the
 * bus, triggers, bindings and hub); without it, as many as `npm start` runs (deliveryApp.workerThreads);
 * `--worker-heap OLD,SEMI` gives them that initial old space and largest semi-space, MB (0: the
 * process's; without it, deliveryApp.workerHeap). `--profile` writes a CPU and an allocation profile of the last
 * measured function window (main thread). `--prefetch N` runs a copy of the app whose host.json sets
 * `prefetchCount` (a what-if). `--saturate` runs each path at rising rates (after `--warmup` s at the first
 * rate, unmeasured: 1 s warm-up, `--measure` s each) until the due → hub send p99 passes 50 ms: the saturation throughput.
 *
 * One JSON object on stdout; progress on stderr.
 * @module
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deliveryApp } from '@hubbub/delivery';
import { silentLogger } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import { mainThreadNs, mainThreadSleeps, watchMachine } from '../lib/machine.ts';
import { workerHeapFlag } from '../lib/worker-heap.ts';

const { values: flags } = parseArgs({
  options: {
    bus: { type: 'string', default: 'memory' },
    rate: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '2' },
    measure: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    paths: { type: 'string', default: 'function,processor' },
    'worker-threads': { type: 'string' },
    'worker-heap': { type: 'string' },
    saturate: { type: 'string' },
    prefetch: { type: 'string' },
    profile: { type: 'string' },
    'no-floor': { type: 'boolean', default: false },
  },
});
const rate = Number(flags.rate);
/** `--saturate 1000,2000,…`: each path at rising rates until the due → hub send p99 passes 50 ms. */
const saturateRates = flags.saturate === undefined ? [] : flags.saturate.split(',').map(Number);
const SATURATION_P99_MS = 50;
const warmupMs = Number(flags.warmup) * 1000;
const measureMs = Number(flags.measure) * 1000;
const rounds = Number(flags.rounds);
type Path = 'function' | 'processor' | 'direct' | 'floor';
const paths = flags.paths.split(',') as Path[];
for (const p of paths) {
  if (!['function', 'processor', 'direct', 'floor'].includes(p))
    throw new Error(`--paths: '${p}' is not function, processor, direct or floor`);
}
/** Each round measures the floor first (the pacing timer and the bookkeeping, nothing sent), unless --no-floor. */
const withFloor = !flags['no-floor'] && !paths.includes('floor');
const gc = (globalThis as { gc?: () => void }).gc;

const log = (line: string) => process.stderr.write(`[function-path] ${line}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/**
 * `--prefetch N`: a copy of the app (inside the repository, so `@azure/functions` resolves) whose
 * host.json sets extensions.serviceBus.prefetchCount — a what-if, not what `npm start` runs.
 */
function appWithPrefetch(prefetchCount: number): string {
  const dir = fileURLToPath(new URL(`../.tmp/function-path-app-prefetch-${prefetchCount}`, import.meta.url));
  rmSync(dir, { recursive: true, force: true });
  cpSync(deliveryApp.functionsDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const hostJson = JSON.parse(readFileSync(join(dir, 'host.json'), 'utf8')) as {
    extensions: { serviceBus: Record<string, unknown> };
  };
  hostJson.extensions.serviceBus.prefetchCount = prefetchCount;
  writeFileSync(join(dir, 'host.json'), JSON.stringify(hostJson, null, 2));
  return dir;
}

const dataDir = mkdtempSync(join(tmpdir(), 'hubbub-function-path-'));
const machine = watchMachine();
const system = await startSystem({
  port: 0,
  dataDir,
  ...(flags.bus === 'memory' ? { busUrl: 'memory://' } : {}),
  app: {
    dir: flags.prefetch === undefined ? deliveryApp.functionsDir : appWithPrefetch(Number(flags.prefetch)),
    queues: deliveryApp.queues,
    // What `npm start` runs unless the run asks for another count.
    workerThreads: flags['worker-threads'] === undefined ? deliveryApp.workerThreads : Number(flags['worker-threads']),
    workerHeap: workerHeapFlag(flags['worker-heap']) ?? deliveryApp.workerHeap,
  },
  pages: deliveryApp.webFiles,
  secrets: deliveryApp.secrets,
  logger: silentLogger,
});
const queue = deliveryApp.queues[0]!;
const plainQueue = `${queue}-plain`;
await system.bus.admin.createQueue(plainQueue);
const hub = system.signalR.hub('tracking');

// Every hub send to an order's group, of either path, is counted (and timed from the message's due time) here.
let hubSends = 0;
const toHubSend: number[] = [];
const send = hub.send;
/** Groups the function sends each location to besides its order's (the operations board's): the processor sends there too. */
const otherGroups = new Set<string>();
hub.send = function countedSend(this: typeof hub, ...args: Parameters<typeof send>) {
  const audience = args[0];
  const group = audience.kind === 'groups' ? audience.names[0] : undefined;
  if (group?.startsWith('order-')) {
    hubSends++;
    const sentAt = (args[2][0] as { courierid?: unknown } | undefined)?.courierid;
    if (typeof sentAt === 'string') toHubSend.push(now() - Number(sentAt));
  } else if (group !== undefined) {
    otherGroups.add(group);
  }
  return send.apply(this, args);
};

// The function path's SignalR output reaches the hub pre-encoded (the worker thread wrote the JSON
// protocol's record): counted the same way, the due time read from the text (absent in older trees).
const sendEncoded = (hub as Partial<Pick<typeof hub, 'sendEncoded'>>).sendEncoded;
if (sendEncoded !== undefined) {
  hub.sendEncoded = function countedSendEncoded(this: typeof hub, ...args: Parameters<typeof sendEncoded>) {
    const audience = args[0];
    const group = audience.kind === 'groups' ? audience.names[0] : undefined;
    if (group?.startsWith('order-')) {
      hubSends++;
      const json = args[1].json;
      const at = json.indexOf('"courierid":"');
      if (at >= 0) toHubSend.push(now() - Number(json.slice(at + 13, json.indexOf('"', at + 13))));
    } else if (group !== undefined) {
      otherGroups.add(group);
    }
    return sendEncoded.apply(this, args);
  };
}

type Body = { orderid: string; storeid: unknown; courierid: unknown; lat: number; longitude: number };

/** What `forwardLocation` makes of a body, sent to the same groups: the processor's work, and all of the direct path's. */
async function forward(value: Body): Promise<void> {
  const location = {
    orderid: String(value.orderid),
    storeid: value.storeid ?? null,
    courierid: value.courierid ?? null,
    lat: Number(value.lat),
    longitude: Number(value.longitude),
    timestamp: new Date().toISOString(),
  };
  await hub.send({ kind: 'groups', names: [`order-${location.orderid}`] }, 'location', [location]);
  for (const group of otherGroups) await hub.send({ kind: 'groups', names: [group] }, 'location', [location]);
}

// The baseline: what a hand-written bus consumer does with the same message.
const processor = system.bus.createProcessor(plainQueue, (message) => forward(message.body as Body), {
  maxConcurrentCalls: 128,
});

let profiled = 0;
/** The floor window's bodies, dropped when it settles (what the sender would have kept alive). */
const floorSink: object[] = [];

interface Window {
  path: string;
  rate: number;
  messages: number;
  mainThreadUsPerMessage: number;
  /** Main-thread µs per location above the floor window of the same round (null for the floor itself). */
  aboveFloorUsPerMessage: number | null;
  /** Times the main thread went to sleep (voluntary context switches), per location: its wake-ups. */
  wakeUpsPerMessage: number;
  /** The same above the floor of the same round. */
  wakeUpsAboveFloor: number | null;
  processCpuUsPerMessage: number;
  gc: { count: number; totalMs: number; p99Ms: number; maxMs: number };
  dueToHubSendMs: { p50: number; p99: number; max: number };
}

/** Sends at `rate` for warm-up + measure; measures the measured window once every send reached the hub. */
async function phase(path: Path, rate: number, warmupMs: number, measureMs: number): Promise<Window> {
  const sender = system.bus.createSender(path === 'function' ? queue : plainQueue);
  let seq = 0;
  const pending = new Set<Promise<void>>();
  const sendOne = (sentAt: number) => {
    const n = seq++;
    const orderid = `bench-${n % 1000}`;
    const body = {
      orderid,
      storeid: 7,
      courierid: String(sentAt),
      lat: 47.6 + (n % 1000) / 100_000,
      longitude: -122.3 - (n % 1000) / 100_000,
      seq: n,
      sentAt,
    };
    // The floor: the same body and bookkeeping, nothing sent.
    if (path === 'floor') return void floorSink.push(body);
    const work: Promise<void> = (
      path === 'direct' ? forward(body) : sender.send({ body, subject: 'driveby', contentType: 'application/json' })
    ).finally(() => pending.delete(work));
    pending.add(work);
  };
  const paced = (ms: number) =>
    new Promise<number>((resolve) => {
      const t0 = now();
      let due = 0;
      const timer = setInterval(() => {
        const t = now();
        const target = Math.floor((Math.min(t, t0 + ms) - t0) * (rate / 1000));
        for (let i = due; i < target; i++) sendOne(t0 + ((i + 1) * 1000) / rate);
        due = target;
        if (t >= t0 + ms) {
          clearInterval(timer);
          resolve(due);
        }
      }, 1);
    });
  const settled = async (expected: number) => {
    if (path === 'floor') {
      floorSink.length = 0;
      return;
    }
    const until = now() + 30_000;
    while (hubSends < expected && now() < until) await new Promise((r) => setTimeout(r, 5));
    await Promise.allSettled([...pending]);
    if (hubSends < expected) throw new Error(`${path}: ${hubSends} of ${expected} hub sends in 30 s`);
  };

  hubSends = 0;
  await settled(await paced(warmupMs));
  gc?.();
  hubSends = 0;
  toHubSend.length = 0;
  const pauses: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  const main0 = mainThreadNs();
  const sleeps0 = mainThreadSleeps();
  const cpu0 = process.cpuUsage();
  let session: Session | undefined;
  if (flags.profile !== undefined && path === 'function' && session === undefined && profiled++ === rounds - 1) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 50 });
    await session.post('Profiler.start');
    // Allocation sampling, counting what the GC already collected too: where the garbage comes from.
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const sent = await paced(measureMs);
  await settled(sent);
  const mainNs = mainThreadNs() - main0;
  const sleeps = mainThreadSleeps() - sleeps0;
  const cpu = process.cpuUsage(cpu0);
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(flags.profile!, JSON.stringify(profile));
    const { profile: heap } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(flags.profile!.replace(/(\.cpuprofile)?$/, '.heapprofile'), JSON.stringify(heap));
    session.disconnect();
  }
  observer.disconnect();
  await sender.close();
  const sorted = Float64Array.from(toHubSend).sort();
  const gcSorted = Float64Array.from(pauses).sort();
  return {
    path,
    rate,
    messages: sent,
    mainThreadUsPerMessage: r1(mainNs / 1000 / sent),
    aboveFloorUsPerMessage: null,
    wakeUpsPerMessage: r3(sleeps / sent),
    wakeUpsAboveFloor: null,
    processCpuUsPerMessage: r1((cpu.user + cpu.system) / sent),
    gc: {
      count: pauses.length,
      totalMs: r1(pauses.reduce((a, b) => a + b, 0)),
      p99Ms: r3(quantile(gcSorted, 0.99)),
      maxMs: r3(gcSorted[gcSorted.length - 1] ?? 0),
    },
    dueToHubSendMs: {
      p50: r3(quantile(sorted, 0.5)),
      p99: r3(quantile(sorted, 0.99)),
      max: r3(sorted[sorted.length - 1] ?? 0),
    },
  };
}

const windows: Window[] = [];
const saturation: Record<
  string,
  {
    rates: { rate: number; p99Ms: number; mainThreadUsPerMessage: number }[];
    saturatedAt: number | null;
    lastHeld: number | null;
  }
> = {};

try {
  for (const path of saturateRates.length === 0 ? [] : paths) {
    const steps: (typeof saturation)[string]['rates'] = [];
    let lastHeld: number | null = null;
    let saturatedAt: number | null = null;
    // A fresh system's first seconds (code tiering up, the first full collections of each thread's
    // heap) are not a rate's steady state: the path runs `--warmup` s at the first rate, unmeasured,
    // before the ladder, so the first rung is measured as warm as the later ones.
    if (saturateRates.length > 0) {
      // A warm-up that falls behind is not a result: the first rung measures it.
      await phase(path, saturateRates[0]!, warmupMs, 0).catch((err: Error) => log(`${path} warm-up: ${err.message}`));
    }
    for (const r of saturateRates) {
      let w: Window;
      try {
        w = await phase(path, r, 1000, measureMs);
      } catch (err) {
        log(`${path} at ${r}/s: ${(err as Error).message}`);
        saturatedAt = r;
        break;
      }
      steps.push({ rate: r, p99Ms: w.dueToHubSendMs.p99, mainThreadUsPerMessage: w.mainThreadUsPerMessage });
      log(
        `${path} at ${r}/s: due → hub send p99 ${w.dueToHubSendMs.p99} ms, ${w.mainThreadUsPerMessage} µs main thread per location`,
      );
      if (w.dueToHubSendMs.p99 > SATURATION_P99_MS) {
        saturatedAt = r;
        break;
      }
      lastHeld = r;
    }
    saturation[path] = { rates: steps, saturatedAt, lastHeld };
  }
  for (let round = 1; round <= (saturateRates.length === 0 ? rounds : 0); round++) {
    let floor: Window | undefined;
    for (const path of withFloor ? ['floor' as const, ...paths] : paths) {
      const w = await phase(path, rate, warmupMs, measureMs);
      if (path === 'floor') floor = w;
      else if (floor !== undefined) {
        w.aboveFloorUsPerMessage = r1(w.mainThreadUsPerMessage - floor.mainThreadUsPerMessage);
        w.wakeUpsAboveFloor = r3(w.wakeUpsPerMessage - floor.wakeUpsPerMessage);
      }
      log(
        `round ${round} ${path}: ${w.mainThreadUsPerMessage} µs main thread per location (${w.aboveFloorUsPerMessage ?? '–'} above the floor), ${w.wakeUpsPerMessage} wake-ups (${w.wakeUpsAboveFloor ?? '–'} above), GC ${w.gc.count} / p99 ${w.gc.p99Ms} ms`,
      );
      windows.push(w);
    }
  }
} finally {
  await processor.close();
  await system.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};
const medianOrNull = (xs: (number | null)[]) => {
  const defined = xs.filter((x): x is number => x !== null);
  return defined.length === 0 ? null : median(defined);
};
const summary: Record<
  string,
  {
    mainThreadUsPerMessage: number;
    aboveFloorUsPerMessage: number | null;
    wakeUpsPerMessage: number;
    wakeUpsAboveFloor: number | null;
    processCpuUsPerMessage: number;
    gcP99Ms: number;
  }
> = Object.fromEntries(
  (windows.length === 0 ? [] : [...(withFloor ? ['floor'] : []), ...paths]).map((p) => {
    const of = windows.filter((w) => w.path === p);
    return [
      p,
      {
        mainThreadUsPerMessage: median(of.map((w) => w.mainThreadUsPerMessage)),
        aboveFloorUsPerMessage: medianOrNull(of.map((w) => w.aboveFloorUsPerMessage)),
        wakeUpsPerMessage: median(of.map((w) => w.wakeUpsPerMessage)),
        wakeUpsAboveFloor: medianOrNull(of.map((w) => w.wakeUpsAboveFloor)),
        processCpuUsPerMessage: median(of.map((w) => w.processCpuUsPerMessage)),
        gcP99Ms: Math.max(...of.map((w) => w.gc.p99Ms)),
      },
    ];
  }),
);
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'function-path',
      at: new Date().toISOString(),
      node: process.version,
      execArgv: process.execArgv,
      options: {
        bus: flags.bus,
        rate,
        warmupMs,
        measureMs,
        rounds,
        workerThreads:
          flags['worker-threads'] === undefined ? deliveryApp.workerThreads : Number(flags['worker-threads']),
        workerHeap: workerHeapFlag(flags['worker-heap']) ?? deliveryApp.workerHeap,
        prefetch: flags.prefetch ?? null,
      },
      machine: machine.stop(),
      summary,
      ...(saturateRates.length === 0 ? {} : { saturation }),
      targets: {
        functionMainThreadUsPerMessage: { target: 30, value: summary.function?.mainThreadUsPerMessage ?? null },
        // What the function path adds to the pacing timer's own wake-ups (on this VM each costs ~20–45 µs).
        functionAboveFloorUsPerMessage: { target: 30, value: summary.function?.aboveFloorUsPerMessage ?? null },
        functionGcP99Ms: { target: 5, value: summary.function?.gcP99Ms ?? null },
      },
      windows,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
