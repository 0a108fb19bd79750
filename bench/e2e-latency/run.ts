/**
 * bench/e2e-latency: queue → function → hub → client latency of the delivery system as `npm start`
 * runs it, beside the same hub delivery without queue and function (the baseline), with customers
 * connected through the `negotiate` function. The system runs in one child process (with the paced
 * location source inside it); one load-generating child holds every customer connection.
 *
 *   npm run -s bench:e2e-latency -- [--clients 1000] [--per-order 1] [--rate 1000] [--tick 1]
 *                                   [--warmup 3] [--measure 12] [--bus file,memory]
 *                                   [--paths function,direct] [--profile file]
 *                                   [--worker-threads N] [--worker-heap OLD,SEMI] [--hog] [--runs 5]
 *
 * `--hog` runs a CPU hog (a busy loop, pinned to the last core where `taskset` exists) for the
 * whole run, so "another process on one core" is a condition anyone can reproduce; `--runs N`
 * repeats the measurement N times in a row (a fresh system each time) and counts the runs whose
 * function-path p99 held under the target.
 *
 * Prints one JSON object on stdout; progress goes to stderr.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from '../lib/children.ts';
import type { Api, Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';
import { workerHeapFlag } from '../lib/worker-heap.ts';
import type { ClientApi, LatencySummary } from './client.ts';
import type { BusKind, PathKind, PhaseStats, ServerApi } from './server.ts';

const { values: flags } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    'per-order': { type: 'string', default: '1' },
    rate: { type: 'string', default: '1000' },
    tick: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '3' },
    measure: { type: 'string', default: '12' },
    drain: { type: 'string', default: '5' },
    batch: { type: 'string', default: '100' },
    bus: { type: 'string', default: 'file,memory' },
    paths: { type: 'string', default: 'function,direct' },
    profile: { type: 'string' },
    'max-concurrent-calls': { type: 'string' },
    'server-node-flags': { type: 'string' },
    'worker-threads': { type: 'string' },
    'worker-heap': { type: 'string' },
    'settle-linger-ms': { type: 'string' },
    hog: { type: 'boolean', default: false },
    cluster: { type: 'string' },
    runs: { type: 'string', default: '1' },
  },
});
const num = (name: keyof typeof flags, min: number, max: number) => {
  const value = Number(flags[name]);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be in [${min}, ${max}]`);
  return value;
};
const list = <T extends string>(name: keyof typeof flags, allowed: readonly T[]): T[] => {
  const values = String(flags[name])
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const v of values) if (!allowed.includes(v as T)) throw new Error(`--${name}: '${v}' is not one of ${allowed}`);
  return values as T[];
};
const config = {
  clients: num('clients', 1, 20_000),
  clientsPerOrder: num('per-order', 1, 1_000),
  ratePerSec: num('rate', 1, 20_000),
  tickMs: num('tick', 1, 100),
  warmupSec: num('warmup', 0, 30),
  measureSec: num('measure', 1, 30),
  drainSec: num('drain', 1, 30),
  batch: num('batch', 1, 1_000),
  buses: list<BusKind>('bus', ['file', 'memory']),
  paths: list<PathKind>('paths', ['function', 'direct']),
  /** What-if: the function app with another extensions.serviceBus.maxConcurrentCalls (host.json says 16). */
  maxConcurrentCalls: flags['max-concurrent-calls'] === undefined ? undefined : num('max-concurrent-calls', 1, 10_000),
  /** What-if: extra Node flags for the system process (e.g. `--max-semi-space-size=8`). */
  // The server runs with the Node flags `npm start` uses (package.json), unless told otherwise.
  serverNodeFlags: (flags['server-node-flags'] ?? '--max-semi-space-size=8').split(' ').filter((f) => f !== ''),
  /** The functions host's worker threads (startSystem's app.workerThreads); unset: what `npm start` runs. */
  workerThreads: flags['worker-threads'] === undefined ? undefined : num('worker-threads', 0, 64),
  /** Their heap sizes (app.workerHeap: initial old space and largest semi-space, MB; 0: the process's); unset: what `npm start` runs. */
  workerHeap: workerHeapFlag(flags['worker-heap']),
  /** What-if: the bus's settleLingerMs (unset: the bus's default, what `npm start` runs). */
  settleLingerMs: flags['settle-linger-ms'] === undefined ? undefined : num('settle-linger-ms', 0, 1_000),
  /** A busy loop on one core for the whole run. */
  hog: flags.hog === true,
  runs: num('runs', 1, 20),
  /**
   * `--cluster redis://HOST:PORT`: customers on two `hubbub hub` nodes of a Redis backplane, the
   * system an application node of that cluster (its hub takes no clients): every location crosses
   * Redis to reach them.
   */
  cluster: flags.cluster,
};
if (config.clients % config.clientsPerOrder !== 0) throw new Error('--clients must be a multiple of --per-order');
/** `--profile file-function,memory-direct`: CPU profiles of those measured windows (server process). */
const profiles = (flags.profile ?? '').split(',').map((s) => s.trim());
const orders = config.clients / config.clientsPerOrder;
const TARGET_P99_MS = 10;
const RUN_TIMEOUT_MS = config.runs * 3 * 60_000;
const PHASE_TIMEOUT_MS = 60_000;

