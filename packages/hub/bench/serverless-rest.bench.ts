/**
 * Micro-benchmark: what a REST send costs on top of a direct `hub.send`. The same number of
 * send-to-user calls reach the same official clients both ways: through `POST
 * /api/hubs/{hub}/users/{user}/:send` (node:http keep-alive client; JWT check, JSON body) and by calling
 * `hub.send` in process (the in-run baseline). Bounded by a request count. Prints JSON. Run:
 *   node --import tsx packages/hub/bench/serverless-rest.bench.ts [--requests 2000] [--concurrency 16]
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import * as signalR from '@microsoft/signalr';
import { createServerToken, createSignalRService } from '../src/index.ts';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' } },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const users = 10;

const key = 'bench-key-0123456789abcdefghijklmnopqrstuvwxyz';
const service = createSignalRService({ keys: [key] });
const { url } = await service.listen();
const hub = service.hub('bench');

let received = 0;
const clients: signalR.HubConnection[] = [];
for (let i = 0; i < users; i++) {
  const access = await service.clientAccess('bench', { userId: `u${i}` });
  const client = new signalR.HubConnectionBuilder()
    .withUrl(access.url, { accessTokenFactory: () => access.accessToken })
    .configureLogging(signalR.LogLevel.None)
    .build();
  client.on('m', () => {
    received++;
  });
  await client.start();
  clients.push(client);
}

async function until(count: number): Promise<void> {
  while (received < count) await new Promise((resolve) => setImmediate(resolve));
}

/** One token per URL, as the SDKs cache them. */
const tokens = new Map<string, string>();
for (let i = 0; i < users; i++) {
  const target = `${url}/api/hubs/bench/users/u${i}/:send?api-version=2022-06-01`;
  tokens.set(target, await createServerToken({ audience: target, accessKey: key }));
}
const targets = [...tokens.keys()];
const body = JSON.stringify({ Target: 'm', Arguments: [{ orderId: 'o-1842', status: 'picked-up' }] });

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const payload = Buffer.from(body);

/** node:http with keep-alive: a lighter client than fetch, so the server's share shows. */
function post(target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'POST',
        agent,
        headers: {
          Authorization: `Bearer ${tokens.get(target)}`,
          'Content-Type': 'application/json',
          'Content-Length': payload.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function viaRest(): Promise<number> {
  const start = received;
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      const target = targets[next++ % users]!;
      const status = await post(target);
      if (status !== 202) throw new Error(`REST answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await until(start + requests);
  return performance.now() - t0;
}

async function direct(): Promise<number> {
  const start = received;
  const t0 = performance.now();
  const args = [{ orderId: 'o-1842', status: 'picked-up' }];
  for (let i = 0; i < requests; i++) await hub.send({ kind: 'users', ids: [`u${i % users}`] }, 'm', args);
  await until(start + requests);
  return performance.now() - t0;
}

await viaRest(); // warm-up
await direct();
const restMs = await viaRest();
const directMs = await direct();

process.stdout.write(
  `${JSON.stringify(
    {
      requests,
      concurrency,
      receivers: users,
      rest: { ms: Math.round(restMs), perSecond: Math.round(requests / (restMs / 1000)) },
      direct: { ms: Math.round(directMs), perSecond: Math.round(requests / (directMs / 1000)) },
      restOverDirect: Number((restMs / directMs).toFixed(1)),
    },
    null,
    2,
  )}\n`,
);

await Promise.all(clients.map((c) => c.stop()));
agent.destroy();
await service.close();
