// test-timeout: 1500000
/**
 * The kill matrix of issue #20 on `npm run cluster`: while customers place orders through the
 * front (REST API, Idempotency-Key, a customer's bearer token) and official
 * @microsoft/signalr customers track the simulated courier's locations, one cluster loses, in
 * turn, with kill -9: an application node (function host + API), the NATS server leading most of
 * the cluster's JetStream streams, and the hub node holding customers. After each kill:
 *
 * - every order that got its 202 is reachable through the API in a valid status (the processor on
 *   a surviving node wrote it; a create retried with the same key after a failed request gave the
 *   same order id);
 * - placing orders keeps working through the front (it skips the dead node);
 * - every customer is connected and receiving again, after at most its reconnect.
 *
 * The application node killed is app-2: app-1 runs the courier simulator, the source of the
 * locations; both nodes compete for the bus's messages, so orders in flight on app-2 are
 * redelivered to app-1. One cluster is killed three times, so the later kills run on what the
 * earlier ones left (one application node, two NATS servers of three).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ORDER_STATUSES } from '@hubbub/delivery';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { redisMissing } from './redis.ts';

const missing = (await redisMissing()) ?? natsMissing();
const CUSTOMERS = 4;
const PLACERS = 3;
/** Each placer's pause between orders: a steady flow, not a flood of a loaded machine. */
const PACE_MS = 200;
/** Orders read back at once when checking they were written. */
const READERS = 6;

