// cache: get, set, increment and getOrLoad (hit) through Hubbub's Redis engine against the same
// calls made by hand on a raw `redis` client, in one run, plus the memory engine's get/set rates.
// Prints JSON.
//   node --import tsx bench/cache/run.ts [--ops 20000] [--rounds 5] [--depth 32] [--url redis://127.0.0.1:6379]
// Two shapes per operation: sequential (one call awaited at a time: p50/p99 latency) and pipelined
// (`depth` calls in flight: ops/s, and this process's CPU µs per call — the steadier figure on a
// shared machine). Within a round the contenders alternate in blocks of 100
// sequential / 1,000 pipelined calls (order flipping per round), so load from other work on the
// machine falls on both; each figure is the median over rounds, after one warm-up round. Keys live
// under a random prefix, deleted at the end.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createCache } from '@hubbub/cache';
import { createClient } from 'redis';
import { watchMachine } from '../lib/machine.ts';

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    depth: { type: 'string', default: '32' },
    url: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const OPS = Number(args.ops);
const ROUNDS = Number(args.rounds);
const DEPTH = Number(args.depth);
const URL_ = args.url;
const TTL = 60_000;
const prefix = `hubbub-bench:${randomUUID()}:`;
const value = { orderId: 'o-1042', storeId: 7, status: 'preparing', lat: 47.6062, lng: -122.3321, items: [1, 2, 3] };

type Op = (i: number) => Promise<unknown>;
interface Contenders {
  hubbub: Op;
  raw: Op;
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

const BLOCK_SEQUENTIAL = 100;
const BLOCK_PIPELINED = 1_000;

/** One round: both contenders, interleaved in small blocks so that whatever else the machine does falls on both alike. */
async function round(contenders: Contenders, flip: boolean) {
  const order = flip ? (['raw', 'hubbub'] as const) : (['hubbub', 'raw'] as const);
  const seqN = Math.max(BLOCK_SEQUENTIAL, Math.floor(OPS / 4));
  const samples = { hubbub: new Float64Array(seqN), raw: new Float64Array(seqN) };
  for (let done = 0; done < seqN; done += BLOCK_SEQUENTIAL) {
    for (const who of order) {
      const op = contenders[who];
      for (let i = done; i < Math.min(seqN, done + BLOCK_SEQUENTIAL); i++) {
        const t = process.hrtime.bigint();
        await op(i);
        samples[who][i] = Number(process.hrtime.bigint() - t) / 1_000;
      }
    }
  }
  const busy = { hubbub: 0, raw: 0 };
  const cpu = { hubbub: 0, raw: 0 };
  for (let done = 0; done < OPS; done += BLOCK_PIPELINED) {
    for (const who of order) {
      const op = contenders[who];
      let next = done;
      const end = Math.min(OPS, done + BLOCK_PIPELINED);
      const t = process.hrtime.bigint();
      const c = process.cpuUsage();
      await Promise.all(
        Array.from({ length: DEPTH }, async () => {
          while (next < end) await op(next++);
        }),
      );
      const used = process.cpuUsage(c);
      busy[who] += Number(process.hrtime.bigint() - t) / 1e9;
      cpu[who] += used.user + used.system;
    }
  }
  const figures = (who: 'hubbub' | 'raw') => {
    const sorted = samples[who].sort();
    return {
      p50Us: quantile(sorted, 0.5),
      p99Us: quantile(sorted, 0.99),
      pipelined: OPS / busy[who],
      cpuUsPerOp: cpu[who] / OPS,
    };
  };
  return { hubbub: figures('hubbub'), raw: figures('raw') };
}

async function compare(name: string, contenders: Contenders) {
  await round(contenders, false); // warm-up
  const rounds: Array<Awaited<ReturnType<typeof round>>> = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await round(contenders, r % 2 === 1));
  const summary = (who: 'hubbub' | 'raw') => ({
    p50Us: r2(median(rounds.map((x) => x[who].p50Us))),
    p99Us: r2(median(rounds.map((x) => x[who].p99Us))),
    pipelinedOpsPerSecond: Math.round(median(rounds.map((x) => x[who].pipelined))),
    pipelinedCpuUsPerOp: r2(median(rounds.map((x) => x[who].cpuUsPerOp))),
  });
  const hubbub = summary('hubbub');
  const raw = summary('raw');
  const perRound = rounds.map((x) => ({
    p50: x.hubbub.p50Us / x.raw.p50Us,
    pipelined: x.raw.pipelined / x.hubbub.pipelined,
    cpu: x.hubbub.cpuUsPerOp / x.raw.cpuUsPerOp,
  }));
  return {
    name,
    hubbub,
    raw,
    // > 1 means Hubbub costs more: its latency over raw's, raw's throughput over Hubbub's, its CPU per call over raw's.
    ratio: {
      p50: r3(hubbub.p50Us / raw.p50Us),
      p99: r3(hubbub.p99Us / raw.p99Us),
      pipelinedTime: r3(raw.pipelinedOpsPerSecond / hubbub.pipelinedOpsPerSecond),
      pipelinedCpu: r3(hubbub.pipelinedCpuUsPerOp / raw.pipelinedCpuUsPerOp),
    },
    perRound: perRound.map((x) => ({ p50: r3(x.p50), pipelinedTime: r3(x.pipelined), pipelinedCpu: r3(x.cpu) })),
    roundsWithin1_3: {
      p50: perRound.filter((x) => x.p50 <= 1.3).length,
      pipelinedTime: perRound.filter((x) => x.pipelined <= 1.3).length,
      pipelinedCpu: perRound.filter((x) => x.cpu <= 1.3).length,
      of: perRound.length,
    },
  };
}

