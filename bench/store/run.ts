// store: Hubbub's document store against the same SQL issued with plain `pg` / PGlite, on PGlite
// and on the machine's PostgreSQL, in one run. Prints JSON.
//   node --import tsx bench/store/run.ts [--only pglite,postgres] [--pg postgres://…] [--ops 2000]
//        [--items 10000] [--queries 300] [--rate 1000] [--seconds 5]
// Operations (one at a time, mean latency per operation): a point write (create, ~1 KiB item), a
// point read, a filtered query (one page of a cross-partition WHERE over --items items). The
// baseline is exactly the statements Hubbub issued — recorded from the driver's executor during an
// unmeasured pass, then replayed with the same text, values and prepared-statement names on a
// pool of the same size (or the same PGlite). Rounds alternate Hubbub and baseline (H B B H).
// The change-feed hop: items written at --rate per second for --seconds, a consumer in the same
// process reading the feed; hop = from the start of the write to the consumer seeing the item (the
// write's own latency is reported beside it, to tell database stalls from feed delays).
// The baseline consumer issues the feed's two statements (horizon, page) itself and is woken the
// same way (after each write).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { type Container, createStore, type Store } from '@hubbub/store';
import { PgliteDriver, PostgresDriver, type SqlDriver, type SqlExecutor } from '@hubbub/store/driver';
import pg from 'pg';
import { watchMachine } from '../lib/machine.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'pglite,postgres' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    ops: { type: 'string', default: '2000' },
    items: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '300' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
  },
});
const OPS = Number(args.ops);
const ITEMS = Number(args.items);
const QUERIES = Number(args.queries);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);

interface Call {
  text: string;
  values: readonly unknown[];
  name: string | undefined;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

function stats(samplesMs: number[]) {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { n: s.length, meanUs: round(mean * 1000), p50Us: round(pct(s, 50) * 1000), p99Us: round(pct(s, 99) * 1000) };
}

/** Records every statement the driver sends while `recording` is on. */
function recorder(driver: SqlDriver) {
  const executor = driver.executor;
  const original = executor.query;
  const calls: Call[] = [];
  let on = false;
  (executor as { query: SqlExecutor['query'] }).query = (text, values = [], name) => {
    // catalog lookups are cached by the store after the first; the baseline replays item statements only
    if (on && !/\.(containers|databases)\b/.test(text)) calls.push({ text, values, name });
    return original(text, values, name);
  };
  return {
    record<T>(work: () => Promise<T>): Promise<{ result: T; calls: Call[] }> {
      calls.length = 0;
      on = true;
      return work().then((result) => {
        on = false;
        return { result, calls: [...calls] };
      });
    },
  };
}

const item = (i: number) => ({
  id: `o${i}`,
  customerId: `c${i % 100}`,
  status: ['new', 'paid', 'packed', 'shipped', 'done'][i % 5],
  total: (i * 37) % 1000,
  note: 'x'.repeat(800),
  lines: [{ sku: `s${i % 13}`, qty: 1 + (i % 3) }],
});

async function timeEach(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    out.push(performance.now() - t);
  }
  return out;
}

interface Target {
  name: string;
  store: Store;
  driver: SqlDriver;
  /** Plain statements, the way the driver sends them. */
  baseline: SqlExecutor['query'];
  close(): Promise<void>;
}

