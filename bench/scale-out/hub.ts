/**
 * bench/scale-out, the hub's part: a broadcast to N connections spread over two hub nodes on the
 * Redis backplane, against the same N connections on one node (in-process backplane), in one run.
 * Each node is a child process (bench/hub-fanout's server harness and load generator); the measure
 * is server CPU per delivery (user + system of every hub node, from process.cpuUsage), with
 * Redis's own CPU beside it (INFO cpu), so a loaded machine changes it less than wall-clock rates.
 *
 *   npm run bench:scale-out:hub -- [--connections 10000] [--broadcasts 50] [--burst 10]
 *                                  [--rounds 3] [--batch 200] [--payload 100]
 *
 * Prints one JSON object on stdout; progress goes to stderr.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import type { ClientApi } from '../hub-fanout/client.ts';
import type { ServerApi } from '../hub-fanout/server-harness.ts';
import { Children } from '../lib/children.ts';
import type { Api, Peer } from '../lib/ipc.ts';
import { watchMachine } from '../lib/machine.ts';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    broadcasts: { type: 'string', default: '50' },
    burst: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '200' },
    payload: { type: 'string', default: '100' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const int = (name: keyof typeof flags) => {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
};
const config = {
  connections: int('connections'),
  broadcasts: int('broadcasts'),
  burst: int('burst'),
  rounds: int('rounds'),
  batch: int('batch'),
  payloadBytes: int('payload'),
};
const PHASE_TIMEOUT_MS = 120_000;

const here = dirname(fileURLToPath(import.meta.url));
const children = new Children(here, ['--expose-gc', '--conditions=source']);
const clients = new Children(`${here}/../hub-fanout`, ['--conditions=source']);
const log = (message: string) => process.stderr.write(`[scale-out:hub] ${message}\n`);
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const redis = createClient({ url: flags.redis });
redis.on('error', () => {});

/** Redis's own CPU since it started, µs (user + system). */
async function redisCpuUs(): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
}

async function startNode(backplane: string, name: string): Promise<{ node: Peer<ServerApi>; port: number }> {
  process.env.HUB_BACKPLANE = backplane; // fork() copies the environment
  const node = children.start<ServerApi>('hub-node.ts', name);
  await node.serving;
  return { node, port: await node.call('port', null) };
}

async function waitReady(node: Peer<ServerApi>, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await node.call('ready', null)) < n && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Round {
  deliveries: number;
  complete: boolean;
  hubCpuUsPerDelivery: number;
  perNodeCpuUsPerDelivery: number[];
  redisCpuUsPerDelivery: number;
  deliveriesPerSec: number;
}

async function broadcastRound(nodes: Peer<ServerApi>[], client: Peer<ClientApi>, connections: number): Promise<Round> {
  const count = config.broadcasts;
  const total = connections * count;
  await client.call('expect', { total });
  const redisBefore = await redisCpuUs();
  // Every node measures from now; the first sends, the others receive through the backplane.
  for (const node of nodes.slice(1)) await node.call('broadcast', { count: 0, burst: 1, payloadBytes: 1 });
  const { t0 } = await nodes[0]!.call('broadcast', { count, burst: config.burst, payloadBytes: config.payloadBytes });
  const result = await client.call('wait', { timeoutMs: PHASE_TIMEOUT_MS }, PHASE_TIMEOUT_MS + 5_000);
  const cpus = await Promise.all(nodes.map((n) => n.call('stop', null)));
  const redisUs = (await redisCpuUs()) - redisBefore;
  const deliveries = result.received;
  const perNode = cpus.map((c) => (c.userUs + c.systemUs) / Math.max(1, deliveries));
  const seconds = result.complete ? Number(BigInt(result.lastNs) - BigInt(t0)) / 1e9 : PHASE_TIMEOUT_MS / 1e3;
  return {
    deliveries,
    complete: result.complete,
    hubCpuUsPerDelivery: round(perNode.reduce((a, b) => a + b, 0)),
    perNodeCpuUsPerDelivery: perNode.map((x) => round(x)),
    redisCpuUsPerDelivery: round(redisUs / Math.max(1, deliveries)),
    deliveriesPerSec: Math.round(deliveries / seconds),
  };
}

