// bus-amqp: send → receive → complete through Hubbub's AMQP front with the official
// @azure/service-bus SDK, beside the same workload over Hubbub's HTTP API and beside RabbitMQ's
// AMQP 1.0 (driven by rhea) when the machine's RabbitMQ speaks it, in one run. Prints JSON.
//   node --import tsx bench/bus-amqp/run.ts [--count 20000] [--http-count 2000] [--batch 100]
//        [--senders 4] [--concurrency 200] [--engine file] [--only sdk,http,rabbitmq]
//        [--receiver stream|batch]   (subscribe, or receiveMessages(concurrency) + concurrent completes)
// Throughput = messages / (first send → last completion); latency = a message's send → its receipt.
// Bounded: each contender stops after --seconds (default 20) whether or not it finished.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ServiceBusClient } from '@azure/service-bus';
import { createBusHttpHandler, createSasToken, openBus } from '@hubbub/bus';
import { createAmqpFront } from '@hubbub/bus-amqp';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    'http-count': { type: 'string', default: '2000' },
    batch: { type: 'string', default: '100' },
    senders: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '200' },
    engine: { type: 'string', default: 'file' },
    seconds: { type: 'string', default: '20' },
    only: { type: 'string', default: 'sdk,http,rabbitmq' },
    rabbitmq: { type: 'string', default: '127.0.0.1:5672' },
    client: { type: 'string' },
    receiver: { type: 'string', default: 'stream' },
  },
});
const COUNT = Number(args.count);
const BATCH = Number(args.batch);
const SENDERS = Number(args.senders);
const CONCURRENCY = Number(args.concurrency);
const DEADLINE_MS = Number(args.seconds) * 1000;
const only = new Set(args.only.split(','));
const key = { name: 'RootManageSharedAccessKey', key: 'bench-key-0123456789abcdef' };
const body = 'x'.repeat(100);

interface Result {
  contender: string;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  finished: boolean;
  note?: string;
}

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

function summarize(contender: string, latencies: number[], started: number, target: number, note?: string): Result {
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    contender,
    messages: latencies.length,
    seconds: Number(seconds.toFixed(2)),
    messagesPerSecond: Math.round(latencies.length / seconds),
    p50Ms: Number(quantile(latencies, 0.5).toFixed(2)),
    p99Ms: Number(quantile(latencies, 0.99).toFixed(2)),
    finished: latencies.length >= target,
    ...(note === undefined ? {} : { note }),
  };
}

async function openHubbub() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bus-amqp-'));
  const url = args.engine === 'memory' ? 'memory://' : `file://${dir}`;
  const bus = await openBus({ url, entities: { queues: [{ name: 'sdk' }, { name: 'http' }] } });
  return { bus, dir };
}

/** The SDK workload, run in its own process (`--client CONNECTION_STRING`) so client CPU is not the server's. */
async function sdkClient(connectionString: string): Promise<Result> {
  const client = new ServiceBusClient(connectionString);
  const latencies: number[] = [];
  const receiver = client.createReceiver('sdk');
  const started = performance.now();
  const done =
    args.receiver === 'batch'
      ? (async () => {
          // receiveMessages in batches, completing each batch's messages concurrently.
          while (latencies.length < COUNT && performance.now() - started < DEADLINE_MS) {
            const got = await receiver.receiveMessages(CONCURRENCY, { maxWaitTimeInMs: 1000 });
            for (const m of got) latencies.push(performance.now() - Number(m.applicationProperties?.t));
            await Promise.all(got.map((m) => receiver.completeMessage(m)));
          }
        })()
      : new Promise<void>((resolve) => {
          receiver.subscribe(
            {
              processMessage: async (m) => {
                latencies.push(performance.now() - Number(m.applicationProperties?.t));
                if (latencies.length >= COUNT) resolve();
              },
              processError: async () => {},
            },
            { maxConcurrentCalls: CONCURRENCY, autoCompleteMessages: true },
          );
        });
  const sending = Promise.all(
    Array.from({ length: SENDERS }, async () => {
      const sender = client.createSender('sdk');
      for (let i = 0; i < COUNT / SENDERS && performance.now() - started < DEADLINE_MS; i += BATCH) {
        const t = performance.now();
        await sender.sendMessages(Array.from({ length: BATCH }, () => ({ body, applicationProperties: { t } })));
      }
    }),
  );
  await Promise.race([Promise.all([sending, done]), new Promise((r) => setTimeout(r, DEADLINE_MS))]);
  const result = summarize(`hubbub-amqp-sdk (${args.engine}, ${args.receiver})`, latencies, started, COUNT);
  await client.close().catch(() => {});
  return result;
}

