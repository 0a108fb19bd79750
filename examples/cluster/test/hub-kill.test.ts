/**
 * kill -9 a hub node while locations flow: two `hubbub hub --backplane redis://…` processes, a
 * negotiate function that names the least-loaded live node (as the cluster's function hosts do),
 * customers on the official @microsoft/signalr client (stateful and automatic reconnect), and a
 * sender posting each location to the order's group through the REST API of whichever node
 * answers. After one node is killed, every customer keeps receiving — the ones that were on it
 * after their reconnect, which lands on the node left.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createServerToken, createSignalRService, type SignalRService } from '@hubbub/hub';
import { waitFor } from '@hubbub/kernel';
import { openBackplane } from '@hubbub/system';
import { hubbub, type Running } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { deleteKeys, redisMissing } from './redis.ts';

const missing = await redisMissing();
const KEY = 'cluster-kill-key-0123456789abcdefghijklmnopq';
const FRONT = 'http://front.invalid';
const HUB = 'tracking';
const CUSTOMERS = 6;

interface HubNode {
  readonly run: Running;
  readonly url: string;
}

describe('kill -9 a hub node while locations flow', { skip: missing }, () => {
  const prefix = `hubbub-test:${randomUUID()}:`;
  const backplaneUrl = `redis://127.0.0.1:6379?prefix=${encodeURIComponent(prefix)}&heartbeatMs=300&nodeTtlMs=1500`;
  const nodes: HubNode[] = [];
  const customers: Array<signalR.HubConnection & { seen: number[]; reconnects: number }> = [];
  let negotiate: Server;
  let negotiateUrl: string;
  let functions: SignalRService;
  let closeBackplane: () => Promise<void>;
  /** The node each customer's last negotiate named. */
  const assigned = new Map<string, string>();

  async function startNode(): Promise<HubNode> {
    const run = hubbub([
      'hub',
      '--port',
      '0',
      '--backplane',
      backplaneUrl,
      '--connection-string',
      `Endpoint=${FRONT};AccessKey=${KEY};Version=1.0;`,
      '--log-level',
      'warn',
    ]);
    const url = await waitFor(
      () =>
        /listening on (\S+)/.exec(run.stdout())?.[1] ??
        (run.child.exitCode !== null ? assert.fail(`hubbub hub exited: ${run.stderr()}`) : null),
      { timeoutMs: 30_000, intervalMs: 50, what: 'hubbub hub to listen' },
    );
    const node = { run, url };
    nodes.push(node);
    return node;
  }

  /** A REST call to the first node that answers, as a function host's output binding retries. */
  async function toAnyNode(method: string, path: string, body?: unknown): Promise<number> {
    for (const node of nodes) {
      if (node.run.child.exitCode !== null || node.run.child.signalCode !== null) continue;
      const url = `${node.url}/api/hubs/${HUB}${path}?api-version=2022-06-01`;
      try {
        const response = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${await createServerToken({ audience: url, accessKey: KEY })}`,
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(2_000),
        });
        await response.arrayBuffer();
        if (response.status < 500) return response.status;
      } catch {
        // that node is gone: try the next
      }
    }
    return 503;
  }

  before(async () => {
    await startNode();
    await startNode();
    // The function app's negotiate: a hub of the cluster that takes no connections itself.
    const backplane = await openBackplane(backplaneUrl);
    closeBackplane = () => backplane.close();
    functions = createSignalRService({
      connectionString: `Endpoint=${FRONT};AccessKey=${KEY};Version=1.0;`,
      hubServer: { backplane },
      cluster: { advertise: false },
    });
    negotiate = createServer((request, response) => {
      const userId = String(request.headers['x-user'] ?? '');
      functions.clientAccess(HUB, { userId }).then(
        (access) => {
          assigned.set(userId, new URL(access.url).origin);
          response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(access));
        },
        () => response.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => negotiate.listen(0, '127.0.0.1', resolve));
    negotiateUrl = `http://127.0.0.1:${(negotiate.address() as AddressInfo).port}/api`;
  });

  after(async () => {
    await Promise.all(customers.map((c) => c.stop()));
    for (const node of nodes) {
      node.run.child.kill('SIGKILL');
      await node.run.exited;
    }
    await new Promise((resolve) => negotiate?.close(resolve));
    await functions?.close();
    await closeBackplane?.();
    await deleteKeys(prefix);
  });

  it('every customer keeps receiving after at most its reconnect', async () => {
    for (let i = 0; i < CUSTOMERS; i++) {
      const userId = `customer-${i}`;
      const customer = new signalR.HubConnectionBuilder()
        .withUrl(negotiateUrl, { headers: { 'x-user': userId } })
        .withStatefulReconnect()
        .withAutomaticReconnect([0, 500, 1_000, 2_000, 2_000, 2_000, 5_000, 5_000])
        .configureLogging(signalR.LogLevel.None)
        .build() as signalR.HubConnection & { seen: number[]; reconnects: number };
      customer.seen = [];
      customer.reconnects = 0;
      customer.on('location', (n: number) => customer.seen.push(n));
      customer.onreconnected(() => customer.reconnects++);
      await customer.start();
      customers.push(customer);
      // Customers join their order's group by a grant for their user, made on any node.
      assert.equal(await toAnyNode('PUT', `/users/${userId}/groups/order-1`), 200);
    }

    let sequence = 0;
    let sending = true;
    const sender = (async () => {
      while (sending) {
        await toAnyNode('POST', '/groups/order-1/:send', { target: 'location', arguments: [++sequence] });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      await waitFor(() => customers.every((c) => c.seen.length >= 3), { timeoutMs: 20_000, intervalMs: 20 });
      const victim = nodes[0]!;
      const onVictim = customers.filter((_, i) => assigned.get(`customer-${i}`) === victim.url);
      assert.ok(onVictim.length > 0 && onVictim.length < CUSTOMERS, `customers on the killed node: ${onVictim.length}`);
      victim.run.child.kill('SIGKILL');
      await victim.run.exited;
      const atKill = sequence;
      await waitFor(() => customers.every((c) => c.seen.some((n) => n > atKill + 5)), {
        timeoutMs: 45_000,
        intervalMs: 50,
        what: 'every customer to receive locations sent after the kill',
      });
      for (const c of onVictim) assert.ok(c.reconnects >= 1, 'a customer of the killed node reconnected');
      for (let i = 0; i < CUSTOMERS; i++) assert.equal(assigned.get(`customer-${i}`), nodes[1]!.url);
      for (const c of customers) assert.equal(c.state, signalR.HubConnectionState.Connected);
    } finally {
      sending = false;
      await sender;
    }
  });
});
