/**
 * The disk's own limit, measured in the same run as the bus: the latency of one small `O_DSYNC`
 * write into a zero-filled file (what the file engine does per group commit), one at a time, and
 * what N closed-loop senders could reach at that latency (N ÷ latency, each sender waiting for one
 * durable write per message). Plus a CPU meter for the load-robust cost per message.
 * @module
 */
import { closeSync, constants, write as fsWrite, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface DsyncProbe {
  /** Bytes per write (about one group-commit frame of 16 small messages). */
  bytes: number;
  samples: number;
  p50Ms: number;
  meanMs: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Sequential `O_DSYNC` writes of `bytes` into a prefilled file for `ms`, through the same async
 * `fs.write` path the engine uses, so the figure includes the thread-pool round trip.
 */
export async function dsyncProbe(dir: string, ms: number, bytes = 2048): Promise<DsyncProbe> {
  const path = join(dir, 'dsync-probe');
  const size = 16 * 1024 * 1024;
  const fill = openSync(path, 'w');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < size; at += zeros.length) writeSync(fill, zeros, 0, zeros.length, at);
  fsyncSync(fill); // durable zeros, as the engine's prefill leaves them: no allocation on the timed writes
  closeSync(fill);
  const fh = await open(path, constants.O_WRONLY | constants.O_DSYNC);
  const buf = Buffer.alloc(bytes, 7);
  const lat: number[] = [];
  const end = performance.now() + ms;
  let at = 0;
  try {
    // A short warm-up, not counted.
    for (let i = 0; i < 20; i++, at += bytes) await fh.write(buf, 0, bytes, at);
    while (performance.now() < end) {
      const t = performance.now();
      await fh.write(buf, 0, bytes, at);
      lat.push(performance.now() - t);
      at = (at + bytes) % (size - bytes);
    }
  } finally {
    await fh.close();
  }
  const sorted = Float64Array.from(lat).sort();
  const q = (p: number): number =>
    +(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(3);
  return {
    bytes,
    samples: lat.length,
    p50Ms: q(0.5),
    meanMs: +(lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length)).toFixed(3),
    p99Ms: q(0.99),
    maxMs: +(sorted.at(-1) ?? 0).toFixed(3),
  };
}

/** Latencies of one write path: p50 / mean / p99 ms over the samples. */
export interface LatencySummary {
  samples: number;
  p50Ms: number;
  meanMs: number;
  p99Ms: number;
}

function summary(lat: number[]): LatencySummary {
  const sorted = Float64Array.from(lat).sort();
  const q = (p: number): number =>
    +(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(4);
  return {
    samples: lat.length,
    p50Ms: q(0.5),
    meanMs: +(lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length)).toFixed(4),
    p99Ms: q(0.99),
  };
}

/**
 * The disk's `O_DSYNC` write latency sampled in slices interleaved with the closed loop, so the
 * ceiling and the bus see the same disk (a probe minutes apart does not: on a shared machine the
 * mean moves 2–9× between them). Each slice times two paths, one write at a time, half the slice each:
 * - `threadPool`: `fs.write` with a callback, the file engine's own path (the libuv thread pool:
 *   a worker woken per write, the event loop woken by its completion) — the fastest a writer that
 *   does not block its event loop gets, and the basis of the target;
 * - `direct`: `writeSync` on this thread (the disk without the thread-pool round trip), for reference.
 * The file is zero-filled and fsynced first, as the engine's prefill leaves its segment.
 */
export function dsyncSampler(
  dir: string,
  bytes = 2048,
): {
  sample(ms: number): Promise<void>;
  summary(): { threadPool: LatencySummary; direct: LatencySummary };
  close(): void;
} {
  const path = join(dir, 'dsync-sampler');
  const size = 16 * 1024 * 1024;
  const fill = openSync(path, 'w');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < size; at += zeros.length) writeSync(fill, zeros, 0, zeros.length, at);
  fsyncSync(fill);
  closeSync(fill);
  const fd = openSync(path, constants.O_WRONLY | constants.O_DSYNC);
  const buf = Buffer.alloc(bytes, 7);
  const pool: number[] = [];
  const direct: number[] = [];
  let at = 0;
  const next = (): number => {
    at = (at + bytes) % (size - bytes);
    return at;
  };
  const viaPool = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      fsWrite(fd, buf, 0, bytes, next(), (err) => (err === null ? resolve(performance.now() - t) : reject(err)));
    });
  return {
    async sample(ms) {
      // Half the slice through the thread pool, then half direct: the pool's writes follow each other
      // as the engine's frames do.
      const half = performance.now() + ms / 2;
      while (performance.now() < half) pool.push(await viaPool());
      const end = half + ms / 2;
      while (performance.now() < end) {
        const t = performance.now();
        writeSync(fd, buf, 0, bytes, next());
        direct.push(performance.now() - t);
      }
    },
    summary: () => ({ threadPool: summary(pool), direct: summary(direct) }),
    close: () => closeSync(fd),
  };
}

/** CPU time this thread (the event loop's) has run, µs, from `/proc` (Linux; `NaN` elsewhere). */
export function mainThreadCpuUs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return Number.NaN;
  }
}

/** This process's CPU time (user + system) since `start()`, per unit of work. */
export function cpuMeter(): { perUnitUs(units: number): number } {
  const t0 = process.cpuUsage();
  return {
    perUnitUs(units) {
      const d = process.cpuUsage(t0);
      return +((d.user + d.system) / Math.max(1, units)).toFixed(2);
    },
  };
}
