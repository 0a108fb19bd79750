// bus-throughput: send → receive → complete throughput and latency for the bus's memory and file
// engines, with graphile-worker on PostgreSQL as the baseline, in one run. Prints JSON.
//   node --import tsx bench/bus-throughput/run.ts [--count 100000] [--senders 16] [--batch 1]
//        [--rate 5000] [--seconds 4] [--pg-count 20000] [--only memory,file,graphile]
//        [--compact-after BYTES] [--probe] [--backlog N --compact-at MS] [--window 4096]
//        [--queued 1000000] [--max-in-flight N --flush-after N (file engine options, A/B)]
//        [--closed-loop-only [--repeat N] [--direct-writes]]
// `--closed-loop-only` runs only the closed loop (and its interleaved disk samples) per system,
// `--repeat` times; with `--direct-writes` each repeat runs the file engine twice, as is and with its
// frames written by `writeSync` on the event loop's thread (through its `fsWrite` option; an A/B of
// the thread pool's round trip, not a mode the engine offers).
// Latency = from the start of a message's send() to its receipt (`receive*`) and to its acknowledged
// complete() (`p50Ms`…). The latency runs also report where time went: event-loop delay, GC pauses,
// and for the file engine every flush's durable-write time (stalls = flushes that took > 10 ms)
// and compactions; `--probe` runs an independent fsync probe process (4 KiB + fdatasync every 10 ms)
// during them, to tell disk stalls from our own. `--backlog N` first parks N messages (200-byte
// bodies) in a second queue, so the live state is large; `--compact-at MS` starts a compaction that
// many ms into the latency run and reports the latency of the messages sent while it ran.
import { spawn } from 'node:child_process';
import {
  write as fsWrite,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Bus, openBus } from '@hubbub/bus';
import { FileEngine, type FlushTiming, type FsWrite } from '@hubbub/bus/engine';
import { watchMachine } from '../lib/machine.ts';
import { cpuMeter, type DsyncProbe, dsyncProbe, dsyncSampler, mainThreadCpuUs } from './disk.ts';

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
    'compact-after': { type: 'string' },
    probe: { type: 'boolean', default: false },
    backlog: { type: 'string', default: '0' },
    'compact-at': { type: 'string' },
    window: { type: 'string', default: '4096' },
    'max-in-flight': { type: 'string' },
    'flush-after': { type: 'string' },
    queued: { type: 'string', default: '0' },
    'closed-loop-only': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    'direct-writes': { type: 'boolean', default: false },
  },
});
const COUNT = Number(args.count);
const SENDERS = Number(args.senders);
const BATCH = Number(args.batch);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const PG_COUNT = Number(args['pg-count']);
const BACKLOG = Number(args.backlog);
const WINDOW = Number(args.window);
const QUEUED = Number(args.queued);
const only = new Set(args.only.split(','));
/** The closed loop's slices, each after a sample of the disk's latency of this length. */
const CLOSED_LOOP_SLICES = 8;
const PROBE_SLICE_MS = 250;

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
  receiveP50Ms: number;
  receiveP99Ms: number;
  receiveMaxMs: number;
  /** CPU time of this process per completed message (user + system), µs. */
  cpuUsPerMessage?: number;
  diagnostics?: Record<string, unknown>;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(
  system: string,
  scenario: string,
  latencies: number[],
  received: number[],
  elapsedMs: number,
): Result {
  const sorted = Float64Array.from(latencies).sort();
  const r = Float64Array.from(received).sort();
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
    receiveP50Ms: +percentile(r, 50).toFixed(3),
    receiveP99Ms: +percentile(r, 99).toFixed(3),
    receiveMaxMs: +(r.at(-1) ?? Number.NaN).toFixed(3),
  };
}

/** p50 / p99 / p99.9 / max of a list, rounded. */
function spread(values: number[]): { p50: number; p99: number; p999: number; max: number } {
  const s = Float64Array.from(values).sort();
  const at = (p: number): number => +percentile(s, p).toFixed(3);
  return { p50: at(50), p99: at(99), p999: at(99.9), max: +(s.at(-1) ?? Number.NaN).toFixed(3) };
}

