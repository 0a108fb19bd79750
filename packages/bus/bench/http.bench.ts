/**
 * Micro-benchmark: the HTTP API's cost per message against calling the bus library directly, in
 * the same run (memory engine, loopback, a keep-alive `node:http` agent — `fetch` costs several
 * times more per request on the client — one request in flight unless noted).
 * Bounded by message count; prints JSON. Run:
 *   node --import tsx packages/bus/bench/http.bench.ts [--messages 2000] [--concurrency 8]
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createBusHttpHandler, createSasToken, openBus } from '../src/index.ts';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '8' } },
});
const n = Number(values.messages);
const concurrency = Number(values.concurrency);
const body = JSON.stringify({ orderid: 1, storeid: 7, lat: 47.6, longitude: -122.3 });

const bus = await openBus({ url: 'memory://', entities: { queues: [{ name: 'lib' }, { name: 'http' }] } });
const key = { name: 'bench', key: 'bench-key' };
const handler = createBusHttpHandler(bus, { basePath: '/bus', keys: [key] });
const server = createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 10_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bus`;
const authorization = createSasToken(base, key, Date.now() / 1000 + 3600);

async function timed(run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Math.round(n / (Number(process.hrtime.bigint() - start) / 1e9));
}

async function parallel(count: number, width: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

const sender = bus.createSender('lib');
const receiver = bus.createReceiver('lib');
const libSend = await timed(async () => {
  for (let i = 0; i < n; i++) await sender.send({ body, subject: 'driveby', contentType: 'application/json' });
});
const libReceive = await timed(async () => {
  for (let i = 0; i < n; i++) {
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1000 });
    await m!.complete();
  }
});

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const { port } = server.address() as AddressInfo;

function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  payload?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, agent, headers: { authorization, ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const send = async (): Promise<void> => {
  const r = await call(
    'POST',
    '/bus/http/messages',
    {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      brokerproperties: '{"Label":"driveby"}',
      storeid: '7',
    },
    body,
  );
  if (r.status !== 201) throw new Error(`send: ${r.status}`);
};
const receiveAndComplete = async (): Promise<void> => {
  const r = await call('POST', '/bus/http/messages/head?timeout=1', {});
  if (r.status !== 201) throw new Error(`receive: ${r.status}`);
  const location = new URL(String(r.headers.location));
  const done = await call('DELETE', location.pathname, {});
  if (done.status !== 200) throw new Error(`complete: ${done.status}`);
};

const httpSend = await timed(async () => {
  for (let i = 0; i < n; i++) await send();
});
const httpReceive = await timed(async () => {
  for (let i = 0; i < n; i++) await receiveAndComplete();
});
const httpSendParallel = await timed(() => parallel(n, concurrency, send));
const httpReceiveParallel = await timed(() => parallel(n, concurrency, receiveAndComplete));

agent.destroy();
server.closeAllConnections();
server.close();
await bus.close();

process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'bus-http',
      messages: n,
      node: process.version,
      engine: 'memory',
      library: { sendPerSec: libSend, receiveCompletePerSec: libReceive },
      http: { sendPerSec: httpSend, receiveCompletePerSec: httpReceive },
      [`http x${concurrency}`]: { sendPerSec: httpSendParallel, receiveCompletePerSec: httpReceiveParallel },
      httpOverheadSend: Math.round((libSend / httpSend) * 10) / 10,
    },
    null,
    2,
  )}\n`,
);
