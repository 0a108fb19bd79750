/**
 * bench/hub-fanout: Hubbub, plain `ws`, `ws` with per-turn corking and Socket.IO broadcasting to
 * the same connections on loopback, in one run. Each server runs in a child process of its own
 * (CPU and memory isolated); one load-generating child holds every client connection.
 *
 *   npm run bench:hub-fanout -- [--connections 1000] [--broadcasts 500] [--burst 50] [--rounds 3]
 *                               [--idle 15000] [--batch 200] [--payload 100] [--only hubbub,ws]
 *                               [--profile hubbub]   (--cpu-prof of that server's throughput phase)
 *                               [--write-delays 1,5] (more Hubbub servers, with writeDelayMs 1 and 5)
 *                               [--paced 100] [--interval 20] (latency: one broadcast per 20 ms)
 *                               [--budget 300]       (seconds for the whole run, see below)
 *                               [--idle-warmup 0]    (connections opened and closed before the idle
 *                                                     phase's first memory reading: code compiled on
 *                                                     the first connections is then not counted)
 *
 * The run keeps to its budget: every phase is given what is left of it (at most 60 s), a phase
 * that cannot fit (under 20 s left) is skipped and named in `skipped`, and a run still going 30 s
 * past the budget prints what it has (`partial: true`) and exits with code 2.
 * Prints one JSON object on stdout; progress goes to stderr.
 * @module
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Children } from '../lib/children.ts';
import type { Api, Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';
import type { ClientApi, ClientKind } from './client.ts';
import type { MemorySnapshot, ServerApi } from './server-harness.ts';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    broadcasts: { type: 'string', default: '500' },
    burst: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    idle: { type: 'string', default: '15000' },
    'idle-warmup': { type: 'string', default: '0' },
    batch: { type: 'string', default: '200' },
    payload: { type: 'string', default: '100' },
    only: { type: 'string' },
    profile: { type: 'string' },
    'write-delays': { type: 'string', default: '1,5' },
    paced: { type: 'string', default: '100' },
    interval: { type: 'string', default: '20' },
    budget: { type: 'string', default: '300' },
  },
});
const int = (name: keyof typeof flags) => {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
};
const config = {
  connections: int('connections'),
  broadcasts: int('broadcasts'),
  burst: Math.max(1, int('burst')),
  rounds: Math.max(1, int('rounds')),
  idleConnections: int('idle'),
  idleWarmup: int('idle-warmup'),
  batch: Math.max(1, int('batch')),
  payloadBytes: int('payload'),
  writeDelays: (flags['write-delays'] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map(Number),
  paced: int('paced'),
  intervalMs: Math.max(1, int('interval')),
  budgetSeconds: Math.max(30, int('budget')),
};
if (config.writeDelays.some((d) => !Number.isFinite(d) || d <= 0 || d > 1_000)) {
  throw new Error('--write-delays must be numbers of ms in (0, 1000]');
}
const PHASE_TIMEOUT_MS = 60_000;
/** A phase is not started with less than this left of the budget. */
const MIN_PHASE_MS = 20_000;
const runStarted = Date.now();
const deadline = runStarted + config.budgetSeconds * 1_000;
/** What a phase may take: what is left of the budget, at most a minute. */
const phaseTimeout = () => Math.max(5_000, Math.min(PHASE_TIMEOUT_MS, deadline - Date.now()));

interface ContenderSpec {
  name: string;
  script: string;
  client: ClientKind;
  /** What one broadcast is on this server. */
  path: string;
  /** Idle memory is the same as another contender's (same server code). */
  idle: boolean;
  /** Hubbub's writeDelayMs for this server. */
  writeDelayMs?: number;
  /** Run only when named in `--only`. */
  optIn?: boolean;
}

const contenders: ContenderSpec[] = [
  { name: 'ws', script: 'server-ws.ts', client: 'ws', path: 'wss.clients loop, ws.send(string)', idle: true },
  {
    // Its clients send the two messages a Hubbub client sends on connecting (the server ignores them).
    name: 'ws-talk',
    script: 'server-ws.ts',
    client: 'ws-talk',
    path: 'as ws, each client sends two small messages on connecting',
    idle: true,
    optIn: true,
  },
  {
    name: 'ws-cork',
    script: 'server-ws-cork.ts',
    client: 'ws',
    path: 'as ws, sockets corked for the turn',
    idle: false,
  },
  {
    name: 'socketio',
    script: 'server-socketio.ts',
    client: 'socketio',
    path: "io.to('g').emit('m', payload), websocket transport",
    idle: true,
  },
  {
    name: 'hubbub',
    script: 'server-hubbub.ts',
    client: 'hubbub',
    path: "hub.clients.group('g').send('m', payload), JSON protocol over WebSockets",
    idle: true,
  },
  {
    // Without the negotiate request per connection (and the short-lived TCP connection it takes),
    // which the plain `ws` client does not make either: what that request leaves behind in memory.
    name: 'hubbub-direct',
    script: 'server-hubbub.ts',
    client: 'hubbub-direct',
    path: 'as hubbub, clients skip negotiate (WebSocket straight away)',
    idle: true,
    optIn: true,
  },
  ...config.writeDelays.map(
    (ms): ContenderSpec => ({
      name: `hubbub-wd${ms}`,
      script: 'server-hubbub.ts',
      client: 'hubbub',
      path: `as hubbub, writeDelayMs ${ms}`,
      idle: false,
      writeDelayMs: ms,
    }),
  ),
];
const only = flags.only?.split(',').map((s) => s.trim());
const selected = contenders.filter((c) => (only === undefined ? c.optIn !== true : only.includes(c.name)));

