/**
 * Queue → function → hub → official client: latency of one location at a time (send, then wait
 * for the client to receive it) and throughput of a burst, against the hub alone (the same group
 * send straight to the hub, no queue, no function) measured in the same run.
 *
 *   node --import tsx apps/delivery/bench/e2e-latency.ts [--count 300] [--burst 2000]
 * Prints JSON. Loopback only, bounded in count.
 */
import { parseArgs } from 'node:util';
import * as signalR from '@microsoft/signalr';
import { startTestSystem } from '../test/system.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, burst: { type: 'string' } } });
const count = Number(values.count ?? 300);
const burst = Number(values.burst ?? 2000);

const system = await startTestSystem();
const client = new signalR.HubConnectionBuilder()
  .withUrl(`${system.url}/api?orderid=bench`)
  .configureLogging(signalR.LogLevel.None)
  .build();
let onLocation: () => void = () => {};
client.on('location', () => onLocation());
await client.start();

const sender = system.bus.createSender('locations');
const location = (i: number) => ({ orderid: 'bench', storeid: 7, lat: 47.61 + i * 1e-6, longitude: -122.32 });
const viaQueue = (i: number) => sender.send({ body: location(i), contentType: 'application/json' });
const viaHub = (i: number) =>
  system.hub.hub('tracking').send({ kind: 'groups', names: ['order-bench'] }, 'location', [location(i)]);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function oneAtATime(send: (i: number) => Promise<unknown>) {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const received = new Promise<void>((resolve) => {
      onLocation = resolve;
    });
    const start = process.hrtime.bigint();
    await send(i);
    await received;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return { p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), maxMs: round(times.at(-1)!) };
}

async function throughput(send: (i: number) => Promise<unknown>) {
  let got = 0;
  const all = new Promise<void>((resolve) => {
    onLocation = () => {
      if (++got === burst) resolve();
    };
  });
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: burst }, (_, i) => send(i)));
  await all;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { messages: burst, perSecond: Math.round(burst / seconds) };
}

// Warm up both paths, then measure.
for (let i = 0; i < 50; i++) {
  const r = new Promise<void>((resolve) => {
    onLocation = resolve;
  });
  await viaQueue(i);
  await r;
}
const hubLatency = await oneAtATime(viaHub);
const queueLatency = await oneAtATime(viaQueue);
const hubBurst = await throughput(viaHub);
const queueBurst = await throughput(viaQueue);

process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'delivery e2e: queue locations → forwardLocation → hub tracking → @microsoft/signalr client',
      node: process.version,
      count,
      latency: { queueFunctionHub: queueLatency, hubOnly: hubLatency },
      burst: {
        queueFunctionHub: queueBurst,
        hubOnly: hubBurst,
        ratio: Math.round((hubBurst.perSecond / queueBurst.perSecond) * 100) / 100,
      },
    },
    null,
    2,
  )}\n`,
);
await sender.close();
await client.stop();
await system[Symbol.asyncDispose]();