const here = dirname(fileURLToPath(import.meta.url));
const children = new Children(here);
const start = <A extends Api>(script: string, name: string, execArgv: string[] = []) =>
  children.start<A>(script, name, execArgv);
/** The server is asked to exit (it may write profiles); the client gets SIGTERM. */
const stop = (peer: Peer<never>, askToExit: boolean) =>
  children.stop(peer as unknown as Peer<Api>, { askToExit, timeoutMs: 10_000 });
const log = (message: string) => process.stderr.write(`[e2e-latency] ${message}\n`);

interface PathResult {
  path: string;
  /** What the client measured (deliveries of the measured window). */
  client: LatencySummary;
  /** What the sender saw. */
  server: PhaseStats;
  /** Messages left in queue `locations` after the phase (function path). */
  backlog?: number;
}

const PATH_NAMES: Record<PathKind, string> = {
  function: "bus sender → queue 'locations' → forwardLocation → SignalR output binding → group 'order-<id>' → client",
  direct: "signalR.hub('tracking').send(group 'order-<id>', 'location', [location]) → client (no queue, no function)",
};

async function runBus(bus: BusKind, client: Peer<ClientApi>): Promise<Record<string, unknown>> {
  const server = start<ServerApi>('server.ts', `server ${bus}`, config.serverNodeFlags);
  try {
    await server.serving;
    const { port, trackingKey } = await server.call('start', {
      bus,
      ...(hubNodes === undefined ? {} : { cluster: hubNodes.cluster }),
      ...(config.maxConcurrentCalls === undefined ? {} : { maxConcurrentCalls: config.maxConcurrentCalls }),
      ...(config.workerThreads === undefined ? {} : { workerThreads: config.workerThreads }),
      ...(config.workerHeap === undefined ? {} : { workerHeap: config.workerHeap }),
      ...(config.settleLingerMs === undefined ? {} : { settleLingerMs: config.settleLingerMs }),
    });
    const orderIds = Array.from({ length: config.clients }, (_, i) => `bench-${i % orders}`);
    const opened = await client.call(
      'connect',
      { port, orders: orderIds, batch: config.batch, trackingKey },
      PHASE_TIMEOUT_MS,
    );
    const serverCount = await server.call('connections', null);
    log(`${bus} bus: ${opened.ready} customers connected (${opened.failed} failed) in ${opened.ms} ms`);
    if (opened.ready === 0) throw new Error(`no customer connected: ${opened.firstError}`);
    const results: Record<string, PathResult> = {};
    for (const path of config.paths) {
      const phase = `${bus}-${path}`;
      await client.call('arm', { phase });
      const stats = await server.call(
        'run',
        {
          path,
          phase,
          rate: config.ratePerSec,
          tickMs: config.tickMs,
          warmupMs: config.warmupSec * 1000,
          measureMs: config.measureSec * 1000,
          orders,
          ...(profiles.includes(phase)
            ? { profile: join(here, '..', '.tmp', 'profiles', `e2e-${phase}.cpuprofile`) }
            : {}),
        },
        PHASE_TIMEOUT_MS,
      );
      const summary = await client.call(
        'collect',
        { expected: stats.sent * config.clientsPerOrder, timeoutMs: config.drainSec * 1000 },
        PHASE_TIMEOUT_MS,
      );
      const result: PathResult = { path: PATH_NAMES[path], client: summary, server: stats };
      if (path === 'function') result.backlog = await server.call('backlog', null);
      results[path] = result;
      const l = summary.latencyMs;
      const th = stats.threads;
      const perThread =
        th === undefined
          ? ''
          : `; per location ${th.total.wakeupsPerMsg} wake-ups, ${th.total.cpuUsPerMsg} µs CPU (${Object.entries(
              th.byRole,
            )
              .map(([role, r]) => `${role} ${r.wakeupsPerMsg}/${r.cpuUsPerMsg}`)
              .join(', ')})`;
      log(
        `${phase}: p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms; ${summary.received}/${summary.expected} received; server CPU ${stats.cpuPercent}% (main thread busy ${stats.mainThreadBusyPercent}%), RSS ${stats.rssMb.end} MB (peak ${stats.rssMb.peak ?? '?'})${perThread}`,
      );
    }
    return {
      connections: {
        ready: opened.ready,
        failed: opened.failed,
        ...(opened.firstError === undefined ? {} : { firstError: opened.firstError }),
        serverCount,
        connectMs: opened.ms,
      },
      ...results,
    };
  } finally {
    await client.call('closeAll', null, PHASE_TIMEOUT_MS).catch(() => undefined);
    await stop(server as unknown as Peer<never>, true);
  }
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/**
 * The hog: one process spinning on one core (pinned to the last one with `taskset` where it exists),
 * started before and stopped after every measured run.
 */
function startHog(): { child: ChildProcess; pinnedTo: number | undefined } {
  const spin = [process.execPath, '-e', 'for (;;) {}'];
  let pinnedTo: number | undefined;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    pinnedTo = cpus().length - 1;
  } catch {
    pinnedTo = undefined;
  }
  const [command, ...args] = pinnedTo === undefined ? spin : ['taskset', '-c', String(pinnedTo), ...spin];
  const child = spawn(command!, args, { stdio: 'ignore' });
  return { child, pinnedTo };
}