const here = dirname(fileURLToPath(import.meta.url));
const children = new Children(here, ['--expose-gc']);
const start = <A extends Api>(script: string, name: string, execArgv: string[] = []) =>
  children.start<A>(script, name, execArgv);
/** Servers exit by themselves when asked (a profile gets written); a client gets SIGTERM. */
const stop = (peer: Peer<never>, askToExit = true) =>
  children.stop(peer as unknown as Peer<Api>, { askToExit, timeoutMs: 2_000 });
const log = (message: string) => process.stderr.write(`[hub-fanout] ${message}\n`);

async function startServer(spec: ContenderSpec, profile = false): Promise<{ server: Peer<ServerApi>; port: number }> {
  // fork() passes this process's environment: the write delay reaches the server this way.
  if (spec.writeDelayMs === undefined) delete process.env.HUBBUB_BENCH_WRITE_DELAY_MS;
  else process.env.HUBBUB_BENCH_WRITE_DELAY_MS = String(spec.writeDelayMs);
  const server = start<ServerApi>(
    spec.script,
    `server ${spec.name}`,
    profile ? ['--cpu-prof', `--cpu-prof-dir=${join(here, '..', '.tmp', 'profiles')}`] : [],
  );
  delete process.env.HUBBUB_BENCH_WRITE_DELAY_MS;
  await server.serving;
  return { server, port: await server.call('port', null) };
}