interface Harness {
  name: string;
  /** Sends one batch; bodies carry their send time. */
  send(bodies: Array<{ t: number; i: number }>): Promise<void>;
  /**
   * Starts consuming; `onDone(t, receivedAt)` is called after each message's completion is
   * acknowledged, with the time the consumer got it.
   */
  consume(onDone: (t: number, receivedAt: number) => void): void;
  close(): Promise<void>;
  /** The file engine's flushes since the last call (its `onFlush` reports), and its compactions. */
  flushes?(): { flushes: Array<FlushTiming & { at: number }>; compactions: number };
  /** Parks `n` messages in a queue nobody reads (bus only). */
  backlog?(n: number): Promise<void>;
  /** Compacts the engine's storage (bus only). */
  compact?(): Promise<void>;
}

/**
 * `fsWrite` for the A/B: frames (< 64 KiB) written on this thread, the callback called at once;
 * the prefill's 1 MiB chunks still go through the thread pool.
 */
const directWrites: FsWrite = (fd, buffer, offset, length, position, callback) => {
  if (length >= 64 * 1024) return fsWrite(fd, buffer, offset, length, position, callback);
  let written = 0;
  let error: NodeJS.ErrnoException | null = null;
  try {
    written = writeSync(fd, buffer, offset, length, position);
  } catch (err) {
    error = err as NodeJS.ErrnoException;
  }
  callback(error, written);
};

async function busHarness(name: string, url: string, direct = false): Promise<Harness> {
  let flushes: Array<FlushTiming & { at: number }> = [];
  const compactAfter = args['compact-after'];
  const engine = url.startsWith('file://')
    ? new FileEngine({
        dir: url.slice('file://'.length),
        onFlush: (f) => flushes.push({ at: performance.now(), ...f }),
        ...(compactAfter === undefined ? {} : { compactAfterBytes: Number(compactAfter) }),
        ...(args['max-in-flight'] === undefined ? {} : { maxInFlight: Number(args['max-in-flight']) }),
        ...(args['flush-after'] === undefined ? {} : { flushAfterWrites: Number(args['flush-after']) }),
        ...(direct ? { fsWrite: directWrites } : {}),
      })
    : undefined;
  const bus: Bus = await openBus({
    ...(engine === undefined ? { url } : { engine }),
    entities: { queues: [{ name: 'bench' }, { name: 'backlog' }] },
  });
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
              const at = performance.now();
              await Promise.all(got.map((m) => m.complete().then(() => onDone((m.body as { t: number }).t, at))));
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
    async backlog(n) {
      const parked = bus.createSender('backlog');
      const body = 'x'.repeat(200);
      for (let i = 0; i < n; i += 1000)
        await parked.send(Array.from({ length: Math.min(1000, n - i) }, () => ({ body })));
    },
    compact: async () => engine?.compact(),
    ...(engine === undefined
      ? {}
      : {
          flushes() {
            const out = flushes;
            flushes = [];
            return { flushes: out, compactions: engine.compactions };
          },
        }),
  };
}