async function compare(t: Target, orders: Container, table: string) {
  const log = (m: string) => process.stderr.write(`${t.name}: ${m}\n`);
  const rec = recorder(t.driver);
  const replay = async (calls: Call[]) =>
    timeEach(calls.length, (i) => t.baseline(calls[i]!.text, calls[i]!.values, calls[i]!.name));
  const truncate = () => t.baseline(`TRUNCATE ${table}`);
  const results: Record<string, unknown> = {};

  // point write
  const { calls: writes } = await rec.record(async () => {
    for (let i = 0; i < OPS; i++) await orders.items.create(item(i));
  });
  const hub: number[] = [];
  const base: number[] = [];
  for (const side of ['H', 'B', 'B', 'H']) {
    await truncate();
    if (side === 'H') hub.push(...(await timeEach(OPS, (i) => orders.items.create(item(i)))));
    else base.push(...(await replay(writes)));
  }
  results.pointWrite = ratio(hub, base);
  log('writes done');

  // point read
  const { calls: reads } = await rec.record(async () => {
    for (let i = 0; i < OPS; i++) await orders.item(`o${i}`, `c${i % 100}`).read();
  });
  const rh: number[] = [];
  const rb: number[] = [];
  for (const side of ['H', 'B', 'B', 'H']) {
    if (side === 'H') rh.push(...(await timeEach(OPS, (i) => orders.item(`o${i}`, `c${i % 100}`).read())));
    else rb.push(...(await replay(reads)));
  }
  results.pointRead = ratio(rh, rb);
  log('reads done');

  // filtered query over ITEMS items
  for (let i = OPS; i < ITEMS; i += 100) {
    await orders.items.batch(
      Array.from({ length: Math.min(100, ITEMS - i) }, (_, j) => ({
        operationType: 'Create' as const,
        resourceBody: item((i + j) * 100 + 7),
      })),
      'c7',
    );
  }
  const spec = {
    query: 'SELECT c.id, c.total FROM c WHERE c.status = @s AND c.total >= @min AND c.total < @max',
    parameters: [
      { name: '@s', value: 'paid' },
      { name: '@min', value: 100 },
      { name: '@max', value: 300 },
    ],
  };
  const query = () => orders.items.query(spec, { maxItemCount: 100 }).fetchNext();
  const { calls: queries, result: page } = await rec.record(async () => {
    let last: Awaited<ReturnType<typeof query>> | undefined;
    for (let i = 0; i < QUERIES; i++) last = await query();
    return last!;
  });
  const qh: number[] = [];
  const qb: number[] = [];
  for (const side of ['H', 'B', 'B', 'H']) {
    if (side === 'H') qh.push(...(await timeEach(QUERIES, () => query())));
    else qb.push(...(await replay(queries)));
  }
  log('queries done');
  results.filteredQuery = { ...ratio(qh, qb), rowsPerPage: page.resources.length, items: ITEMS };
  return results;
}

function ratio(hub: number[], base: number[]) {
  const h = stats(hub);
  const b = stats(base);
  return { hubbub: h, baseline: b, ratio: round(h.meanUs / b.meanUs, 2) };
}

interface Consumer {
  /** Reads the feed, calling `see(i)` for item i, until `stop()`. */
  run(see: (i: number) => void): Promise<void>;
  stop(): void;
}

/** Writes at RATE per second for SECONDS while `consumer` reads; hop = write start → seen. */
async function hop(write: (i: number) => Promise<void>, consumer: Consumer) {
  const n = RATE * SECONDS;
  const started = new Float64Array(n);
  const written = new Float64Array(n);
  const seenAt = new Float64Array(n);
  let seen = 0;
  const reading = consumer.run((i) => {
    if (i >= 0 && i < n && seenAt[i] === 0) {
      seenAt[i] = performance.now();
      seen++;
    }
  });
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / RATE - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    started[i] = performance.now();
    pending.push(
      write(i).then(
        () => {
          written[i] = performance.now();
        },
        () => void failed++,
      ),
    );
  }
  await Promise.all(pending);
  const writeSeconds = (performance.now() - t0) / 1000;
  const deadline = performance.now() + 30_000;
  while (seen < n - failed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  consumer.stop();
  await reading;
  const hops: number[] = [];
  for (let i = 0; i < n; i++) if (seenAt[i]! > 0) hops.push(seenAt[i]! - started[i]!);
  const s = hops.sort((a, b) => a - b);
  const w: number[] = [];
  for (let i = 0; i < n; i++) if (written[i]! > 0) w.push(written[i]! - started[i]!);
  w.sort((a, b) => a - b);
  return {
    writes: n,
    failed,
    seen,
    achievedRate: round(n / writeSeconds),
    p50Ms: round(pct(s, 50), 2),
    p99Ms: round(pct(s, 99), 2),
    maxMs: round(s[s.length - 1] ?? Number.NaN, 2),
    /** The write alone (start → acknowledged): a stall here is the database's, not the feed's. */
    writeP50Ms: round(pct(w, 50), 2),
    writeP99Ms: round(pct(w, 99), 2),
    writeMaxMs: round(w[w.length - 1] ?? Number.NaN, 2),
  };
}