/** The hog of this run, also stopped when the run stops itself (`process.exit`). */
let hog: ReturnType<typeof startHog> | undefined;

/** `--cluster`: two `hubbub hub` processes on the Redis backplane, started before the runs. */
let hubNodes: { cluster: { backplaneUrl: string; signalRKey: string }; stop(): void } | undefined;

async function startHubNodes(redisUrl: string): Promise<NonNullable<typeof hubNodes>> {
  const signalRKey = `e2e-cluster-key-${process.pid}-0123456789abcdefghijkl`;
  const backplaneUrl = `${redisUrl}?prefix=${encodeURIComponent(`hubbub-bench:e2e:${process.pid}:${Date.now()}:`)}`;
  const main = join(here, '..', '..', 'packages', 'cli', 'src', 'main.ts');
  const nodes = [1, 2].map(() =>
    spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        '--max-semi-space-size=8',
        main,
        'hub',
        '--port',
        '0',
        '--backplane',
        backplaneUrl,
        '--connection-string',
        `Endpoint=http://127.0.0.1;AccessKey=${signalRKey};Version=1.0;`,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve, reject) => {
          let out = '';
          node.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('listening on')) resolve();
          });
          node.once('exit', (code) => reject(new Error(`a hub node exited (${code}) before listening`)));
        }),
    ),
  );
  log(`cluster: two hub nodes on ${redisUrl}`);
  return {
    cluster: { backplaneUrl, signalRKey },
    stop: () => {
      for (const n of nodes) n.kill('SIGTERM');
    },
  };
}