function natsMissing(): string | undefined {
  try {
    readFileSync('/usr/sbin/nats-server');
    return undefined;
  } catch {
    const what = '/usr/sbin/nats-server is missing; the kill matrix needs it (apt-get install nats-server)';
    if (process.env.CI) throw new Error(what);
    return what;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type Customer = signalR.HubConnection & { seen: number[] };

interface Placed {
  readonly key: string;
  readonly id: string;
  /** When the first attempt to place it started. */
  readonly started: number;
}

describe('kill -9 an application node, a NATS server and a hub node while orders and locations flow', {
  skip: missing,
}, () => {
  let cluster: ChildProcess | undefined;
  let out = '';
  let front = '';
  let token = '';
  const pids: Record<string, number> = {};
  const customers: Customer[] = [];
  const placed = new Map<string, Placed>();
  const failures: string[] = [];
  /** Orders seen written in a valid status (checked once). */
  const written = new Set<string>();
  let placing = true;
  let placers: Promise<void>[] = [];
  let retries = 0;

  const logs = () => /logs in (\S+?)\)/.exec(out)![1]!;
  const alive = (name: string) => {
    try {
      process.kill(pids[name]!, 0);
      return true;
    } catch {
      return false;
    }
  };

  before(
    async () => {
      const port = await freePort();
      const start = new URL('../start.ts', import.meta.url).pathname;
      cluster = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', start, '--port', String(port)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CLUSTER_STOP_WITH_PARENT: '1' },
      });
      cluster.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      cluster.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await waitFor(
        () => out.includes('Hubbub cluster is running') || (cluster!.exitCode !== null ? assert.fail(out) : false),
        { timeoutMs: 300_000, intervalMs: 100, what: 'the cluster to start' },
      );
      front = `http://127.0.0.1:${port}`;
      for (const m of out.matchAll(/^\s+((?:nats|hub|app)-\d)\s+pid (\d+)$/gm)) pids[m[1]!] = Number(m[2]);
      assert.deepEqual(Object.keys(pids).sort(), ['app-1', 'app-2', 'hub-1', 'hub-2', 'nats-0', 'nats-1', 'nats-2']);
      assert.match(out, /Bus\s+NATS JetStream/, 'the application nodes share the NATS bus');

      const app1 = readFileSync(`${logs()}/app-1.log`, 'utf8');
      // A customer of its own (the shared database keeps the demo accounts of earlier clusters).
      const email = `kill-matrix-${randomUUID()}@example.com`;
      const session = await fetch(`${front}/api/v1/account`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'correct horse battery', name: 'Kill Matrix' }),
      });
      assert.equal(session.status, 201, await session.clone().text());
      token = ((await session.json()) as { token: string }).token;

      // Customers tracking order 1001 (the simulator drives its courier) as track.js connects.
      const tracking = /track\?order=1001&token=([^\s&]+)/.exec(app1)![1]!;
      for (let i = 0; i < CUSTOMERS; i++) {
        const customer = new signalR.HubConnectionBuilder()
          .withUrl(`${front}/api?orderid=1001&token=${encodeURIComponent(tracking)}`)
          .withStatefulReconnect()
          .withAutomaticReconnect({
            nextRetryDelayInMilliseconds: (c) => Math.min(5_000, c.previousRetryCount * 1_000),
          })
          .configureLogging(signalR.LogLevel.None)
          .build() as Customer;
        customer.seen = [];
        customer.on('location', () => customer.seen.push(Date.now()));
        await customer.start();
        customers.push(customer);
      }
      await waitFor(() => customers.every((c) => c.seen.length >= 2), {
        timeoutMs: 90_000,
        intervalMs: 100,
        what: 'every customer to receive locations',
      });

      let next = 0;
      placers = Array.from({ length: PLACERS }, async () => {
        while (placing) {
          await place(`kill-matrix-${process.pid}-${next++}`);
          await new Promise((resolve) => setTimeout(resolve, PACE_MS));
        }
      });
      await waitFor(() => placed.size >= 10, { timeoutMs: 120_000, intervalMs: 100, what: '10 accepted orders' });
    },
    { timeout: 400_000 },
  );

  after(async () => {
    placing = false;
    await Promise.all(placers);
    await Promise.all(customers.map((c) => c.stop()));
    if (cluster !== undefined && cluster.exitCode === null) {
      const exited = new Promise((resolve) => cluster!.once('exit', resolve));
      cluster.kill('SIGINT');
      await exited;
    }
  });

  /** Places one order, retrying the same key until it gets its 202 (as a careful client would). */
  async function place(key: string): Promise<void> {
    const started = Date.now();
    const body = JSON.stringify({
      restaurantId: '15th-ave-tacos',
      items: [{ itemId: 'al-pastor', quantity: 1 + (placed.size % 3) }],
      deliveryAddress: { lat: 47.62, lng: -122.315 },
    });
    const deadline = started + 120_000;
    let last = '';
    let ids = new Set<string>();
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${front}/api/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status === 202) {
          const { id } = JSON.parse(text) as { id: string };
          ids = new Set([...ids, id]);
          if (ids.size > 1) failures.push(`${key}: retries gave different orders ${[...ids].join(', ')}`);
          placed.set(key, { key, id, started });
          return;
        }
        last = `${res.status} ${text.slice(0, 200)}`;
        if (res.status < 500 && res.status !== 429) {
          failures.push(`${key}: ${last}`);
          return;
        }
      } catch (err) {
        last = String(err);
      }
      retries++;
      if (!placing) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    failures.push(`${key}: no 202 within 120 s (last: ${last})`);
  }

  /** Every accepted order is reachable through the front, in a valid status. */
  async function allOrdersWritten(): Promise<void> {
    const snapshot = [...placed.values()].filter(({ id }) => !written.has(id));
    const left = await waitFor(
      async () => {
        const notYet: string[] = [];
        const todo = snapshot.filter(({ id }) => !written.has(id));
        // A few readers at once, each taking the next order.
        const reader = async () => {
          for (let item = todo.shift(); item !== undefined; item = todo.shift()) {
            const res = await fetch(`${front}/api/v1/orders/${item.id}`, {
              headers: { authorization: `Bearer ${token}` },
              signal: AbortSignal.timeout(30_000),
            }).catch(() => undefined);
            const order =
              res === undefined ? undefined : ((await res.json().catch(() => undefined)) as { status?: string });
            if (res?.status !== 200 || !ORDER_STATUSES.includes(order?.status as never)) notYet.push(item.id);
            else written.add(item.id);
          }
        };
        await Promise.all(Array.from({ length: READERS }, reader));
        return notYet.length === 0 ? notYet : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000, what: `all ${snapshot.length} newly accepted orders to be written` },
    );
    assert.deepEqual(left, []);
  }

  /** The checks after a kill at `killedAt`. */
  async function afterKill(t: { diagnostic(message: string): void }, killedAt: number, what: string): Promise<void> {
    const before = placed.size;
    await waitFor(() => [...placed.values()].filter((p) => p.started > killedAt).length >= 5, {
      timeoutMs: 180_000,
      intervalMs: 100,
      what: `5 orders placed from scratch after ${what} was killed`,
    });
    assert.ok(placed.size > before);
    const ordering = Date.now() - killedAt;
    const counts = customers.map((c) => c.seen.filter((at) => at > killedAt).length);
    await waitFor(() => customers.every((c, i) => c.seen.filter((at) => at > killedAt).length >= 2 + counts[i]!), {
      timeoutMs: 180_000,
      intervalMs: 100,
      what: `every customer to receive locations after ${what} was killed`,
    });
    for (const c of customers) assert.equal(c.state, signalR.HubConnectionState.Connected);
    const receiving = Date.now() - killedAt;
    await allOrdersWritten();
    assert.deepEqual(failures, []);
    t.diagnostic(
      `${what}: ${placed.size} orders accepted and written so far, ${retries} requests retried; ` +
        `after the kill: orders taken again within ${ordering} ms, every customer receiving within ${receiving} ms, ` +
        `every accepted order written within ${Date.now() - killedAt} ms`,
    );
  }

  it('an application node (function host and API): orders keep being taken and processed', {
    timeout: 300_000,
  }, async (t) => {
    assert.ok(alive('app-2'));
    // Both nodes compete for the orders: app-2 has processed some, so it may hold one when killed.
    await waitFor(() => readFileSync(`${logs()}/app-2.log`, 'utf8').includes("Executed 'Functions.processOrder'"), {
      timeoutMs: 60_000,
      what: 'app-2 to process orders',
    });
    process.kill(pids['app-2']!, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => !alive('app-2'), { timeoutMs: 10_000, what: 'app-2 to die' });
    await afterKill(t, killedAt, 'app-2');
  });

  it('the NATS server leading most of the cluster streams: the bus fails over, nothing accepted is lost', {
    timeout: 300_000,
  }, async (t) => {
    const monitors = /NATS monitoring\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out)!.slice(1);
    const leader = await streamLeader(monitors);
    const name = `nats-${leader.slice(1)}`;
    t.diagnostic(`killing ${name} (server ${leader})`);
    assert.ok(alive(name), `${name} is running`);
    process.kill(pids[name]!, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => !alive(name), { timeoutMs: 10_000, what: `${name} to die` });
    await afterKill(t, killedAt, name);
  });

  it('the hub node holding the most customers: they reconnect to the other and keep receiving', {
    timeout: 300_000,
  }, async (t) => {
    const hubNodes = /Hub nodes\s+(\S+)\s+(\S+)/.exec(out)!.slice(1);
    const prefix = decodeURIComponent(/prefix=([^&\s]+)/.exec(out)![1]!);
    const victim = await busiestHubNode(prefix);
    const index = hubNodes.indexOf(victim);
    assert.ok(index >= 0, `the busiest node ${victim} is a hub node of ${hubNodes.join(', ')}`);
    const name = `hub-${index + 1}`;
    t.diagnostic(`killing ${name} (${victim})`);
    process.kill(pids[name]!, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => !alive(name), { timeoutMs: 10_000, what: `${name} to die` });
    await afterKill(t, killedAt, name);
  });
});

