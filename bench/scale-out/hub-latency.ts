/**
 * bench/scale-out, the hub's location latency: a location posted to the REST API of one hub node
 * (as the functions host's SignalR output does) until the official @microsoft/signalr client
 * receives it — on the same node (in-process backplane: the baseline) and on another node of a
 * cluster on Redis (the send crosses Redis pub/sub), alternating in one run. Everything runs in
 * this process, so both paths share one event loop and one clock; the difference is the backplane.
 *
 *   npm run bench:scale-out:hub-latency -- [--sends 500] [--redis redis://127.0.0.1:6379]
 *
 * Prints one JSON object on stdout.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type Backplane, createClientAccess, createServerToken, createSignalRService } from '@hubbub/hub';
import { openBackplane } from '@hubbub/system';
import * as signalR from '@microsoft/signalr';
import { watchMachine } from '../lib/machine.ts';

const { values: flags } = parseArgs({
  options: { sends: { type: 'string', default: '500' }, redis: { type: 'string', default: 'redis://127.0.0.1:6379' } },
});
const sends = Number(flags.sends);
const KEY = 'scale-out-latency-key-0123456789abcdefghijk';

async function node(backplane: Backplane) {
  const service = createSignalRService({ keys: [KEY], hubServer: { backplane }, cluster: { spread: false } });
  const { url } = await service.listen();
  return { service, url };
}

async function client(url: string, userId: string) {
  const { accessToken } = await createClientAccess({ endpoint: url, accessKey: KEY, hub: 'tracking', userId });
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${url}/client/?hub=tracking`, { accessTokenFactory: () => accessToken, skipNegotiation: false })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await connection.start();
  return connection;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(3));
};

async function main() {
  const memory = await openBackplane('memory://');
  const cluster = `${flags.redis}?prefix=${encodeURIComponent(`hubbub-bench:${randomUUID()}:`)}`;
  const [redisA, redisB] = [await openBackplane(cluster), await openBackplane(cluster)];
  const single = await node(memory);
  const a = await node(redisA);
  const b = await node(redisB);
  const onSingle = await client(single.url, 'single');
  const onB = await client(b.url, 'cross');

  const paths = [
    { name: 'sameNode', sender: single.url, connection: onSingle, user: 'single', ms: [] as number[] },
    { name: 'acrossRedis', sender: a.url, connection: onB, user: 'cross', ms: [] as number[] },
  ];
  const machine = watchMachine();
  for (let i = 0; i < sends + 50; i++) {
    for (const path of paths) {
      const url = `${path.sender}/api/hubs/tracking/users/${path.user}/:send?api-version=2022-06-01`;
      const token = await createServerToken({ audience: url, accessKey: KEY });
      const received = new Promise<void>((resolve) => path.connection.on('location', () => resolve()));
      const t0 = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ target: 'location', arguments: [{ orderid: '1001', lat: 47.61, lng: -122.32 }] }),
      });
      await response.arrayBuffer();
      await received;
      const ms = performance.now() - t0;
      path.connection.off('location');
      if (i >= 50) path.ms.push(ms); // the first 50 warm up
    }
  }
  const report = {
    benchmark: 'scale-out/hub-latency',
    date: new Date().toISOString(),
    node: process.version,
    machine: machine.stop(),
    sends,
    path: 'REST POST users/{user}/:send at one node → official client (WebSockets, JSON) on that node or another',
    results: Object.fromEntries(
      paths.map((p) => [
        p.name,
        { p50Ms: percentile(p.ms, 50), p99Ms: percentile(p.ms, 99), maxMs: percentile(p.ms, 100) },
      ]),
    ),
  };
  await Promise.all([onSingle.stop(), onB.stop()]);
  for (const n of [single, a, b]) await n.service.close();
  await Promise.all([memory.close(), redisA.close(), redisB.close()]);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
