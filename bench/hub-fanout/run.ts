/**
 * bench/hub-fanout: Hubbub, plain `ws`, `ws` with per-turn corking and Socket.IO broadcasting to
 * the same connections on loopback, in one run. Each server runs in a child process of its own
 * (CPU and memory isolated); one load-generating child holds every client connection.
 *
 *   npm run bench:hub-fanout -- [--connections 1000] [--broadcasts 500] [--burst 50] [--rounds 3]
 *                               [--idle 15000] [--batch 200] [--payload 100] [--only hubbub,ws]
 *                               [--profile hubbub]   (--cpu-prof of that server's throughput phase)
 *
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
    batch: { type: 'string', default: '200' },
    payload: { type: 'string', default: '100' },
    only: { type: 'string' },
    profile: { type: 'string' },
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
  batch: Math.max(1, int('batch')),
  payloadBytes: int('payload'),
};
const PHASE_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 5 * 60_000;

interface ContenderSpec {
  name: string;
  script: string;
  client: ClientKind;
  /** What one broadcast is on this server. */
  path: string;
  /** Idle memory is the same as another contender's (same server code). */
  idle: boolean;
}

const contenders: ContenderSpec[] = [
  { name: 'ws', script: 'server-ws.ts', client: 'ws', path: 'wss.clients loop, ws.send(string)', idle: true },
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
];
const only = flags.only?.split(',').map((s) => s.trim());
const selected = contenders.filter((c) => only === undefined || only.includes(c.name));

const here = dirname(fileURLToPath(import.meta.url));
const children = new Children(here, ['--expose-gc']);
const start = <A extends Api>(script: string, name: string, execArgv: string[] = []) =>
  children.start<A>(script, name, execArgv);
/** Servers exit by themselves when asked (a profile gets written); a client gets SIGTERM. */
const stop = (peer: Peer<never>, askToExit = true) =>
  children.stop(peer as unknown as Peer<Api>, { askToExit, timeoutMs: 2_000 });
const log = (message: string) => process.stderr.write(`[hub-fanout] ${message}\n`);

async function startServer(spec: ContenderSpec, profile = false): Promise<{ server: Peer<ServerApi>; port: number }> {
  const server = start<ServerApi>(
    spec.script,
    `server ${spec.name}`,
    profile ? ['--cpu-prof', `--cpu-prof-dir=${join(here, '..', '.tmp', 'profiles')}`] : [],
  );
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
  const result = await client.call('wait', { timeoutMs: PHASE_TIMEOUT_MS }, PHASE_TIMEOUT_MS + 5_000);
  const cpu = await server.call('stop', null);
  const cpuUs = cpu.userUs + cpu.systemUs;
  const deliveries = result.received;
  const seconds = result.complete ? Number(BigInt(result.lastNs) - BigInt(t0)) / 1e9 : PHASE_TIMEOUT_MS / 1e3;
  return {
    deliveries,
    complete: result.complete,
    cpuUs,
    cpuUsPerDelivery: round(cpuUs / Math.max(1, deliveries), 3),
    deliveriesPerSec: Math.round(deliveries / seconds),
    sendLoopMs: round(cpu.loopMs, 1),
  };
}

async function throughput(spec: ContenderSpec, client: Peer<ClientApi>) {
  const { server, port } = await startServer(spec, flags.profile === spec.name);
  try {
    const opened = await client.call(
      'connect',
      { kind: spec.client, port, count: config.connections, batch: config.batch },
      PHASE_TIMEOUT_MS,
    );
    const ready = await serverReady(server, opened.ready);
    log(`${spec.name}: ${opened.ready} connections ready (${opened.failed} failed) in ${Math.round(opened.ms)} ms`);
    if (opened.ready === 0) throw new Error(`${spec.name}: no connection opened: ${opened.firstError}`);
    // Warm-up (JIT, buffers), not counted.
    await broadcastRound(server, client, opened.ready, Math.max(1, Math.ceil(config.broadcasts / 5)));
    const rounds: RoundResult[] = [];
    for (let i = 0; i < config.rounds; i++) {
      const r = await broadcastRound(server, client, opened.ready, config.broadcasts);
      log(`${spec.name}: round ${i + 1}: ${r.cpuUsPerDelivery} µs CPU/delivery, ${r.deliveriesPerSec} deliveries/s`);
      rounds.push(r);
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
    };
  } finally {
    await client.call('closeAll', null, PHASE_TIMEOUT_MS).catch(() => undefined);
    await stop(server as unknown as Peer<never>);
  }
}

async function idleMemory(spec: ContenderSpec, client: Peer<ClientApi>) {
  const { server, port } = await startServer(spec);
  try {
    const before = await server.call('memory', null);
    const opened = await client.call(
      'connect',
      { kind: spec.client, port, count: config.idleConnections, batch: config.batch },
      PHASE_TIMEOUT_MS,
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
    await client.call('closeAll', null, PHASE_TIMEOUT_MS).catch(() => undefined);
    await stop(server as unknown as Peer<never>);
  }
}

async function main() {
  const runTimer = setTimeout(() => {
    log(`the whole run exceeded ${RUN_TIMEOUT_MS / 1000} s; stopping`);
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  const client = start<ClientApi>('client.ts', 'client');
  await client.serving;
  const results: Record<string, { path: string; throughput?: unknown; idle?: unknown }> = {};
  const started = Date.now();
  const machine = watchMachine();
  try {
    for (const spec of selected) {
      log(`${spec.name}: throughput, ${config.connections} connections × ${config.broadcasts} broadcasts`);
      const entry: { path: string; throughput?: unknown; idle?: unknown } = { path: spec.path };
      results[spec.name] = entry;
      entry.throughput = await throughput(spec, client);
      if (spec.idle && config.idleConnections > 0) {
        log(`${spec.name}: idle memory, ${config.idleConnections} connections`);
        entry.idle = await idleMemory(spec, client);
      }
    }
  } finally {
    clearTimeout(runTimer);
    await stop(client as unknown as Peer<never>);
  }
  const report = {
    benchmark: 'hub-fanout',
    date: new Date().toISOString(),
    node: process.version,
    // Other work on the machine competes for the same cores: wall-clock rates suffer first.
    machine: machine.stop(),
    config,
    wallSeconds: Math.round((Date.now() - started) / 1000),
    results,
    ...summarize(results),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
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
  return {
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
