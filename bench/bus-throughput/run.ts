// bus-throughput: send → receive → complete throughput and latency for the bus's memory and file
// engines, with graphile-worker on PostgreSQL as the baseline, in one run. Prints JSON.
//   node --import tsx bench/bus-throughput/run.ts [--count 100000] [--senders 16] [--batch 1]
//        [--rate 5000] [--seconds 4] [--pg-count 20000] [--only memory,file,graphile]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Bus, createBus } from '@hubbub/bus';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    senders: { type: 'string', default: '16' },
    batch: { type: 'string', default: '1' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '4' },
    'pg-count': { type: 'string', default: '20000' },
    only: { type: 'string', default: 'memory,file,graphile' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const COUNT = Number(args.count);
const SENDERS = Number(args.senders);
const BATCH = Number(args.batch);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const PG_COUNT = Number(args['pg-count']);
const only = new Set(args.only.split(','));

interface Result {
  system: string;
  scenario: string;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(system: string, scenario: string, latencies: number[], elapsedMs: number): Result {
  const sorted = Float64Array.from(latencies).sort();
  return {
    system,
    scenario,
    messages: latencies.length,
    seconds: +(elapsedMs / 1000).toFixed(3),
    messagesPerSecond: Math.round(latencies.length / (elapsedMs / 1000)),
    p50Ms: +percentile(sorted, 50).toFixed(3),
    p99Ms: +percentile(sorted, 99).toFixed(3),
    p999Ms: +percentile(sorted, 99.9).toFixed(3),
    maxMs: +(sorted.at(-1) ?? Number.NaN).toFixed(3),
  };
}

interface Harness {
  name: string;
  /** Sends one batch; bodies carry their send time. */
  send(bodies: Array<{ t: number; i: number }>): Promise<void>;
  /** Starts consuming; `onDone(t)` is called after each message's completion is acknowledged. */
  consume(onDone: (t: number) => void): void;
  close(): Promise<void>;
}

async function busHarness(name: string, url: string): Promise<Harness> {
  const bus: Bus = await createBus({ url, entities: { queues: [{ name: 'bench' }] } });
  const sender = bus.createSender('bench');
  let running = true;
  const loops: Promise<void>[] = [];
  return {
    name,
    send: (bodies) => sender.send(bodies.map((body) => ({ body }))),
    consume(onDone) {
      for (let r = 0; r < 4; r++) {
        const receiver = bus.createReceiver('bench');
        loops.push(
          (async () => {
            while (running) {
              const got = await receiver.receiveMessages(256, { maxWaitTimeMs: 100 }).catch(() => []);
              await Promise.all(got.map((m) => m.complete().then(() => onDone((m.body as { t: number }).t))));
            }
          })(),
        );
      }
    },
    async close() {
      running = false;
      await Promise.all(loops);
      await bus.close();
    },
  };
}

async function graphileHarness(connectionString: string): Promise<Harness> {
  const { makeWorkerUtils, run } = await import('graphile-worker');
  const utils = await makeWorkerUtils({ connectionString });
  await utils.migrate();
  let onDone: (t: number) => void = () => {};
  // The settings graphile-worker's performance page uses: a local queue, batched completions.
  const runner = await run({
    connectionString,
    concurrency: 24,
    noHandleSignals: true,
    pollInterval: 1000,
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0, maxPoolSize: 25 } },
    logger: new (await import('graphile-worker')).Logger(() => () => {}),
    taskList: {
      bench: async (payload) => {
        onDone((payload as { t: number }).t);
      },
    },
  });
  return {
    name: 'graphile-worker',
    async send(bodies) {
      if (bodies.length === 1) await utils.addJob('bench', bodies[0]!);
      else await utils.addJobs(bodies.map((payload) => ({ identifier: 'bench', payload })));
    },
    consume(fn) {
      onDone = fn;
    },
    async close() {
      await runner.stop();
      await utils.release();
    },
  };
}

/** Throughput: `senders` concurrent senders push `count` messages; receivers complete them. */
async function throughput(h: Harness, count: number): Promise<Result> {
  const latencies: number[] = [];
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  h.consume((t) => {
    latencies.push(performance.now() - t);
    if (latencies.length === count) finish();
  });
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (next < count) {
        const n = Math.min(BATCH, count - next);
        const bodies = Array.from({ length: n }, () => ({ t: performance.now(), i: next++ }));
        await h.send(bodies);
      }
    }),
  );
  await Promise.race([finished, new Promise((r) => setTimeout(r, 120_000))]);
  return summarize(h.name, `throughput ${SENDERS} senders × batch ${BATCH}`, latencies, performance.now() - start);
}

/** Latency at a fixed offered rate (single-message sends), for `seconds`. */
async function latency(h: Harness, rate: number, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  const total = rate * seconds;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  h.consume((t) => {
    latencies.push(performance.now() - t);
    if (latencies.length === total) finish();
  });
  const start = performance.now();
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due) {
      const p = h.send([{ t: performance.now(), i: sent++ }]);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  await Promise.race([finished, new Promise((r) => setTimeout(r, 60_000))]);
  return summarize(h.name, `latency at ${rate} msg/s`, latencies, performance.now() - start);
}

/** The disk's own fsync latency (4 KiB write + fdatasync, sequential) during the run, for context. */
async function fsyncProbe(
  dir: string,
  ms: number,
): Promise<{ p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; samples: number }> {
  const { open } = await import('node:fs/promises');
  const fh = await open(join(dir, 'probe'), 'w');
  const buf = Buffer.alloc(4096, 1);
  const lat: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    await fh.write(buf);
    await fh.datasync();
    lat.push(performance.now() - t);
  }
  await fh.close();
  const sorted = Float64Array.from(lat).sort();
  return {
    p50Ms: +percentile(sorted, 50).toFixed(3),
    p99Ms: +percentile(sorted, 99).toFixed(3),
    p999Ms: +percentile(sorted, 99.9).toFixed(3),
    maxMs: +(sorted.at(-1) ?? Number.NaN).toFixed(3),
    samples: lat.length,
  };
}

const results: Result[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'hubbub-bench-bus-'));
let fsync: Awaited<ReturnType<typeof fsyncProbe>> | undefined;
try {
  fsync = await fsyncProbe(scratch, 5_000);
  for (const system of ['memory', 'file', 'graphile']) {
    if (!only.has(system)) continue;
    const make = (): Promise<Harness> =>
      system === 'memory'
        ? busHarness('bus memory://', 'memory://')
        : system === 'file'
          ? busHarness('bus file:// (fsync)', `file://${mkdtempSync(join(scratch, 'f-'))}`)
          : graphileHarness(args.pg);
    let h = await make();
    results.push(await throughput(h, system === 'graphile' ? PG_COUNT : COUNT));
    await h.close();
    h = await make();
    results.push(await latency(h, RATE, SECONDS));
    await h.close();
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const { cpus, loadavg } = await import('node:os');
const report = { node: process.version, cpus: cpus().length, loadavg: loadavg(), fsync, results };
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0); // graphile-worker's pools keep the event loop alive
