/**
 * `npm run cluster` end to end: the whole cluster starts with one command, the tracking page's
 * flow (the official client negotiating through the front at the delivery app's negotiate
 * function) receives the simulated courier's locations from a hub node, and after that hub node
 * is killed with -9 the customer keeps receiving once it has reconnected.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { browserSkipReason, launchBrowser } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { redisMissing } from './redis.ts';

const artifacts = new URL('../../../test-artifacts/cluster', import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

const missing = await redisMissing();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('npm run cluster', { skip: missing }, () => {
  const start = new URL('../start.ts', import.meta.url).pathname;
  let cluster: ReturnType<typeof spawn> | undefined;
  let customer: signalR.HubConnection | undefined;

  after(async () => {
    await customer?.stop();
    if (cluster !== undefined && cluster.exitCode === null) {
      const exited = new Promise((resolve) => cluster!.once('exit', resolve));
      cluster.kill('SIGINT');
      await exited;
    }
  });

  it('starts with one command; a customer tracking an order keeps receiving after a hub node is killed', {
    timeout: 400_000,
  }, async () => {
    const port = await freePort();
    cluster = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', start, '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLUSTER_STOP_WITH_PARENT: '1' },
    });
    let out = '';
    cluster.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    cluster.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(
      () => out.includes('Hubbub cluster is running') || (cluster!.exitCode !== null ? assert.fail(out) : false),
      { timeoutMs: 240_000, intervalMs: 100, what: 'the cluster to start' },
    );
    const front = `http://127.0.0.1:${port}`;
    const hubNodes = /Hub nodes\s+(\S+)\s+(\S+)/.exec(out)!.slice(1);
    const pids = Object.fromEntries([...out.matchAll(/^\s+(hub-\d)\s+pid (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    assert.equal(hubNodes.length, 2);

    // The tracking page's link for order 1001, and its connection as track.js makes it.
    const token = await trackingToken(out);
    const seen: Array<{ at: number }> = [];
    customer = new signalR.HubConnectionBuilder()
      .withUrl(`${front}/api?orderid=1001&token=${encodeURIComponent(token)}`)
      .withStatefulReconnect()
      .withAutomaticReconnect([0, 1_000, 2_000, 3_000, 5_000, 5_000, 5_000])
      .configureLogging(signalR.LogLevel.None)
      .build();
    customer.on('location', () => seen.push({ at: Date.now() }));
    await customer.start();
    await waitFor(() => seen.length >= 2, { timeoutMs: 60_000, intervalMs: 50, what: 'locations from the simulator' });

    // The tracking page in a browser, through the front: its negotiate sends it to a hub node of
    // another origin (CORS), where it goes live.
    const skipBrowser = browserSkipReason();
    const browser = skipBrowser === false ? await launchBrowser() : undefined;
    const page = await browser?.newPage();
    const updates = async () => Number((await page!.textContent('#count')) ?? 0);
    if (page !== undefined) {
      await page.goto(`${front}/track?order=1001&token=${encodeURIComponent(token)}`);
      await page.waitForSelector('#status[data-state="live"]', { timeout: 60_000 });
      await waitFor(async () => (await updates()) >= 2, { timeoutMs: 60_000, intervalMs: 100 });
    }

    // Kill the hub node this customer is on: the one whose advertised load counts it.
    const prefix = decodeURIComponent(/prefix=([^&\s]+)/.exec(out)![1]!);
    const victim = await nodeWithConnections(prefix);
    const index = hubNodes.indexOf(victim);
    assert.ok(index >= 0, `the customer's node ${victim} is a hub node`);
    process.kill(pids[`hub-${index + 1}`]!, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => seen.some((s) => s.at > killedAt + 1_000), {
      timeoutMs: 60_000,
      intervalMs: 50,
      what: 'locations after the hub node was killed',
    });
    assert.equal(customer.state, signalR.HubConnectionState.Connected);
    if (page !== undefined) {
      const atKill = await updates();
      await waitFor(async () => (await updates()) >= atKill + 2, {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: 'the tracking page to show locations after the kill',
      });
      await page.screenshot({ path: `${artifacts}/cluster-track-after-kill.png` });
    }
    await browser?.close();
  });
});

/** The tracking token of order 1001 in the link the first application node printed (its log). */
async function trackingToken(out: string): Promise<string> {
  const dir = /logs in (\S+?)\)/.exec(out)![1]!;
  const { readFileSync } = await import('node:fs');
  const log = readFileSync(`${dir}/app-1.log`, 'utf8');
  return /track\?order=1001&token=([^\s&]+)/.exec(log)![1]!;
}

/** The URL of the hub node that holds connections now (the cluster's presence in Redis). */
async function nodeWithConnections(prefix: string): Promise<string> {
  const { createClient } = await import('redis');
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const id of await client.zRange(`${prefix}nodes`, 0, -1)) {
      const [url, connections] = await client.hmGet(`${prefix}node:${id}`, ['url', 'connections']);
      if (url && Number(connections) > 0) return url;
    }
    throw new Error('no hub node holds a connection');
  } finally {
    client.destroy();
  }
}