async function measure(name: string, backplanes: string[], client: Peer<ClientApi>) {
  const started = await Promise.all(backplanes.map((b, i) => startNode(b, `${name} node ${i + 1}`)));
  const nodes = started.map((s) => s.node);
  try {
    const per = Math.floor(config.connections / started.length);
    let ready = 0;
    for (const [i, { port }] of started.entries()) {
      const opened = await client.call(
        'connect',
        { kind: 'hubbub', port, count: per, batch: config.batch },
        PHASE_TIMEOUT_MS,
      );
      if (opened.ready === 0) throw new Error(`${name}: no connection opened: ${opened.firstError}`);
      await waitReady(nodes[i]!, opened.ready);
      ready += opened.ready;
      log(
        `${name}: node ${i + 1}: ${opened.ready} connections (${opened.failed} failed) in ${Math.round(opened.ms)} ms`,
      );
    }
    await broadcastRound(nodes, client, ready); // warm-up, not counted
    const rounds: Round[] = [];
    for (let i = 0; i < config.rounds; i++) {
      const r = await broadcastRound(nodes, client, ready);
      log(
        `${name}: round ${i + 1}: hub ${r.hubCpuUsPerDelivery} µs CPU/delivery (${r.perNodeCpuUsPerDelivery.join(' + ')}), Redis ${r.redisCpuUsPerDelivery}, ${r.deliveriesPerSec}/s`,
      );
      rounds.push(r);
    }
    return {
      nodes: nodes.length,
      connections: ready,
      complete: rounds.every((r) => r.complete),
      hubCpuUsPerDelivery: round(median(rounds.map((r) => r.hubCpuUsPerDelivery))),
      redisCpuUsPerDelivery: round(median(rounds.map((r) => r.redisCpuUsPerDelivery))),
      deliveriesPerSec: Math.round(median(rounds.map((r) => r.deliveriesPerSec))),
      rounds,
    };
  } finally {
    await client.call('closeAll', null, PHASE_TIMEOUT_MS).catch(() => undefined);
    for (const node of nodes) {
      await children.stop(node as unknown as Peer<Api>, { askToExit: true, timeoutMs: 5_000 });
    }
  }
}

async function main() {
  await redis.connect();
  const client = clients.start<ClientApi>('client.ts', 'client');
  await client.serving;
  const machine = watchMachine();
  const started = Date.now();
  const prefix = `hubbub-bench:${randomUUID()}:`;
  const clusterUrl = `${flags.redis}?prefix=${encodeURIComponent(prefix)}`;
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  try {
    log(`one node (in-process backplane), ${config.connections} connections × ${config.broadcasts} broadcasts`);
    results.oneNode = await measure('one node', ['memory://'], client);
    log(`two nodes (Redis backplane), ${config.connections} connections × ${config.broadcasts} broadcasts`);
    results.twoNodes = await measure('two nodes', [clusterUrl, clusterUrl], client);
  } finally {
    await clients.stop(client as unknown as Peer<Api>, { askToExit: false, timeoutMs: 2_000 });
    // The nodes exit without leaving the cluster: their records go with the run's prefix.
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await redis.unlink(keys);
    }
    redis.destroy();
  }
  const one = results.oneNode!;
  const two = results.twoNodes!;
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'scale-out/hub',
        date: new Date().toISOString(),
        node: process.version,
        machine: machine.stop(),
        config,
        wallSeconds: Math.round((Date.now() - started) / 1000),
        results,
        ratios: {
          hubCpuPerDeliveryTwoNodesVsOne: round(two.hubCpuUsPerDelivery / one.hubCpuUsPerDelivery),
          clusterCpuPerDeliveryTwoNodesWithRedisVsOne: round(
            (two.hubCpuUsPerDelivery + two.redisCpuUsPerDelivery) / one.hubCpuUsPerDelivery,
          ),
        },
      },
      null,
      2,
    )}\n`,
  );
}

process.on('exit', () => {
  children.killAll();
  clients.killAll();
});
main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
