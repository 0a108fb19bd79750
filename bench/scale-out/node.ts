// One node of bench/scale-out, in a process of its own: a sender or a receiver, through Hubbub's
// JetStream bus, through the official @nats-io/jetstream client, or (sender only) over the raw
// NATS protocol on a socket. Reports its CPU time and, for receivers, each message's send →
// receipt latency. Started by run.ts.
import { connect as connectTcp } from 'node:net';
import { performance } from 'node:perf_hooks';
import { openBus } from '@hubbub/bus';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { serveIpc } from '../lib/ipc.ts';

export interface NodeArgs {
  kind: 'hubbub' | 'official' | 'raw';
  role: 'send' | 'receive';
  /** nats://host:port */
  url: string;
  /** Hubbub: the bus namespace and queue. Official / raw: the stream's subject, stream and consumer. */
  namespace: string;
  queue: string;
  subject: string;
  stream: string;
  consumer: string;
  count: number;
  /** Sends in flight (sender) / messages per receive (receiver). */
  window: number;
  /** Messages per Hubbub send call (1 = one per send). */
  batch: number;
  bodyBytes: number;
  seconds: number;
}

export interface NodeReport {
  count: number;
  wallMs: number;
  cpuUs: number;
  /** Receivers: send → receipt, ms, sorted. */
  latencies: number[];
}

export type NodeApi = { run(args: NodeArgs): Promise<NodeReport> };

const now = (): number => performance.timeOrigin + performance.now();
/** When a receiver got its last message (its wall time ends there, not at its idle stop). */
let lastReceipt: number | undefined;
/** A receiver that got messages stops after this long without one (its share may have gone to another). */
const IDLE_STOP_MS = 1_500;

function body(bytes: number): (i: number) => string {
  const pad = 'x'.repeat(Math.max(0, bytes - 40));
  return (i) => JSON.stringify({ t: now(), i, pad });
}

async function hubbubSend(a: NodeArgs, started: () => void): Promise<number> {
  const bus = await openBus({ url: `${a.url}?namespace=${a.namespace}` });
  const sender = bus.createSender(a.queue);
  started();
  const make = body(a.bodyBytes);
  let next = 0;
  const deadline = Date.now() + a.seconds * 1000;
  const lane = async (): Promise<void> => {
    while (next < a.count && Date.now() < deadline) {
      const n = Math.min(a.batch, a.count - next);
      const start = next;
      next += n;
      await sender.send(
        Array.from({ length: n }, (_, k) => ({ body: make(start + k), contentType: 'application/json' })),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.ceil(a.window / a.batch)) }, lane));
  await bus.close();
  return next;
}

async function hubbubReceive(a: NodeArgs, latencies: number[], started: () => void): Promise<number> {
  const bus = await openBus({ url: `${a.url}?namespace=${a.namespace}` });
  const receiver = bus.createReceiver(a.queue);
  started();
  let got = 0;
  const deadline = Date.now() + a.seconds * 1000;
  let idleSince = Date.now();
  while (got < a.count && Date.now() < deadline) {
    const ms = await receiver.receiveMessages(a.window, { maxWaitTimeMs: 500 });
    const t = now();
    if (ms.length > 0) {
      lastReceipt = t;
      idleSince = Date.now();
    } else if (got > 0 && Date.now() - idleSince > IDLE_STOP_MS) break;
    for (const m of ms) latencies.push(t - (JSON.parse(m.body as string) as { t: number }).t);
    got += ms.length;
    await Promise.all(ms.map((m) => m.complete()));
  }
  await bus.close();
  return got;
}

async function officialSend(a: NodeArgs, started: () => void): Promise<number> {
  const nc = await connect({ servers: a.url });
  const js = jetstream(nc);
  started();
  const make = body(a.bodyBytes);
  let next = 0;
  const deadline = Date.now() + a.seconds * 1000;
  const lane = async (): Promise<void> => {
    while (next < a.count && Date.now() < deadline) {
      const i = next++;
      await js.publish(a.subject, make(i));
    }
  };
  await Promise.all(Array.from({ length: a.window }, lane));
  await nc.drain();
  return next;
}

async function officialReceive(a: NodeArgs, latencies: number[], started: () => void): Promise<number> {
  const nc = await connect({ servers: a.url });
  const js = jetstream(nc);
  const consumer = await js.consumers.get(a.stream, a.consumer);
  started();
  let got = 0;
  const deadline = Date.now() + a.seconds * 1000;
  let idleSince = Date.now();
  while (got < a.count && Date.now() < deadline) {
    const iter = await consumer.fetch({ max_messages: a.window, expires: 1_000 });
    const acks: Promise<boolean>[] = [];
    for await (const m of iter) {
      const t = now();
      latencies.push(t - m.json<{ t: number }>().t);
      lastReceipt = t;
      got++;
      acks.push(m.ackAck());
    }
    await Promise.all(acks);
    if (acks.length > 0) idleSince = Date.now();
    else if (got > 0 && Date.now() - idleSince > IDLE_STOP_MS) break;
  }
  await nc.drain();
  return got;
}

/** Publishes over the raw protocol: PUB with a reply subject, `window` unanswered at most. */
async function rawSend(a: NodeArgs, started: () => void): Promise<number> {
  const { hostname, port } = new URL(a.url);
  const socket = connectTcp(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setNoDelay(true);
  started();
  const make = body(a.bodyBytes);
  let sent = 0;
  let acked = 0;
  let buf = '';
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const deadline = Date.now() + a.seconds * 1000;
  const pump = (): void => {
    let out = '';
    while (sent < a.count && sent - acked < a.window) {
      const payload = make(sent);
      out += `PUB ${a.subject} _R.${sent} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`;
      sent++;
    }
    if (out !== '') socket.write(out);
  };
  socket.on('data', (chunk: Buffer) => {
    buf += chunk.toString('latin1');
    for (;;) {
      if (buf.startsWith('PING')) {
        socket.write('PONG\r\n');
      }
      const eol = buf.indexOf('\r\n');
      if (eol < 0) break;
      const line = buf.slice(0, eol);
      if (line.startsWith('MSG ')) {
        const size = Number(line.slice(line.lastIndexOf(' ') + 1));
        if (buf.length < eol + 2 + size + 2) break;
        buf = buf.slice(eol + 2 + size + 2);
        acked++;
        if (acked >= a.count || (Date.now() > deadline && acked >= sent)) return done();
        continue;
      }
      buf = buf.slice(eol + 2);
    }
    if (Date.now() < deadline) pump();
  });
  socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\nSUB _R.* 1\r\nPING\r\n');
  pump();
  await finished;
  socket.destroy();
  return acked;
}

serveIpc<NodeApi>({
  async run(a) {
    const latencies: number[] = [];
    // CPU and time count from when the node is connected (its code loaded, its bus open).
    let cpu = process.cpuUsage();
    let start = now();
    const started = (): void => {
      cpu = process.cpuUsage();
      start = now();
    };
    let count: number;
    if (a.kind === 'raw') count = await rawSend(a, started);
    else if (a.kind === 'hubbub')
      count = a.role === 'send' ? await hubbubSend(a, started) : await hubbubReceive(a, latencies, started);
    else count = a.role === 'send' ? await officialSend(a, started) : await officialReceive(a, latencies, started);
    const used = process.cpuUsage(cpu);
    return {
      count,
      wallMs: (lastReceipt ?? now()) - start,
      cpuUs: used.user + used.system,
      latencies: latencies.sort((x, y) => x - y),
    };
  },
});