async function graphileHarness(connectionString: string): Promise<Harness> {
  const { makeWorkerUtils, run } = await import('graphile-worker');
  const utils = await makeWorkerUtils({ connectionString });
  await utils.migrate();
  let onDone: (t: number, receivedAt: number) => void = () => {};
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
        onDone((payload as { t: number }).t, performance.now());
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

/**
 * Starts `h`'s consumers and records, per completed message, its latency to the acknowledged
 * complete, to its receipt, and when it was sent; `finished` resolves once `count` completed.
 */
function collect(h: Harness, count: number) {
  const latencies: number[] = [];
  const received: number[] = [];
  const sentAt: number[] = [];
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  h.consume((t, at) => {
    latencies.push(performance.now() - t);
    received.push(at - t);
    sentAt.push(t);
    if (latencies.length === count) finish();
  });
  return { latencies, received, sentAt, finished };
}

/** Throughput: `senders` concurrent senders push `count` messages; receivers complete them. */
async function throughput(h: Harness, count: number): Promise<Result> {
  const { latencies, received, finished } = collect(h, count);
  h.flushes?.();
  const cpu = cpuMeter();
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
  const elapsed = performance.now() - start;
  const result = summarize(h.name, `throughput ${SENDERS} senders × batch ${BATCH}`, latencies, received, elapsed);
  result.cpuUsPerMessage = cpu.perUnitUs(latencies.length);
  const f = h.flushes?.();
  if (f !== undefined) {
    result.diagnostics = {
      flushes: f.flushes.length,
      writesPerFlush: spread(f.flushes.map((x) => x.writes)),
      durableWriteMs: spread(f.flushes.map((x) => x.ms)),
    };
  }
  return result;
}

/**
 * Closed loop, sends only: `senders` senders each send one message and wait for its durable
 * acknowledgement before the next, nobody consuming. With one write per message this cannot beat
 * senders ÷ (durable write latency): the disk's limit for this load. For the file engine the loop
 * runs in {@link CLOSED_LOOP_SLICES} slices, each after a {@link PROBE_SLICE_MS} sample of the disk's
 * `O_DSYNC` latency (`dsyncSampler`), so the ceiling is measured on the same disk at the same time.
 * The ceiling is senders ÷ the mean latency (Little's law: a closed loop's throughput is its
 * population over its mean cycle, so with zero CPU per round it is senders ÷ mean write); the p50
 * is reported beside it but overstates the ceiling whenever the disk has a tail.
 */
async function closedLoop(
  h: Harness,
  count: number,
  senders: number,
  scratch: string,
): Promise<Record<string, unknown>> {
  const sampler = h.flushes === undefined ? undefined : dsyncSampler(scratch);
  const slices = sampler === undefined ? 1 : CLOSED_LOOP_SLICES;
  h.flushes?.();
  const flushes: FlushTiming[] = [];
  // Time from one flush's acknowledgement to the next one's, within a slice: one round of the loop.
  const rounds: number[] = [];
  let elapsed = 0;
  let cpuUs = 0;
  let mainUs = 0;
  let next = 0;
  for (let s = 0; s < slices; s++) {
    await sampler?.sample(PROBE_SLICE_MS);
    const end = Math.round((count * (s + 1)) / slices);
    const c0 = process.cpuUsage();
    const m0 = mainThreadCpuUs();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < end) await h.send([{ t: performance.now(), i: next++ }]);
      }),
    );
    elapsed += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    mainUs += mainThreadCpuUs() - m0;
    const slice = h.flushes?.().flushes ?? [];
    for (let i = 1; i < slice.length; i++) rounds.push(slice[i]!.at - slice[i - 1]!.at);
    flushes.push(...slice);
  }
  sampler?.close();
  const rate = count / (elapsed / 1000);
  const result: Record<string, unknown> = {
    system: h.name,
    scenario: `closed loop, ${senders} senders × 1 message, no consumers`,
    messages: count,
    seconds: +(elapsed / 1000).toFixed(3),
    durableSendsPerSecond: Math.round(rate),
    cpuUsPerMessage: +(cpuUs / count).toFixed(2),
    mainThreadCpuUsPerMessage: +(mainUs / count).toFixed(2),
  };
  if (sampler === undefined) return result;
  const writeMs = flushes.reduce((a, f) => a + f.ms, 0);
  const disk = sampler.summary();
  const ceiling = (ms: number): number => (senders * 1000) / ms;
  return {
    ...result,
    flushes: flushes.length,
    // O_DSYNC writes per round of `senders` sends (1: group commit takes the whole round).
    writesPerRound: +((flushes.length * senders) / count).toFixed(2),
    writesPerFlush: spread(flushes.map((x) => x.writes)),
    frameBytes: Math.round(flushes.reduce((a, f) => a + f.bytes, 0) / Math.max(1, flushes.length)),
    durableWriteMs: spread(flushes.map((x) => x.ms)),
    // Where a round goes (one flush in flight at a time): the engine's durable write, and the rest —
    // acknowledgements, the senders' next sends, encoding, until the next write starts.
    roundMs: spread(rounds),
    perRoundUs: {
      round: +((elapsed * 1000) / flushes.length).toFixed(1),
      write: +((writeMs * 1000) / flushes.length).toFixed(1),
      rest: +(((elapsed - writeMs) * 1000) / flushes.length).toFixed(1),
      mainThreadCpu: +(mainUs / flushes.length).toFixed(1),
    },
    diskLimit: {
      probe: `${CLOSED_LOOP_SLICES} × ${PROBE_SLICE_MS} ms of 2 KiB O_DSYNC writes, interleaved with the loop's slices`,
      threadPoolMs: disk.threadPool,
      directMs: disk.direct,
      ceilingMsgPerS: Math.round(ceiling(disk.threadPool.meanMs)),
      fraction: +(rate / ceiling(disk.threadPool.meanMs)).toFixed(3),
      fractionAtP50: +(rate / ceiling(disk.threadPool.p50Ms)).toFixed(3),
      fractionOfDirect: +(rate / ceiling(disk.direct.meanMs)).toFixed(3),
      // The median round against the median write: what a typical round reaches, robust to stalls
      // that hit the probe's slices and the loop's unequally on a loaded machine.
      typicalRoundFraction: +(disk.threadPool.p50Ms / (spread(rounds).p50 || Number.NaN)).toFixed(3),
      // The share of the loop's time a durable write was on its way: the fraction the engine's own
      // writes allow (below `fraction` when the engine's writes are slower than the probe's).
      diskBusyShare: +(writeMs / elapsed).toFixed(3),
      target: 0.8,
    },
  };
}

