// bus-amqp: send → receive → complete through Hubbub's AMQP front with the official
// @azure/service-bus SDK (N client processes, each on its own queue, against one server), beside
// the same workload over Hubbub's HTTP API and beside RabbitMQ's AMQP 1.0 (driven by rhea: send →
// receive → accept on a durable queue, durable messages) in one run; `rhea` runs that same lean
// rhea workload (rhea-client.ts, N processes) against Hubbub: the server's own ceiling without
// the SDK's client cost. Prints JSON.
//   node --import tsx --conditions=source bench/bus-amqp/run.ts [--count 20000] [--http-count 2000]
//        [--batch 100] [--senders 4] [--concurrency 200] [--clients 1,2,4] [--engine file]
//        [--only sdk,rhea,http,rabbitmq] [--receiver stream|batch] [--seconds 8] [--body-bytes 100]
// --clients: one SDK (and one rhea) run per N, each with a fresh server; --count is split over
// the N processes, --senders and --concurrency are per process. --receiver stream: subscribe with auto-complete;
// batch: receiveMessages(concurrency) + concurrent completes.
// Throughput = messages / (first send → last receipt; for RabbitMQ, → last receipt and last
// confirm); latency = a message's send → its receipt. Each contender stops after --seconds whether
// or not it finished. Server CPU = the server process's CPU time over the run's wall time (100 % =
// one core) and per message; for RabbitMQ, its beam.smp process read from /proc. The server's
// run-queue wait is the share of the run its event-loop thread was ready but got no core.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBusHttpHandler, createSasToken, openBus } from '@hubbub/bus';
import { createAmqpFront } from '@hubbub/bus-amqp';
import { Children, withTimeout } from '../lib/children.ts';
import type { Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';
import type { ClientApi, ClientReport } from './sdk-client.ts';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    'http-count': { type: 'string', default: '2000' },
    batch: { type: 'string', default: '100' },
    senders: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '200' },
    clients: { type: 'string', default: '1' },
    engine: { type: 'string', default: 'file' },
    seconds: { type: 'string', default: '8' },
    only: { type: 'string', default: 'sdk,rhea,http,rabbitmq' },
    rabbitmq: { type: 'string', default: '127.0.0.1:5672' },
    receiver: { type: 'string', default: 'stream' },
    'body-bytes': { type: 'string', default: '100' },
  },
});
const COUNT = Number(args.count);
const BATCH = Number(args.batch);
const SENDERS = Number(args.senders);
const CONCURRENCY = Number(args.concurrency);
const CLIENTS = args.clients.split(',').map(Number);
const DEADLINE_MS = Number(args.seconds) * 1000;
const BODY_BYTES = Number(args['body-bytes']);
const RECEIVER = args.receiver === 'batch' ? 'batch' : 'stream';
const only = new Set(args.only.split(','));
const key = { name: 'RootManageSharedAccessKey', key: 'bench-key-0123456789abcdef' };
const body = 'x'.repeat(BODY_BYTES);

interface Result {
  contender: string;
  clients?: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  finished: boolean;
  /** The server's CPU time over the run's wall time, 100 = one core. */
  serverCpuPercent?: number;
  serverCpuUsPerMessage?: number;
  /** Share of the run the server's event loop was busy. */
  serverEventLoopUtilization?: number;
  /** Share of the run the server's event-loop thread was ready to run but waited for a core (Linux schedstat). */
  serverRunQueueWaitPercent?: number;
  clientsCpuPercent?: number;
  clientsCpuUsPerMessage?: number;
  loadAverage1m?: { before: number; after: number };
  errors?: string[];
  note?: string;
}

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round2 = (x: number): number => Math.round(x * 100) / 100;

function summarize(contender: string, latencies: number[], ms: number, target: number): Result {
  latencies.sort((a, b) => a - b);
  return {
    contender,
    messages: latencies.length,
    seconds: round2(ms / 1000),
    messagesPerSecond: Math.round(latencies.length / (ms / 1000)),
    p50Ms: round2(quantile(latencies, 0.5)),
    p99Ms: round2(quantile(latencies, 0.99)),
    finished: latencies.length >= target,
  };
}