/** Polls the server until it counts `n` ready connections (the client saw them ready first). */
async function serverReady(server: Peer<ServerApi>, n: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ready = await server.call('ready', null);
    if (ready >= n || Date.now() > deadline) return ready;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

interface RoundResult {
  deliveries: number;
  complete: boolean;
  cpuUs: number;
  cpuUsPerDelivery: number;
  deliveriesPerSec: number;
  sendLoopMs: number;
}

async function broadcastRound(
  server: Peer<ServerApi>,
  client: Peer<ClientApi>,
  connections: number,
  count: number,
): Promise<RoundResult> {
  const total = connections * count;
  await client.call('expect', { total });
  const { t0 } = await server.call('broadcast', { count, burst: config.burst, payloadBytes: config.payloadBytes });
  const timeoutMs = phaseTimeout();
  const result = await client.call('wait', { timeoutMs }, timeoutMs + 5_000);
  const cpu = await server.call('stop', null);
  const cpuUs = cpu.userUs + cpu.systemUs;
  const deliveries = result.received;
  const seconds = result.complete ? Number(BigInt(result.lastNs) - BigInt(t0)) / 1e9 : timeoutMs / 1e3;
  return {
    deliveries,
    complete: result.complete,
    cpuUs,
    cpuUsPerDelivery: round(cpuUs / Math.max(1, deliveries), 3),
    deliveriesPerSec: Math.round(deliveries / seconds),
    sendLoopMs: round(cpu.loopMs, 1),
  };
}

/**
 * One broadcast every `--interval` ms with its send time in the payload; the client takes
 * arrival − send for each delivery (hrtime: the same monotonic clock in both processes).
 */
async function pacedLatency(server: Peer<ServerApi>, client: Peer<ClientApi>, connections: number) {
  await client.call('expect', { total: connections * config.paced });
  await client.call('recordLatency', { on: true });
  const payloadBytes = Math.max(24, config.payloadBytes);
  await server.call('paced', { count: config.paced, intervalMs: config.intervalMs, payloadBytes }, phaseTimeout());
  const timeoutMs = Math.min(10_000, phaseTimeout());
  const waited = await client.call('wait', { timeoutMs }, timeoutMs + 5_000);
  const stats = await client.call('latencyStats', null);
  return { ...stats, complete: waited.complete, intervalMs: config.intervalMs, broadcasts: config.paced };
}

async function throughput(spec: ContenderSpec, client: Peer<ClientApi>) {
  const { server, port } = await startServer(spec, flags.profile === spec.name);
  try {
    const opened = await client.call(
      'connect',
      { kind: spec.client, port, count: config.connections, batch: config.batch },
      phaseTimeout(),
    );
    const ready = await serverReady(server, opened.ready);
    log(`${spec.name}: ${opened.ready} connections ready (${opened.failed} failed) in ${Math.round(opened.ms)} ms`);
    if (opened.ready === 0) throw new Error(`${spec.name}: no connection opened: ${opened.firstError}`);
    // Warm-up (JIT, buffers), not counted.
    await broadcastRound(server, client, opened.ready, Math.max(1, Math.ceil(config.broadcasts / 5)));
    const rounds: RoundResult[] = [];
    for (let i = 0; i < config.rounds; i++) {
      if (i > 0 && deadline - Date.now() < MIN_PHASE_MS) {
        log(`${spec.name}: round ${i + 1} skipped (budget)`);
        skipped.push(`${spec.name} round ${i + 1}`);
        break;
      }
      const r = await broadcastRound(server, client, opened.ready, config.broadcasts);
      log(`${spec.name}: round ${i + 1}: ${r.cpuUsPerDelivery} µs CPU/delivery, ${r.deliveriesPerSec} deliveries/s`);
      rounds.push(r);
    }
    let latency: Awaited<ReturnType<typeof pacedLatency>> | undefined;
    if (config.paced > 0 && deadline - Date.now() >= MIN_PHASE_MS + config.paced * config.intervalMs) {
      latency = await pacedLatency(server, client, opened.ready);
      log(`${spec.name}: latency p50 ${latency.p50} ms, p99 ${latency.p99} ms (${latency.count} deliveries)`);
    } else if (config.paced > 0) {
      skipped.push(`${spec.name} latency`);
    }
    return {
      connections: opened.ready,
      serverReady: ready,
      failedConnections: opened.failed,
      deliveriesPerRound: opened.ready * config.broadcasts,
      complete: rounds.every((r) => r.complete),
      cpuUsPerDelivery: round(median(rounds.map((r) => r.cpuUsPerDelivery)), 3),
      deliveriesPerSec: Math.round(median(rounds.map((r) => r.deliveriesPerSec))),
      rounds,
      ...(latency === undefined ? {} : { latency }),
    };
  } finally {
    await client.call('closeAll', null, phaseTimeout()).catch(() => undefined);
    await stop(server as unknown as Peer<never>);
  }
}

async function idleMemory(spec: ContenderSpec, client: Peer<ClientApi>) {
  const { server, port } = await startServer(spec);
  try {
    if (config.idleWarmup > 0) {
      // Code each server compiles on its first connections is not memory a connection holds.
      await client.call(
        'connect',
        { kind: spec.client, port, count: config.idleWarmup, batch: config.batch },
        phaseTimeout(),
      );
      await client.call('closeAll', null, phaseTimeout());
      const settled = Date.now() + 10_000;
      while ((await server.call('ready', null)) > 0 && Date.now() < settled) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const before = await server.call('memory', null);
    const opened = await client.call(
      'connect',
      { kind: spec.client, port, count: config.idleConnections, batch: config.batch },
      phaseTimeout(),
    );
    const ready = await serverReady(server, opened.ready);
    const after = await server.call('memory', null);
    log(`${spec.name}: ${ready} idle connections in ${Math.round(opened.ms)} ms (${opened.failed} failed)`);
    const per = (key: keyof MemorySnapshot) => Math.round((after[key] - before[key]) / Math.max(1, ready));
    return {
      connections: ready,
      failedConnections: opened.failed,
      ...(opened.firstError === undefined ? {} : { firstError: opened.firstError }),
      connectMs: Math.round(opened.ms),
      rssPerConnectionBytes: per('rss'),
      heapUsedPerConnectionBytes: per('heapUsed'),
      externalPerConnectionBytes: per('external'),
      before,
      after,
    };
  } finally {
    await client.call('closeAll', null, phaseTimeout()).catch(() => undefined);
    await stop(server as unknown as Peer<never>);
  }
}

const skipped: string[] = [];
const results: Record<string, { path: string; throughput?: unknown; idle?: unknown }> = {};
const machine = watchMachine();

function report(partial: boolean) {
  return {
    benchmark: 'hub-fanout',
    date: new Date().toISOString(),
    node: process.version,
    // Other work on the machine competes for the same cores: wall-clock rates suffer first.
    machine: machine.stop(),
    config,
    wallSeconds: Math.round((Date.now() - runStarted) / 1000),
    ...(partial ? { partial: true } : {}),
    skipped,
    results,
    ...summarize(results),
  };
}

async function main() {
  // Past the budget (and the grace of the phase under way), print what there is and stop.
  const runTimer = setTimeout(
    () => {
      log(`the run exceeded its budget of ${config.budgetSeconds} s by 30 s; printing what it has`);
      process.stdout.write(`${JSON.stringify(report(true), null, 2)}\n`);
      process.exit(2);
    },
    deadline - Date.now() + 30_000,
  );
  const client = start<ClientApi>('client.ts', 'client');
  await client.serving;
  try {
    for (const spec of selected) {
      if (deadline - Date.now() < MIN_PHASE_MS) {
        log(`${spec.name}: skipped (budget)`);
        skipped.push(`${spec.name} throughput`);
        continue;
      }
      log(`${spec.name}: throughput, ${config.connections} connections × ${config.broadcasts} broadcasts`);
      const entry: { path: string; throughput?: unknown; idle?: unknown } = { path: spec.path };
      results[spec.name] = entry;
      entry.throughput = await throughput(spec, client);
      if (spec.idle && config.idleConnections > 0) {
        if (deadline - Date.now() < MIN_PHASE_MS) {
          log(`${spec.name}: idle memory skipped (budget)`);
          skipped.push(`${spec.name} idle`);
          continue;
        }
        log(`${spec.name}: idle memory, ${config.idleConnections} connections`);
        entry.idle = await idleMemory(spec, client);
      }
    }
  } finally {
    clearTimeout(runTimer);
    await stop(client as unknown as Peer<never>);
  }
  process.stdout.write(`${JSON.stringify(report(false), null, 2)}\n`);
}

type Results = Record<string, { throughput?: unknown; idle?: unknown }>;

function summarize(results: Results) {
  const cpu = (name: string) =>
    (results[name]?.throughput as { cpuUsPerDelivery?: number } | undefined)?.cpuUsPerDelivery;
  const rate = (name: string) =>
    (results[name]?.throughput as { deliveriesPerSec?: number } | undefined)?.deliveriesPerSec;
  const rss = (name: string) =>
    (results[name]?.idle as { rssPerConnectionBytes?: number } | undefined)?.rssPerConnectionBytes;
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? undefined : round(a / b, 3);
  const hubCpu = cpu('hubbub');
  const hubRss = rss('hubbub');
  const latency = (name: string) =>
    (results[name]?.throughput as { latency?: { p50: number; p99: number } } | undefined)?.latency;
  const delays = [0, ...config.writeDelays];
  const writeDelay = Object.fromEntries(
    delays
      .map((ms) => [ms, ms === 0 ? 'hubbub' : `hubbub-wd${ms}`] as const)
      .filter(([, name]) => results[name] !== undefined)
      .map(([ms, name]) => [
        `${ms}ms`,
        {
          cpuUsPerDelivery: cpu(name),
          cpuVsWs: ratio(cpu(name), cpu('ws')),
          latencyP50Ms: latency(name)?.p50,
          latencyP99Ms: latency(name)?.p99,
          addedP50Ms:
            latency(name) === undefined || latency('hubbub') === undefined
              ? undefined
              : round(latency(name)!.p50 - latency('hubbub')!.p50, 3),
        },
      ]),
  );
  return {
    writeDelay,
    ratios: {
      cpuPerDelivery: {
        hubbubVsWs: ratio(hubCpu, cpu('ws')),
        hubbubVsWsCork: ratio(hubCpu, cpu('ws-cork')),
        hubbubVsSocketio: ratio(hubCpu, cpu('socketio')),
      },
      deliveriesPerSec: {
        hubbubVsWs: ratio(rate('hubbub'), rate('ws')),
        hubbubVsWsCork: ratio(rate('hubbub'), rate('ws-cork')),
        hubbubVsSocketio: ratio(rate('hubbub'), rate('socketio')),
      },
      rssPerIdleConnection: {
        hubbubVsWs: ratio(hubRss, rss('ws')),
        hubbubDirectVsWs: ratio(rss('hubbub-direct'), rss('ws')),
        hubbubVsWsTalk: ratio(hubRss, rss('ws-talk')),
        hubbubVsSocketio: ratio(hubRss, rss('socketio')),
      },
    },
    targets: {
      hubbubCpuUsPerDelivery: { max: 2.5, value: hubCpu, pass: hubCpu === undefined ? undefined : hubCpu <= 2.5 },
      hubbubRssKBPerIdleConnection: {
        max: 10,
        value: hubRss === undefined ? undefined : round(hubRss / 1024, 2),
        pass: hubRss === undefined ? undefined : hubRss <= 10 * 1024,
      },
    },
  };
}

process.on('exit', () => {
  children.killAll();
});
main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