/**
 * The server (`n0`…) that leads most of the cluster's JetStream streams, as the servers' own
 * monitoring reports it (/jsz with stream details; any live server answers for the cluster).
 */
async function streamLeader(monitors: readonly string[]): Promise<string> {
  for (const monitor of monitors) {
    const res = await fetch(`${monitor}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(10_000) }).catch(
      () => undefined,
    );
    if (res?.status !== 200) continue;
    const jsz = (await res.json()) as {
      account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }>;
    };
    const leaders = new Map<string, number>();
    for (const account of jsz.account_details ?? []) {
      for (const stream of account.stream_detail ?? []) {
        const leader = stream.cluster?.leader;
        if (stream.name.startsWith('cluster-') && leader !== undefined)
          leaders.set(leader, (leaders.get(leader) ?? 0) + 1);
      }
    }
    const best = [...leaders].sort((a, b) => b[1] - a[1])[0];
    if (best !== undefined) return best[0];
  }
  throw new Error(`no NATS server reported a leader of the cluster's streams (${monitors.join(', ')})`);
}

/** The URL of the hub node holding the most connections (the cluster's presence in Redis). */
async function busiestHubNode(prefix: string): Promise<string> {
  const { createClient } = await import('redis');
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
  client.on('error', () => {});
  await client.connect();
  try {
    let best: { url: string; connections: number } | undefined;
    for (const id of await client.zRange(`${prefix}nodes`, 0, -1)) {
      const [url, connections] = await client.hmGet(`${prefix}node:${id}`, ['url', 'connections']);
      if (url && Number(connections) > (best?.connections ?? 0)) best = { url, connections: Number(connections) };
    }
    if (best === undefined) throw new Error('no hub node holds a connection');
    return best.url;
  } finally {
    client.destroy();
  }
}