async function openHubbub(queues: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bus-amqp-'));
  const url = args.engine === 'memory' ? 'memory://' : `file://${dir}`;
  const bus = await openBus({ url, entities: { queues: queues.map((name) => ({ name })) } });
  return { bus, dir };
}

const children = new Children(dirname(fileURLToPath(import.meta.url)), ['--conditions=source']);
/** ns the event-loop thread has run and has waited on a run queue (Linux; undefined elsewhere). */
function schedstat(): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return run === undefined || wait === undefined ? undefined : { runNs: run, waitNs: wait };
  } catch {
    return undefined;
  }
}
const load = () => Math.round(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) * 100) / 100;

/**
 * N client processes, each on its own queue, against one Hubbub server (this process): the SDK
 * (sdk-client.ts) or a lean rhea client (rhea-client.ts, the RabbitMQ contender's workload).
 */
async function clients(n: number, kind: 'sdk' | 'rhea'): Promise<Result> {
  const loadBefore = load();
  const queues = Array.from({ length: n }, (_, i) => `${kind}-${i}`);
  const { bus, dir } = await openHubbub(queues);
  const front = createAmqpFront({ bus, keys: [key], port: 0 });
  await front.start();
  const peers: Peer<ClientApi>[] = queues.map((_, i) =>
    children.start<ClientApi>(`${kind}-client.ts`, `${kind}-client-${i}`),
  );
  try {
    await Promise.all(peers.map((p) => p.serving));
    await withTimeout(
      Promise.all(
        peers.map((p, i) =>
          p.call('prepare', {
            connectionString: front.connectionString(key),
            queue: queues[i]!,
            count: Math.floor(COUNT / n) + (i < COUNT % n ? 1 : 0),
            batch: BATCH,
            senders: SENDERS,
            concurrency: CONCURRENCY,
            receiver: RECEIVER,
            bodyBytes: BODY_BYTES,
          }),
        ),
      ),
      30_000,
      `preparing the ${kind} clients`,
    );
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    const sched = schedstat();
    const wall = performance.now();
    const reports: ClientReport[] = await Promise.all(
      peers.map((p) => p.call('run', { deadlineMs: DEADLINE_MS }, DEADLINE_MS + 15_000)),
    );
    const wallMs = performance.now() - wall;
    const used = process.cpuUsage(cpu);
    const busy = performance.eventLoopUtilization(elu).utilization;
    const schedAfter = schedstat();
    const startedAt = Math.min(...reports.map((r) => r.startedAt));
    const endedAt = Math.max(...reports.map((r) => r.endedAt));
    const latencies = reports.flatMap((r) => r.latencies);
    const messages = latencies.length;
    const serverCpuMs = (used.user + used.system) / 1000;
    const clientsCpuMs = reports.reduce((a, r) => a + r.cpuMs, 0);
    const errors = reports.flatMap((r) => r.errors);
    return {
      ...summarize(
        kind === 'sdk' ? `hubbub-amqp-sdk (${args.engine}, ${RECEIVER})` : `hubbub-amqp-rhea (${args.engine})`,
        latencies,
        endedAt - startedAt,
        COUNT,
      ),
      clients: n,
      serverCpuPercent: Math.round((serverCpuMs / wallMs) * 100),
      serverCpuUsPerMessage: messages === 0 ? Number.NaN : Math.round((serverCpuMs * 1000) / messages),
      serverEventLoopUtilization: round2(busy),
      ...(sched === undefined || schedAfter === undefined
        ? {}
        : { serverRunQueueWaitPercent: Math.round(((schedAfter.waitNs - sched.waitNs) / 1e6 / wallMs) * 100) }),
      clientsCpuPercent: Math.round((clientsCpuMs / wallMs) * 100),
      clientsCpuUsPerMessage: messages === 0 ? Number.NaN : Math.round((clientsCpuMs * 1000) / messages),
      loadAverage1m: { before: loadBefore, after: load() },
      ...(errors.length === 0 ? {} : { errors }),
      note: `${n} ${kind === 'sdk' ? 'SDK' : 'rhea'} client process${n === 1 ? '' : 'es'}, one queue each`,
    };
  } finally {
    await Promise.all(peers.map((p) => children.stop(p, { askToExit: true, timeoutMs: 5_000 })));
    await front.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function http(): Promise<Result> {
  const loadBefore = load();
  const target = Number(args['http-count']);
  const { bus, dir } = await openHubbub(['http']);
  const handler = createBusHttpHandler(bus, { keys: [key] });
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const auth = createSasToken(`${base}/http`, key, Date.now() / 1000 + 3600);
  const latencies: number[] = [];
  const started = performance.now();
  let ended = started;
  const late = () => performance.now() - started >= DEADLINE_MS;
  const sending = Promise.all(
    Array.from({ length: SENDERS }, async () => {
      for (let i = 0; i < target / SENDERS && !late(); i += BATCH) {
        const t = performance.now();
        const batch = Array.from({ length: BATCH }, () => ({ Body: body, UserProperties: { t } }));
        await fetch(`${base}/http/messages`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/vnd.microsoft.servicebus.json' },
          body: JSON.stringify(batch),
        });
      }
    }),
  );
  const receiving = Promise.all(
    Array.from({ length: 16 }, async () => {
      while (latencies.length < target && !late()) {
        const res = await fetch(`${base}/http/messages/head?timeout=1`, {
          method: 'POST',
          headers: { authorization: auth },
        });
        await res.arrayBuffer();
        if (res.status !== 201) continue;
        ended = performance.now();
        latencies.push(ended - Number(res.headers.get('t')));
        await fetch(res.headers.get('location')!, { method: 'DELETE', headers: { authorization: auth } });
      }
    }),
  );
  await Promise.all([sending, receiving]);
  const result = summarize(`hubbub-http (${args.engine})`, latencies, ended - started, target);
  await new Promise((r) => server.close(r));
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
  return { ...result, loadAverage1m: { before: loadBefore, after: load() } };
}

/** CPU ms used so far by the machine's RabbitMQ (its beam.smp process), when /proc shows it. */
function rabbitCpuMs(): number | undefined {
  const tick = 100; // USER_HZ on Linux
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      // The broker boots with `-s rabbit boot`; rabbitmqctl and rabbitmq-plugins run beam.smp too.
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('rabbit\0boot')) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(beam.smp)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
    } catch {}
  }
  return undefined;
}