/** One measurement: every bus, every path, on a fresh system per bus. */
async function measure(client: Peer<ClientApi>) {
  const results: Record<string, Record<string, unknown>> = {};
  for (const bus of config.buses) {
    log(`${bus} bus: ${config.clients} customers (${orders} orders × ${config.clientsPerOrder})`);
    results[bus] = await runBus(bus, client);
  }
  const p = (bus: string, path: string, key: 'p50' | 'p99') =>
    (results[bus]?.[path] as PathResult | undefined)?.client.latencyMs[key];
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? undefined : round(a / b, 2);
  const ratios: Record<string, unknown> = {};
  const targets: Record<string, { max: number; value?: number; complete?: boolean; pass?: boolean }> = {};
  for (const bus of config.buses) {
    ratios[`${bus}FunctionVsDirect`] = {
      p50: ratio(p(bus, 'function', 'p50'), p(bus, 'direct', 'p50')),
      p99: ratio(p(bus, 'function', 'p99'), p(bus, 'direct', 'p99')),
    };
    const p99 = p(bus, 'function', 'p99');
    const r = results[bus]?.function as PathResult | undefined;
    targets[`${bus}FunctionP99Ms`] = {
      max: TARGET_P99_MS,
      ...(p99 === undefined ? {} : { value: p99 }),
      ...(r === undefined ? {} : { complete: r.client.missing === 0 && r.server.sendErrors === 0 }),
      ...(p99 === undefined || r === undefined ? {} : { pass: p99 < TARGET_P99_MS && r.client.missing === 0 }),
    };
  }
  return { results, ratios, targets };
}

async function main() {
  const runTimer = setTimeout(() => {
    log(`the whole run exceeded ${RUN_TIMEOUT_MS / 1000} s; stopping`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  const started = Date.now();
  const machine = watchMachine();
  hog = config.hog ? startHog() : undefined;
  if (hog !== undefined) log(`CPU hog running${hog.pinnedTo === undefined ? '' : ` on core ${hog.pinnedTo}`}`);
  const client = start<ClientApi>('client.ts', 'client');
  const runs: Awaited<ReturnType<typeof measure>>[] = [];
  try {
    if (config.cluster !== undefined) hubNodes = await startHubNodes(config.cluster);
    await client.serving;
    for (let run = 1; run <= config.runs; run++) {
      if (config.runs > 1) log(`run ${run} of ${config.runs}`);
      runs.push(await measure(client));
    }
  } finally {
    clearTimeout(runTimer);
    hog?.child.kill('SIGKILL');
    hubNodes?.stop();
    await stop(client as unknown as Peer<never>, false);
  }
  // Over the runs: each one's function-path p99 and how many held under the target.
  const series = Object.fromEntries(
    config.buses.map((bus) => {
      const of = runs.map((r) => r.targets[`${bus}FunctionP99Ms`]);
      return [
        `${bus}FunctionP99Ms`,
        {
          max: TARGET_P99_MS,
          values: of.map((t) => t?.value),
          held: of.filter((t) => t?.pass === true).length,
          of: runs.length,
        },
      ];
    }),
  );
  const report = {
    benchmark: 'e2e-latency',
    date: new Date().toISOString(),
    node: process.version,
    // The file bus waits for fdatasync (I/O stalls); CPU steal slows both processes.
    machine: machine.stop(),
    hog: hog === undefined ? false : { pinnedToCore: hog.pinnedTo ?? null },
    config: { ...config, orders, deliveriesPerMessage: config.clientsPerOrder },
    wallSeconds: Math.round((Date.now() - started) / 1000),
    ...(runs.length === 1 ? runs[0] : { runs, series }),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

process.on('exit', () => {
  children.killAll();
  hog?.child.kill('SIGKILL');
  hubNodes?.stop();
});
main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
