/**
 * Micro-benchmark: the cost the functions host adds to an HTTP request — routing, the library's
 * invocation model (HttpRequest, InvocationContext, hooks, response conversion) — against a plain
 * `node:http` handler answering the same body, in the same run, over loopback with keep-alive.
 * Also times a Service Bus queue trigger round trip (enqueue → function → output → complete) on
 * the in-memory bus port, so only the host's own work is measured (Hubbub's bus behind its bridge
 * is measured end to end by bench/e2e-latency).
 * Bounded by request count; alternates cases over rounds. Prints JSON. Run:
 *   node --import tsx packages/functions/bench/invoke.bench.ts [--requests 2000] [--concurrency 8] [--rounds 3]
 */
import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitFor } from '@hubbub/kernel';
import { type BusPort, createFunctionsHost } from '../src/index.ts';
import { MemoryBus } from '../src/testing/index.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
  },
});
const total = Number(values.requests);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const appDir = fileURLToPath(new URL('../test/fixtures/http-app', import.meta.url));

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function get(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests per second for `total` GETs with `concurrency` in flight. */
async function load(port: number, path: string): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await get(port, path);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / seconds;
}

const baseline = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' }).end('Hello, Ada!');
});
const host = createFunctionsHost({ appDir });
await host.start();
const hosted = createServer((req, res) => {
  if (!host.handleRequest(req, res)) res.writeHead(404).end();
});
const [basePort, hostPort] = [await listen(baseline), await listen(hosted)];
await load(hostPort, '/api/hello/Ada'); // warm-up
await load(basePort, '/');

const results: { baselineRps: number; hostRps: number }[] = [];
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0;
  const a = order ? await load(basePort, '/') : await load(hostPort, '/api/hello/Ada');
  const b = order ? await load(hostPort, '/api/hello/Ada') : await load(basePort, '/');
  results.push(order ? { baselineRps: a, hostRps: b } : { baselineRps: b, hostRps: a });
}

// Service Bus: one message at a time through a queue-triggered function and its notifications output.
const bus = new MemoryBus({ topics: { events: ['audit'] } });
let notified = (): void => {};
const port: BusPort = {
  receive: (source, options) => bus.receive(source, options),
  receiveBatches: (source, options) => bus.receiveBatches(source, options),
  async send(entity, messages) {
    await bus.send(entity, messages);
    if (entity === 'notifications') notified();
  },
};
const busHost = createFunctionsHost({
  appDir: fileURLToPath(new URL('../test/fixtures/bus-app', import.meta.url)),
  bus: port,
});
await busHost.start();
const busMessages = Math.min(500, total);
const busStarted = process.hrtime.bigint();
for (let i = 0; i < busMessages; i++) {
  const sent = new Promise<void>((resolve) => {
    notified = resolve;
  });
  bus.enqueue('orders', { body: { id: i } });
  await sent;
  bus.take('notifications');
}
const busMs = Number(process.hrtime.bigint() - busStarted) / 1e6;
await waitFor(() => bus.deliveries.every((m) => m.settled === 'completed'));

const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const baselineRps = median(results.map((r) => r.baselineRps));
const hostRps = median(results.map((r) => r.hostRps));
console.log(
  JSON.stringify(
    {
      requests: total,
      concurrency,
      rounds,
      baselineRps: Math.round(baselineRps),
      hostRps: Math.round(hostRps),
      ratio: Number((hostRps / baselineRps).toFixed(3)),
      addedMicrosPerRequest: Math.round((1 / hostRps - 1 / baselineRps) * 1e6),
      busRoundTrips: busMessages,
      busRoundTripMs: Number((busMs / busMessages).toFixed(3)),
    },
    null,
    2,
  ),
);

agent.destroy();
await busHost.close();
await host.close();
baseline.close();
hosted.close();