interface RheaContext {
  message: { application_properties?: { t?: number; run?: string } };
}

async function rabbitmq(): Promise<Result> {
  const loadBefore = load();
  const rhea = createRequire(import.meta.url)('rhea');
  const [host, port] = args.rabbitmq.split(':');
  const container = rhea.create_container();
  container.on('error', () => {});
  const conn = container.connect({
    host,
    port: Number(port),
    username: 'guest',
    password: 'guest',
    hostname: 'vhost:/',
    reconnect: false,
  });
  const failed = (why: string): Result => ({
    contender: 'rabbitmq-amqp1.0',
    messages: 0,
    seconds: 0,
    messagesPerSecond: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    finished: false,
    note: `skipped: ${why}`,
  });
  const opened = await new Promise<string | undefined>((resolve) => {
    conn.on('connection_open', () => resolve(undefined));
    conn.on('connection_error', () => resolve(String(conn.error?.description ?? 'connection error')));
    conn.on('disconnected', (c: { error?: Error }) => resolve(c.error?.message ?? 'disconnected'));
    setTimeout(() => resolve('no answer in 3 s'), 3000).unref();
  });
  if (opened !== undefined) {
    conn.close?.();
    return failed(`${opened} (enable rabbitmq_amqp1_0: rabbitmq-plugins enable rabbitmq_amqp1_0)`);
  }
  // /queue/NAME declares the queue; durable 2 (unsettled-state) declares it durable. A run cut off
  // by the deadline leaves messages behind: they carry another run id and are accepted, not counted.
  const address = '/queue/bench-bus-amqp';
  const run = `${process.pid}-${Date.now()}`;
  const latencies: number[] = [];
  let confirmed = 0;
  let problem: string | undefined;
  const cpuBefore = rabbitCpuMs();
  const wall = performance.now();
  const started = performance.now();
  let ended = started;
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (latencies.length >= COUNT && confirmed >= COUNT) resolve();
    };
    const receiver = conn.open_receiver({
      source: { address, durable: 2 },
      credit_window: CONCURRENCY,
      autoaccept: true,
    });
    receiver.on('message', (c: RheaContext) => {
      const p = c.message.application_properties;
      if (p?.run !== run || typeof p.t !== 'number') return;
      ended = performance.now();
      latencies.push(ended - p.t);
      finish();
    });
    for (const event of ['receiver_error', 'sender_error', 'connection_error', 'disconnected'])
      conn.on(event, (c: { receiver?: { error?: unknown }; sender?: { error?: unknown } }) => {
        problem ??= `${event}: ${JSON.stringify(c.receiver?.error ?? c.sender?.error ?? conn.error ?? '')}`;
        resolve();
      });
    for (let k = 0; k < SENDERS; k++) {
      const share = Math.floor(COUNT / SENDERS) + (k < COUNT % SENDERS ? 1 : 0);
      const sender = conn.open_sender({ target: { address, durable: 2 } });
      let sent = 0;
      sender.on('sendable', () => {
        while (sender.sendable() && sent < share) {
          sent++;
          sender.send({ durable: true, body, application_properties: { t: performance.now(), run } });
        }
      });
      sender.on('accepted', () => {
        confirmed++;
        ended = Math.max(ended, performance.now());
        finish();
      });
      sender.on('rejected', (c: { delivery: { remote_state?: unknown } }) => {
        problem ??= `rejected: ${JSON.stringify(c.delivery.remote_state)}`;
      });
    }
    setTimeout(resolve, DEADLINE_MS).unref();
  });
  const wallMs = performance.now() - wall;
  const cpuAfter = rabbitCpuMs();
  const result = summarize('rabbitmq-amqp1.0 (rhea, durable)', latencies, ended - started, COUNT);
  conn.close();
  const serverCpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  return {
    ...result,
    finished: result.finished && confirmed >= COUNT,
    ...(serverCpuMs === undefined
      ? {}
      : {
          serverCpuPercent: Math.round((serverCpuMs / wallMs) * 100),
          serverCpuUsPerMessage:
            latencies.length === 0 ? Number.NaN : Math.round((serverCpuMs * 1000) / latencies.length),
        }),
    loadAverage1m: { before: loadBefore, after: load() },
    ...(problem === undefined ? {} : { errors: [problem] }),
    note: `${SENDERS} sender links, receiver credit ${CONCURRENCY}, ${confirmed} sends confirmed`,
  };
}

const machine = watchMachine();
const results: Result[] = [];
try {
  if (only.has('sdk')) for (const n of CLIENTS) results.push(await clients(n, 'sdk'));
  if (only.has('rhea')) for (const n of CLIENTS) results.push(await clients(n, 'rhea'));
  if (only.has('http')) results.push(await http());
  if (only.has('rabbitmq')) results.push(await rabbitmq());
} finally {
  children.killAll();
}
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'bus-amqp',
      date: new Date().toISOString(),
      node: process.version,
      machine: machine.stop(),
      engine: args.engine,
      count: COUNT,
      batch: BATCH,
      senders: SENDERS,
      concurrency: CONCURRENCY,
      bodyBytes: BODY_BYTES,
      results,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
