/**
 * What one idle Hubbub connection holds: the server runs in this process, bench/hub-fanout's load
 * generator opens `--step` connections (negotiate, WebSocket, JSON handshake, join a group), a
 * heap snapshot is taken after forced GC, `--step` more are opened, another snapshot; the report
 * is the difference per connection by constructor (objects and self bytes), largest first.
 *
 *   node --expose-gc --import tsx bench/hub-fanout/heap-diff.ts [--step 1000] [--top 30] [--server ws]
 *     [--warmup 1] [--keep]
 *
 * `--server ws` measures a plain `ws` server instead (the baseline: what any WebSocket holds).
 * `--warmup N` opens N rounds of `--step` connections before the first snapshot, so that code the
 * engine compiles or optimizes while the first connections arrive is not counted per connection.
 * `--keep` leaves the snapshots in the temporary directory (their paths go to stderr).
 * @module
 */
import { readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { createHubServer } from '@hubbub/hub';
import { WebSocketServer } from 'ws';
import { Children } from '../lib/children.ts';
import type { Api, Peer } from '../lib/ipc.ts';
import type { ClientApi } from './client.ts';

const { values } = parseArgs({
  options: {
    step: { type: 'string', default: '1000' },
    top: { type: 'string', default: '30' },
    server: { type: 'string', default: 'hubbub' },
    warmup: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
  },
});
if (values.server !== 'hubbub' && values.server !== 'ws') throw new Error('--server is hubbub or ws');
const step = Number(values.step);
const top = Number(values.top);
const warmup = Number(values.warmup);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects and self bytes per `type:name` (a constructor, or the kind of a non-object). */
function tally(path: string): Map<string, { count: number; bytes: number }> {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!]!;
    const name =
      type === 'object' || type === 'closure' || type === 'array' || type === 'hidden'
        ? data.strings[data.nodes[i + nameAt]!]!
        : '';
    const key = `${type}:${name.slice(0, 60)}`;
    const entry = out.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += data.nodes[i + sizeAt]!;
    out.set(key, entry);
  }
  return out;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

let port: number;
let count: () => number;
let close: () => Promise<void>;
if (values.server === 'ws') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  port = (wss.address() as AddressInfo).port;
  count = () => wss.clients.size;
  close = () => new Promise<void>((resolve) => wss.close(() => resolve()));
} else {
  const server = createHubServer();
  const hub = server.hub('bench');
  hub.method<[string]>('join', (ctx, group) => ctx.groups.add(ctx.connectionId, group));
  port = (await server.listen({ port: 0, host: '127.0.0.1', limits: { maxConnections: 100_000 } })).port;
  count = () => hub.connectionCount;
  close = () => server.close();
}
const children = new Children(dirname(fileURLToPath(import.meta.url)));
const client = children.start<ClientApi>('client.ts', 'client');
await client.serving;
const snapshots: string[] = [];
const rss: number[] = [];
for (let round = -warmup; round < 2; round++) {
  const kind = values.server === 'ws' ? 'ws' : 'hubbub';
  const opened = await client.call('connect', { kind, port, count: step, batch: 200 }, 120_000);
  if (opened.ready !== step) throw new Error(`only ${opened.ready} of ${step} connected: ${opened.firstError}`);
  while (count() < step * (round + warmup + 1)) await new Promise((resolve) => setTimeout(resolve, 50));
  await settle();
  if (round < 0) continue;
  rss.push(process.memoryUsage().rss);
  snapshots.push(writeHeapSnapshot(join(tmpdir(), `hub-heap-${process.pid}-${round}.heapsnapshot`)));
}
const [a, b] = snapshots.map(tally) as [ReturnType<typeof tally>, ReturnType<typeof tally>];
const rows = [...b.entries()]
  .map(([key, after]) => {
    const before = a.get(key) ?? { count: 0, bytes: 0 };
    return { key, objects: (after.count - before.count) / step, bytes: (after.bytes - before.bytes) / step };
  })
  .filter((r) => Math.abs(r.bytes) >= 1)
  .sort((x, y) => y.bytes - x.bytes);
const total = rows.reduce((sum, r) => sum + r.bytes, 0);
// Compiled code and its metadata grow as the engine optimizes; not something a connection holds.
const code = rows.filter((r) => r.key.startsWith('code:')).reduce((sum, r) => sum + r.bytes, 0);
process.stdout.write(
  `${JSON.stringify(
    {
      step,
      heapBytesPerConnection: Math.round(total),
      heapBytesPerConnectionWithoutCode: Math.round(total - code),
      rssBytesPerConnection: Math.round((rss[1]! - rss[0]!) / step),
      top: rows.slice(0, top).map((r) => ({ ...r, objects: Number(r.objects.toFixed(2)), bytes: Math.round(r.bytes) })),
    },
    null,
    2,
  )}\n`,
);
if (values.keep) process.stderr.write(`snapshots kept: ${snapshots.join(' ')}\n`);
else for (const path of snapshots) rmSync(path, { force: true });
await client.call('closeAll', null, 60_000).catch(() => undefined);
await children.stop(client as unknown as Peer<Api>, { askToExit: false, timeoutMs: 2_000 });
await close();
process.exit(0);
