// scale-out: the bus on NATS JetStream across nodes. In one run, against one fresh nats-server:
//   raw      — the server's ceiling: durable publishes over the raw protocol (PUB with a reply, a
//              window in flight, no client library), one process;
//   official — the official @nats-io/jetstream client: one process publishes (js.publish, a window
//              in flight), another fetches and acknowledges (ackAck) from a durable pull consumer;
//   hubbub   — Hubbub's bus (`nats://…`): one node sends (batches of --batch, --window messages in
//              flight), another receives (--window per receive) and completes each message.
// --pairs N runs N sender and N receiver processes per contender (the count split between them).
// Throughput = messages / the slower side's wall time; latency = a message's send → its receipt.
// CPU per message = client processes' CPU time / messages, and the server's (from /proc) beside it:
// on a loaded machine wall-clock numbers mean little, CPU per message is the guide. Prints JSON.
//   node --import tsx bench/scale-out/run.ts [--count 20000] [--window 256] [--batch 100]
//        [--body-bytes 100] [--seconds 30] [--only raw,official,hubbub] [--url nats://…] [--pairs 1]
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openBus } from '@hubbub/bus';
import { startNats } from '@hubbub/bus/nats/testing';
import { AckPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Children } from '../lib/children.ts';
import type { Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';
import type { NodeApi, NodeArgs, NodeReport } from './node.ts';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    window: { type: 'string', default: '256' },
    batch: { type: 'string', default: '100' },
    'body-bytes': { type: 'string', default: '100' },
    seconds: { type: 'string', default: '30' },
    only: { type: 'string', default: 'raw,official,hubbub' },
    url: { type: 'string' },
    pairs: { type: 'string', default: '1' },
  },
});

const COUNT = Number(args.count);
const WINDOW = Number(args.window);
const BATCH = Number(args.batch);
const BODY = Number(args['body-bytes']);
const SECONDS = Number(args.seconds);
const only = new Set(args.only.split(','));
/** Sender and receiver node processes per contender (raw: one sender). */
const PAIRS = Number(args.pairs);

const TICK_US = 10_000; // /proc times are in clock ticks of 10 ms
function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const r1 = (x: number): number => Math.round(x * 10) / 10;

interface Result {
  contender: string;
  messages: number;
  msgPerSec: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuUsPerMsg: number;
  serverCpuUsPerMsg: number;
  sender: NodeReport;
  receiver?: Omit<NodeReport, 'latencies'>;
}

const children = new Children(dirname(fileURLToPath(import.meta.url)));
const machine = watchMachine();
const started = Date.now();
const nats = args.url === undefined ? await startNats(1) : undefined;
const url = args.url ?? nats!.nodes[0]!.url;
const serverPid = nats?.nodes[0]?.process?.pid;
const run = `so${Date.now().toString(36)}`;

const base: Omit<NodeArgs, 'kind' | 'role'> = {
  url,
  namespace: run,
  queue: 'q',
  subject: `${run}.bench`,
  stream: `${run}_BENCH`,
  consumer: 'c',
  count: COUNT,
  window: WINDOW,
  batch: BATCH,
  bodyBytes: BODY,
  seconds: SECONDS,
};