/**
 * Open loop: single-message sends, `window` of them in flight at all times, nobody consuming;
 * durable (acknowledged) sends per second and CPU per send.
 */
async function openLoop(h: Harness, count: number, window: number): Promise<Record<string, unknown>> {
  h.flushes?.();
  const cpu = cpuMeter();
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < count) await h.send([{ t: performance.now(), i: next++ }]);
    }),
  );
  const elapsed = performance.now() - start;
  const f = h.flushes?.();
  return {
    system: h.name,
    scenario: `open loop, ${window} single-message sends in flight, no consumers`,
    messages: count,
    seconds: +(elapsed / 1000).toFixed(3),
    durableSendsPerSecond: Math.round(count / (elapsed / 1000)),
    cpuUsPerMessage: cpu.perUnitUs(count),
    ...(f === undefined ? {} : { flushes: f.flushes.length, writesPerFlush: spread(f.flushes.map((x) => x.writes)) }),
  };
}

interface Reopened {
  openMs: number;
  active: number;
  rssBefore: number;
  rssAfter: number;
}

/** Reopens the bus in a fresh process (`reopen-child.ts`). */
function reopenChild(dir: string): Promise<Reopened> {
  const child = new URL('./reopen-child.ts', import.meta.url).pathname;
  const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', child, dir, 'parked'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return new Promise((resolve, reject) => {
    proc.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as Reopened);
      else reject(new Error(`reopen-child exited with ${code}`));
    });
  });
}

function logBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

/**
 * Fills a fresh file bus with `n` queued messages (~150-byte bodies, batches of 1,000), then
 * reports memory per queued message (RSS and heap after a full GC, against the empty bus) and the
 * time to reopen it.
 */