async function feedHop(t: Target, db: string) {
  const { container } = await t.store.database(db).containers.create({ id: 'feed', partitionKey: '/k' });
  const feed = container.changeFeed({ startFrom: 'now', maxItemCount: 1000 });
  await feed.readNext();
  const hub = await hop(async (i) => void (await container.items.create({ id: String(i), k: `p${i % 50}`, v: i })), {
    async run(see) {
      for await (const page of feed) for (const doc of page.items) see(Number(doc.id));
    },
    stop: () => feed.close(),
  });

  // the baseline: the driver's create statement and its two feed statements, through plain clients
  const { container: base } = await t.store.database(db).containers.create({ id: 'feed-baseline', partitionKey: '/k' });
  const rec = recorder(t.driver);
  const { calls: createCalls } = await rec.record(() => base.items.create({ id: 'probe', k: 'p0', v: -1 }));
  const { calls: feedCalls } = await rec.record(() => base.changeFeed({ startFrom: 'beginning' }).readNext());
  const create = createCalls.find((c) => c.text.startsWith('INSERT'))!;
  const horizonCall = feedCalls.find((c) => c.text.includes('pg_locks'))!;
  const pageCall = feedCalls.find((c) => c.text.includes('ORDER BY txid'))!;
  let wake: (() => void) | undefined;
  let changes = 0;
  let stopped = false;
  const baseline = await hop(
    async (i) => {
      const key = `p${i % 50}`;
      const values = [...create.values];
      values[0] = JSON.stringify(key);
      values[1] = String(i);
      values[3] = JSON.stringify({ id: String(i), k: key, v: i, _etag: `"e${i}"`, _ts: 1 });
      values[4] = `"e${i}"`;
      await t.baseline(create.text, values, create.name);
      changes++;
      wake?.();
    },
    {
      async run(see) {
        let txid = '0';
        let seq = '0';
        while (!stopped) {
          const before = changes;
          const h = await t.baseline(horizonCall.text, horizonCall.values);
          let horizon = BigInt(h.rows[0]!.xmax as string);
          for (const x of h.rows[0]!.xids as string[]) if (BigInt(x) < horizon) horizon = BigInt(x);
          const values = [...pageCall.values];
          values[0] = txid;
          values[1] = seq;
          values[3] = 1000;
          values[4] = horizon.toString();
          const { rows } = await t.baseline(pageCall.text, values);
          for (const r of rows) {
            const id = (r.doc as { id: string }).id;
            if (id !== 'probe') see(Number(id));
            txid = r.txid as string;
            seq = r.seq as string;
          }
          if (rows.length === 0 && changes === before && !stopped) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, 1_000).unref();
            });
            wake = undefined;
          }
        }
      },
      stop() {
        stopped = true;
        wake?.();
      },
    },
  );
  return { rate: RATE, seconds: SECONDS, hubbub: hub, baseline };
}

async function pgliteTarget(dir: string): Promise<Target> {
  const instance = await PGlite.create(join(dir, 'pgdata'));
  const driver = new PgliteDriver({ instance, schema: 'bench' });
  const store = createStore({ driver });
  await store.start();
  return {
    name: 'pglite',
    store,
    driver,
    baseline: async (text, values = []) => {
      const r = await instance.query<Record<string, unknown>>(text, [...values]);
      return { rows: r.rows, rowCount: r.affectedRows ?? 0 };
    },
    async close() {
      await store.close();
      await instance.close();
    },
  };
}

async function postgresTarget(url: string): Promise<Target> {
  const schema = `hubbub_store_bench_${process.pid}`;
  const driver = new PostgresDriver({ connectionString: url, schema, maxConnections: 10 });
  const store = createStore({ driver });
  await store.start();
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  return {
    name: 'postgres',
    store,
    driver,
    baseline: async (text, values = [], name) => {
      const r = await pool.query(
        name === undefined ? { text, values: [...values] } : { name, text, values: [...values] },
      );
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    },
    async close() {
      await store.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

const only = new Set(args.only.split(','));
const machine = watchMachine();
const runs: Record<string, unknown>[] = [];
const dir = mkdtempSync(join(tmpdir(), 'hubbub-bench-store-'));
try {
  for (const name of ['pglite', 'postgres']) {
    if (!only.has(name)) continue;
    const t = name === 'pglite' ? await pgliteTarget(dir) : await postgresTarget(args.pg);
    try {
      const { database } = await t.store.databases.create({ id: 'bench' });
      await database.containers.create({ id: 'orders', partitionKey: '/customerId' });
      const orders = database.container('orders');
      const [def] = await t.driver.catalog({ op: 'listContainers', database: 'bench' });
      const table = t.driver.names.items(def!.handle);
      const ops = await compare(t, orders, table);
      const feed = await feedHop(t, 'bench');
      runs.push({ target: name, ...ops, changeFeedHop: feed });
    } finally {
      await t.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  JSON.stringify({ bench: 'store', node: process.version, ops: OPS, machine: machine.stop(), runs }, null, 2),
);