async function phase(
  contender: string,
  kind: NodeArgs['kind'],
  setup: () => Promise<Partial<NodeArgs>>,
): Promise<Result> {
  const extra = await setup();
  const pairs = kind === 'raw' ? 1 : PAIRS;
  const senders = Array.from({ length: pairs }, (_, i) =>
    children.start<NodeApi>('node.ts', `${contender}-sender${i}`),
  );
  const receivers =
    kind === 'raw'
      ? []
      : Array.from({ length: pairs }, (_, i) => children.start<NodeApi>('node.ts', `${contender}-receiver${i}`));
  await Promise.all([...senders, ...receivers].map((p) => p.serving));
  const serverBefore = processCpuUs(serverPid);
  const share = Math.ceil(COUNT / pairs);
  const call = (p: Peer<NodeApi>, role: NodeArgs['role']) =>
    p.call('run', { ...base, ...extra, count: share, kind, role }, (SECONDS + 60) * 1000);
  const [sent, received] = await Promise.all([
    Promise.all(senders.map((p) => call(p, 'send'))),
    Promise.all(receivers.map((p) => call(p, 'receive'))),
  ]);
  const serverUs = processCpuUs(serverPid) - serverBefore;
  for (const p of [...senders, ...receivers]) await children.stop(p, { askToExit: false, timeoutMs: 5_000 });
  const sum = (reports: NodeReport[]): NodeReport => ({
    count: reports.reduce((a, x) => a + x.count, 0),
    wallMs: Math.max(...reports.map((x) => x.wallMs)),
    cpuUs: reports.reduce((a, x) => a + x.cpuUs, 0),
    latencies: reports.flatMap((x) => x.latencies).sort((x, y) => x - y),
  });
  const s = sum(sent);
  const r = received.length === 0 ? undefined : sum(received);
  const messages = r?.count ?? s.count;
  const wall = Math.max(s.wallMs, r?.wallMs ?? 0);
  return {
    contender,
    messages,
    msgPerSec: Math.round((messages / wall) * 1000),
    p50Ms: r1(pct(r?.latencies ?? [], 50)),
    p99Ms: r1(pct(r?.latencies ?? [], 99)),
    clientCpuUsPerMsg: r1((s.cpuUs + (r?.cpuUs ?? 0)) / messages),
    serverCpuUsPerMsg: r1(serverUs / messages),
    sender: { ...s, latencies: [] },
    ...(r === undefined ? {} : { receiver: { count: r.count, wallMs: Math.round(r.wallMs), cpuUs: r.cpuUs } }),
  };
}

async function stream(name: string, subject: string, consumer: boolean): Promise<void> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  if (consumer) {
    await jsm.consumers.add(name, {
      durable_name: 'c',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 60_000_000_000,
      max_ack_pending: 20_000,
    });
  }
  await nc.close();
}

const results: Result[] = [];
try {
  if (only.has('raw')) {
    results.push(
      await phase('raw protocol (server ceiling)', 'raw', async () => {
        await stream(`${run}_RAW`, `${run}.raw`, false);
        return { subject: `${run}.raw`, stream: `${run}_RAW` };
      }),
    );
  }
  if (only.has('official')) {
    results.push(
      await phase('@nats-io/jetstream', 'official', async () => {
        await stream(`${run}_BENCH`, `${run}.bench`, true);
        return {};
      }),
    );
  }
  if (only.has('hubbub')) {
    results.push(
      await phase('hubbub bus (nats://)', 'hubbub', async () => {
        const bus = await openBus({ url: `${url}?namespace=${run}` });
        await bus.admin.createQueue('q', { lockDuration: 60_000 });
        await bus.close();
        return {};
      }),
    );
  }
} finally {
  children.killAll();
  await nats?.stop();
}

const official = results.find((r) => r.contender === '@nats-io/jetstream');
const hubbub = results.find((r) => r.contender.startsWith('hubbub'));
console.log(
  JSON.stringify(
    {
      benchmark: 'scale-out',
      date: new Date().toISOString(),
      node: process.version,
      machine: machine.stop(),
      config: {
        count: COUNT,
        pairs: PAIRS,
        window: WINDOW,
        batch: BATCH,
        bodyBytes: BODY,
        seconds: SECONDS,
        server: 'nats-server 2.9 (fresh store)',
      },
      results,
      ratios:
        official !== undefined && hubbub !== undefined
          ? {
              hubbubVsOfficialRate: Math.round((hubbub.msgPerSec / official.msgPerSec) * 100) / 100,
              hubbubVsOfficialClientCpu:
                Math.round((hubbub.clientCpuUsPerMsg / official.clientCpuUsPerMsg) * 100) / 100,
            }
          : undefined,
      runSeconds: Math.round((Date.now() - started) / 1000),
    },
    null,
    2,
  ),
);