async function queued(dir: string, n: number): Promise<Record<string, unknown>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const settle = (): NodeJS.MemoryUsage => {
    gc?.();
    gc?.();
    return process.memoryUsage();
  };
  const entities = { queues: [{ name: 'parked' }] };
  const bus = await openBus({ url: `file://${dir}`, entities });
  const empty = settle();
  const sender = bus.createSender('parked');
  const body = { kind: 'location', courier: 'c-0001', lat: 52.520008, lng: 13.404954, at: 0, pad: 'x'.repeat(60) };
  const fillStart = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await sender.send(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ body: { ...body, at: i + k } })));
  }
  const fillMs = performance.now() - fillStart;
  const full = settle();
  const props = await bus.admin.getRuntimeProperties('parked');
  const crashed = mkdtempSync(join(tmpdir(), 'hubbub-bench-crash-'));
  for (const f of readdirSync(dir)) if (f !== 'LOCK') writeFileSync(join(crashed, f), readFileSync(join(dir, f)));
  await bus.close();
  // Restarts in fresh processes: from the checkpoint of the clean close, then as after a crash
  // (no checkpoint: the whole log replayed, the index rebuilt from the records).
  const restart = await reopenChild(dir);
  // What a crash left (copied while the bus was open): the latest checkpoint written while running,
  // and the log after it to replay.
  const crash = await reopenChild(crashed);
  rmSync(crashed, { recursive: true, force: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.ckpt')) rmSync(join(dir, f));
  const replay = await reopenChild(dir);
  const mb = (b: number): number => +(b / 1024 / 1024).toFixed(1);
  return {
    scenario: `${n} queued messages, file bus`,
    gcExposed: gc !== undefined,
    fillSeconds: +(fillMs / 1000).toFixed(2),
    activeMessageCount: props.activeMessageCount,
    rssMB: { empty: mb(empty.rss), full: mb(full.rss) },
    heapUsedMB: { empty: mb(empty.heapUsed), full: mb(full.heapUsed) },
    // V8's reserved heap (young generation grown under the fill's allocation rate included) and buffers.
    heapTotalMB: { empty: mb(empty.heapTotal), full: mb(full.heapTotal) },
    arrayBuffersMB: { empty: mb(empty.arrayBuffers), full: mb(full.arrayBuffers) },
    bytesPerQueuedMessage: {
      rss: Math.round((full.rss - empty.rss) / n),
      heapAndBuffers: Math.round((full.heapUsed + full.arrayBuffers - empty.heapUsed - empty.arrayBuffers) / n),
    },
    restartFromCheckpoint: {
      ms: +restart.openMs.toFixed(1),
      active: restart.active,
      rssMB: mb(restart.rssAfter),
      rssAddedMB: mb(restart.rssAfter - restart.rssBefore),
      bytesPerQueuedMessage: Math.round((restart.rssAfter - restart.rssBefore) / n),
    },
    restartAfterCrash: {
      ms: +crash.openMs.toFixed(1),
      active: crash.active,
      rssMB: mb(crash.rssAfter),
    },
    restartWithoutCheckpoint: {
      ms: +replay.openMs.toFixed(1),
      active: replay.active,
      rssMB: mb(replay.rssAfter),
      rssAddedMB: mb(replay.rssAfter - replay.rssBefore),
    },
    logMB: mb(logBytes(dir)),
  };
}

/** Latency at a fixed offered rate (single-message sends), for `seconds`. */
async function latency(h: Harness, rate: number, seconds: number, scratch: string): Promise<Result> {
  const total = rate * seconds;
  const { latencies, received, sentAt, finished } = collect(h, total);
  await h.backlog?.(BACKLOG);
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const gc: number[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.push(e.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const probe = args.probe ? startProbe(scratch) : undefined;
  let compaction: { from: number; to: number } | undefined;
  if (args['compact-at'] !== undefined && h.compact !== undefined) {
    const compact = h.compact;
    setTimeout(() => {
      const from = performance.now();
      void compact().then(() => {
        compaction = { from, to: performance.now() };
      });
    }, Number(args['compact-at']));
  }
  h.flushes?.(); // from here on
  eld.enable();
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
  const elapsed = performance.now() - start;
  eld.disable();
  gcObserver.disconnect();
  const result = summarize(h.name, `latency at ${rate} msg/s`, latencies, received, elapsed);
  const ms = (ns: number): number => +(ns / 1e6).toFixed(3);
  const diagnostics: Record<string, unknown> = {
    eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
    gc: { count: gc.length, totalMs: +gc.reduce((a, b) => a + b, 0).toFixed(1), ...spread(gc) },
  };
  const f = h.flushes?.();
  if (f !== undefined) {
    const stalls = f.flushes.filter((x) => x.ms > 10);
    diagnostics.flushes = {
      count: f.flushes.length,
      bytes: f.flushes.reduce((a, x) => a + x.bytes, 0),
      writesPerFlush: spread(f.flushes.map((x) => x.writes)),
      durableWriteMs: spread(f.flushes.map((x) => x.ms)),
      // Every message sent while no fdatasync completes waits at least that long: the part of the run
      // covered by stalls, minus the 10 ms budget each, is a floor on the share of messages over 10 ms.
      stallsOver10ms: stalls.map((x) => [+(x.at - x.ms - start).toFixed(0), +x.ms.toFixed(1)]),
      shareOfRunInStallsOver10ms: +(stalls.reduce((a, x) => a + x.ms - 10, 0) / elapsed).toFixed(4),
    };
    diagnostics.compactions = f.compactions;
  }
  if (compaction !== undefined) {
    const { from, to } = compaction;
    const during = latencies.filter((_, i) => sentAt[i]! >= from && sentAt[i]! <= to);
    diagnostics.compactAt = {
      startedMs: +(from - start).toFixed(0),
      tookMs: +(to - from).toFixed(1),
      messagesSentMeanwhile: during.length,
      theirLatencyMs: spread(during),
    };
  }
  if (probe !== undefined) diagnostics.independentFsyncProbeMs = await probe.stop(start);
  result.diagnostics = diagnostics;
  return result;
}

/**
 * An fsync probe in its own process (4 KiB write + fdatasync every 10 ms on its own file), so disk
 * stalls show up independently of the bus's event loop. `stop(start)` returns its spread and the
 * slow samples (> 10 ms) as [ms since start, duration].
 */
function startProbe(dir: string): { stop(start: number): Promise<Record<string, unknown>> } {
  const code = `const fs = require('node:fs');
const fd = fs.openSync(${JSON.stringify(join(dir, 'probe-during'))}, 'w');
const buf = Buffer.alloc(4096, 1);
setInterval(() => {
  const t = performance.now();
  fs.writeSync(fd, buf);
  fs.fdatasyncSync(fd);
  process.stdout.write((performance.timeOrigin + t).toFixed(1) + ' ' + (performance.now() - t).toFixed(3) + '\\n');
}, 10);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return {
    async stop(start) {
      child.kill();
      await new Promise((r) => child.once('close', r));
      const t0 = performance.timeOrigin + start;
      const rows = out
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number) as [number, number])
        .filter(([t]) => t >= t0);
      return {
        samples: rows.length,
        ...spread(rows.map((r) => r[1])),
        over10ms: rows.filter((r) => r[1] > 10).map((r) => [+(r[0] - t0).toFixed(0), +r[1].toFixed(1)]),
      };
    },
  };
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
const machine = watchMachine();
const scratch = mkdtempSync(join(tmpdir(), 'hubbub-bench-bus-'));
let fsync: Awaited<ReturnType<typeof fsyncProbe>> | undefined;
let dsync: DsyncProbe | undefined;
const other: Array<Record<string, unknown>> = [];
try {
  if (args['closed-loop-only']) {
    for (let r = 0; r < Number(args.repeat); r++) {
      for (const system of ['memory', 'file']) {
        if (!only.has(system)) continue;
        for (const direct of system === 'file' && args['direct-writes'] ? [false, true] : [false]) {
          const h =
            system === 'memory'
              ? await busHarness('bus memory://', 'memory://')
              : await busHarness(
                  direct ? 'bus file:// (fsync, frames written on the event loop)' : 'bus file:// (fsync)',
                  `file://${mkdtempSync(join(scratch, 'f-'))}`,
                  direct,
                );
          other.push({ repeat: r, ...(await closedLoop(h, COUNT, SENDERS, scratch)) });
          await h.close();
        }
      }
    }
  }
  if (!args['closed-loop-only']) fsync = await fsyncProbe(scratch, 5_000);
  if (!args['closed-loop-only']) dsync = await dsyncProbe(scratch, 3_000);
  for (const system of ['memory', 'file', 'graphile']) {
    if (args['closed-loop-only']) break;
    if (!only.has(system)) continue;
    const make = (): Promise<Harness> =>
      system === 'memory'
        ? busHarness('bus memory://', 'memory://')
        : system === 'file'
          ? busHarness('bus file:// (fsync)', `file://${mkdtempSync(join(scratch, 'f-'))}`)
          : graphileHarness(args.pg);
    let h = await make();
    const t = await throughput(h, system === 'graphile' ? PG_COUNT : COUNT);
    results.push(t);
    await h.close();
    if (system !== 'graphile') {
      h = await make();
      other.push(await closedLoop(h, COUNT, SENDERS, scratch));
      await h.close();
    }
    if (system !== 'graphile' && WINDOW > 0) {
      h = await make();
      other.push(await openLoop(h, COUNT, WINDOW));
      await h.close();
    }
    h = await make();
    results.push(await latency(h, RATE, SECONDS, scratch));
    await h.close();
  }
  if (QUEUED > 0) {
    other.push(await queued(mkdtempSync(join(scratch, 'q-')), 1000));
    other.push(await queued(mkdtempSync(join(scratch, 'q-')), QUEUED));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
// I/O stalls and the hypervisor's CPU steal during the whole run: both slow every system measured.
const report = {
  node: process.version,
  machine: machine.stop(),
  fsync,
  dsync,
  results,
  other,
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0); // graphile-worker's pools keep the event loop alive
