/**
 * What the operations board costs each courier position: CPU per location message through queue
 * `locations` → `forwardLocation` → SignalR, in one process (system, sender and clients), with the
 * function as it was before the board (the order's group only: `before`) and as it is (the order's
 * group and `operations`: `now`), without and with an operator watching (`now+operator`, which
 * also delivers every position to that operator). The variants alternate round by round, each on
 * a fresh system with the memory bus, so load on the machine falls on all of them alike; the
 * answer is the ratio to `before` in the same run. CPU comes from process.cpuUsage (user + system),
 * not wall time.
 *
 *   npm run -s bench:views -- [--messages 3000] [--rounds 6]
 *
 * Prints one JSON object: per variant the CPU µs per message of each round and their median, the
 * ratio to `before`, and the machine block (load, steal, I/O pressure).
 * @module
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deliveryApp } from '@hubbub/delivery';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import * as signalR from '@microsoft/signalr';
import { watchMachine } from '../lib/machine.ts';

type Variant = 'before' | 'now' | 'now+operator';
const VARIANTS: Variant[] = ['before', 'now', 'now+operator'];

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '6' } },
});
const messages = Number(values.messages);
const rounds = Number(values.rounds);
if (!(messages >= 100) || !(rounds >= 1)) throw new Error('--messages ≥ 100, --rounds ≥ 1');

const tmp = fileURLToPath(new URL('../.tmp/views-locations/', import.meta.url));

/** A copy of the function app (inside the repository, so `@azure/functions` resolves), `before` with the order's group only. */
function appFor(variant: Variant): string {
  const dir = join(tmp, variant === 'before' ? 'before' : 'now');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  cpSync(deliveryApp.functionsDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  if (variant === 'before') {
    const file = join(dir, 'src/functions/locations.js');
    const now = readFileSync(file, 'utf8');
    const before = now.replace(", 'operations'].map((groupName)", '].map((groupName)');
    if (before === now) throw new Error('locations.js no longer sends to the operations group as this bench expects');
    writeFileSync(file, before);
  }
  return dir;
}

async function round(variant: Variant): Promise<number> {
  const system = await startSystem({
    port: 0,
    dataDir: join(tmp, `data-${variant}`),
    busUrl: 'memory://',
    storeUrl: 'memory://',
    app: { dir: appFor(variant), queues: deliveryApp.queues },
    secrets: deliveryApp.secrets,
    rateLimits: false,
    logger: silentLogger,
  });
  const connections: signalR.HubConnection[] = [];
  try {
    const hub = system.signalR.hub('tracking');
    const watch = async (userId: string, group: string) => {
      await hub.groups.addUser(userId, group);
      const { url, accessToken } = await system.signalR.clientAccess('tracking', { userId });
      const received = { count: 0 };
      const connection = new signalR.HubConnectionBuilder()
        .withUrl(url, { accessTokenFactory: () => accessToken, transport: signalR.HttpTransportType.WebSockets })
        .configureLogging(signalR.LogLevel.None)
        .build();
      connection.on('location', () => void received.count++);
      await connection.start();
      connections.push(connection);
      return received;
    };
    const customer = await watch('customer-1', 'order-bench');
    const operator = variant === 'now+operator' ? await watch('operator-1', 'operations') : undefined;
    const sender = system.bus.createSender('locations');
    let seq = 0;
    const send = async (n: number) => {
      for (let i = 0; i < n; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, n - i) }, () => {
            const k = seq++;
            const body = { orderid: 'bench', storeid: 7, courierid: 'c-1', lat: 47.61 + k / 1e6, longitude: -122.32 };
            return sender.send({ body, contentType: 'application/json' });
          }),
        );
      }
    };
    const arrived = (n: number) =>
      waitFor(() => customer.count >= n && (operator === undefined || operator.count >= n), {
        timeoutMs: 120_000,
        intervalMs: 2,
        what: `${n} positions delivered`,
      });
    await send(300); // warm-up: the function's code, the hub's paths
    await arrived(300);
    const start = process.cpuUsage();
    await send(messages);
    await arrived(300 + messages);
    const used = process.cpuUsage(start);
    await sender.close();
    return (used.user + used.system) / messages;
  } finally {
    await Promise.all(connections.map((c) => c.stop()));
    await system.close();
    rmSync(join(tmp, `data-${variant}`), { recursive: true, force: true });
  }
}

const machine = watchMachine();
const perRound: Record<Variant, number[]> = { before: [], now: [], 'now+operator': [] };
// Unmeasured: the first round in a process pays for loading and optimizing the code paths.
process.stderr.write(`warm-up round: ${(await round('now')).toFixed(1)} µs CPU per position (not counted)\n`);
for (let r = 0; r < rounds; r++) {
  // Each round starts with another variant, so a drift in the machine's load falls on all alike.
  for (const v of [...VARIANTS.slice(r % 3), ...VARIANTS.slice(0, r % 3)]) {
    const us = await round(v);
    perRound[v].push(Math.round(us * 10) / 10);
    process.stderr.write(`round ${r + 1} ${v}: ${us.toFixed(1)} µs CPU per position\n`);
  }
}
rmSync(tmp, { recursive: true, force: true });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const base = median(perRound.before);
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'views/locations',
      what: 'CPU µs per courier position, queue locations → forwardLocation → hub (one process: system, sender, clients)',
      messages,
      rounds,
      variants: Object.fromEntries(
        VARIANTS.map((v) => [
          v,
          {
            cpuUsPerPosition: perRound[v],
            median: median(perRound[v]),
            ratioToBefore: Math.round((median(perRound[v]) / base) * 100) / 100,
          },
        ]),
      ),
      machine: machine.stop(),
    },
    null,
    2,
  )}\n`,
);