async function memoryRates() {
  const cache = createCache({ url: 'memory://' });
  await cache.start();
  const keys = Array.from({ length: 1_000 }, (_, i) => `k${i}`);
  const rate = async (op: Op) => {
    const results: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < OPS * 5; i++) await op(i);
      results.push((OPS * 5) / (Number(process.hrtime.bigint() - start) / 1e9));
    }
    return Math.round(median(results));
  };
  const set = await rate((i) => cache.set(keys[i % keys.length]!, value, { ttlMs: TTL }));
  const get = await rate((i) => cache.get(keys[i % keys.length]!));
  await cache.close();
  return { setOpsPerSecond: set, getOpsPerSecond: get, keys: keys.length };
}

async function main() {
  const machine = watchMachine();
  const began = Date.now();
  const cache = createCache({ url: URL_, prefix });
  await cache.start();
  const raw = createClient({ url: URL_ });
  raw.on('error', () => {});
  await raw.connect();
  const text = JSON.stringify(value);
  const slots = Array.from({ length: DEPTH * 4 }, (_, i) => `slot${i}`);
  const key = (i: number) => slots[i % slots.length]!;
  for (const k of slots) await cache.set(k, value);
  const loader = () => value;

  const results = [];
  results.push(
    await compare('get', {
      hubbub: (i) => cache.get(key(i)),
      raw: async (i) => JSON.parse((await raw.get(prefix + key(i))) ?? 'null'),
    }),
  );
  results.push(
    await compare('set (ttl)', {
      hubbub: (i) => cache.set(key(i), value, { ttlMs: TTL }),
      raw: (i) => raw.set(prefix + key(i), JSON.stringify(value), { expiration: { type: 'PX', value: TTL } }),
    }),
  );
  results.push(
    await compare('increment', {
      hubbub: (i) => cache.increment(`n${i % 64}`),
      raw: (i) => raw.incrBy(`${prefix}n${i % 64}`, 1),
    }),
  );
  results.push(
    await compare('increment (ttl on create)', {
      hubbub: (i) => cache.increment(`t${i % 64}`, { ttlMs: TTL }),
      raw: (i) =>
        raw
          .multi()
          .set(`${prefix}t${i % 64}`, '0', { condition: 'NX', expiration: { type: 'PX', value: TTL } })
          .incrBy(`${prefix}t${i % 64}`, 1)
          .exec(),
    }),
  );
  results.push(
    await compare('getOrLoad (hit)', {
      hubbub: (i) => cache.getOrLoad(key(i), loader, { ttlMs: TTL }),
      raw: async (i) => {
        const stored = await raw.get(prefix + key(i));
        if (stored !== null) return JSON.parse(stored);
        await raw.set(prefix + key(i), text, { expiration: { type: 'PX', value: TTL } });
        return value;
      },
    }),
  );

  for await (const keys of raw.scanIterator({ MATCH: `${prefix}*`, COUNT: 1_000 })) {
    if (keys.length > 0) await raw.unlink(keys);
  }
  raw.destroy();
  await cache.close();
  const memory = await memoryRates();

  console.log(
    JSON.stringify(
      {
        benchmark: 'cache',
        date: new Date(began).toISOString(),
        node: process.version,
        machine: machine.stop(),
        config: {
          ops: OPS,
          sequentialOps: Math.max(BLOCK_SEQUENTIAL, Math.floor(OPS / 4)),
          rounds: ROUNDS,
          depth: DEPTH,
          valueBytes: text.length,
        },
        wallSeconds: Math.round((Date.now() - began) / 1000),
        target: 'Hubbub within 1.3x of the raw client per operation',
        redis: results,
        memory,
      },
      null,
      1,
    ),
  );
}

await main();