async function sdk(): Promise<Result> {
  const { bus, dir } = await openHubbub();
  const front = createAmqpFront({ bus, keys: [key], port: 0 });
  await front.start();
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
      '--client',
      front.connectionString(key),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await new Promise((r) => child.once('exit', r));
  await front.close();
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
  return { ...(JSON.parse(out) as Result), note: 'SDK client in its own process' };
}

async function http(): Promise<Result> {
  const target = Number(args['http-count']);
  const { bus, dir } = await openHubbub();
  const handler = createBusHttpHandler(bus, { keys: [key] });
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const auth = createSasToken(`${base}/http`, key, Date.now() / 1000 + 3600);
  const latencies: number[] = [];
  const started = performance.now();
  const sending = Promise.all(
    Array.from({ length: SENDERS }, async () => {
      for (let i = 0; i < target / SENDERS && performance.now() - started < DEADLINE_MS; i += BATCH) {
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
      while (latencies.length < target && performance.now() - started < DEADLINE_MS) {
        const res = await fetch(`${base}/http/messages/head?timeout=1`, {
          method: 'POST',
          headers: { authorization: auth },
        });
        if (res.status !== 201) {
          await res.arrayBuffer();
          continue;
        }
        await res.arrayBuffer();
        latencies.push(performance.now() - Number(res.headers.get('t')));
        await fetch(res.headers.get('location')!, { method: 'DELETE', headers: { authorization: auth } });
      }
    }),
  );
  await Promise.all([sending, receiving]);
  const result = summarize(`hubbub-http (${args.engine})`, latencies, started, target);
  await new Promise((r) => server.close(r));
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

async function rabbitmq(): Promise<Result> {
  const rhea = createRequire(import.meta.url)('rhea');
  const [host, port] = args.rabbitmq.split(':');
  const container = rhea.create_container();
  const conn = container.connect({
    host,
    port: Number(port),
    username: 'guest',
    password: 'guest',
    hostname: 'vhost:/',
    reconnect: false,
  });
  const opened = await new Promise<string | undefined>((resolve) => {
    conn.on('connection_open', () => resolve(undefined));
    conn.on('connection_error', () => resolve(String(conn.error?.description ?? 'connection error')));
    conn.on('disconnected', (c: { error?: Error }) => resolve(c.error?.message ?? 'disconnected'));
    setTimeout(() => resolve('no answer in 3 s'), 3000).unref();
  });
  if (opened !== undefined) {
    conn.close?.();
    return {
      contender: 'rabbitmq-amqp1.0',
      messages: 0,
      seconds: 0,
      messagesPerSecond: 0,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      finished: false,
      note: `skipped: ${opened} (enable rabbitmq_amqp1_0)`,
    };
  }
  const address = '/queues/bench-bus-amqp';
  const latencies: number[] = [];
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const receiver = conn.open_receiver({
      source: { address, durable: 2 },
      credit_window: CONCURRENCY,
      autoaccept: true,
    });
    receiver.on('message', (c: { message: { application_properties: { t: number } } }) => {
      latencies.push(performance.now() - c.message.application_properties.t);
      if (latencies.length >= COUNT) resolve();
    });
    const sender = conn.open_sender({ target: { address } });
    let sent = 0;
    sender.on('sendable', () => {
      while (sender.sendable() && sent < COUNT) {
        sent++;
        sender.send({ durable: true, body, application_properties: { t: performance.now() } });
      }
    });
    setTimeout(resolve, DEADLINE_MS).unref();
  });
  const result = summarize('rabbitmq-amqp1.0 (rhea, durable)', latencies, started, COUNT);
  conn.close();
  return result;
}

if (args.client !== undefined) {
  process.stdout.write(JSON.stringify(await sdkClient(args.client)));
  process.exit(0);
}
const load = { before: loadavg()[0] };
const results: Result[] = [];
if (only.has('sdk')) results.push(await sdk());
if (only.has('http')) results.push(await http());
if (only.has('rabbitmq')) results.push(await rabbitmq());
process.stdout.write(
  `${JSON.stringify({ benchmark: 'bus-amqp', date: new Date().toISOString(), node: process.version, loadAverage1m: { ...load, after: loadavg()[0] }, count: COUNT, batch: BATCH, senders: SENDERS, concurrency: CONCURRENCY, results }, null, 2)}\n`,
);
process.exit(0);
