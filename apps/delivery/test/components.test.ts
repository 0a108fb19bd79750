/**
 * The delivery system as separate processes, as the seed deploys it: a `hubbub hub` node on a
 * Redis backplane, `hubbub bus` serving the NATS bus over HTTP, and the api, processor and
 * notifier components (`src/components.ts`), and the live-location function app run by `hubbub
 * functions --functions forwardLocation,negotiate`, all on one PostgreSQL store in a schema of
 * this run's own and one NATS namespace. An order placed through the API is processed by the processor
 * process, accepted by the restaurant through the API, notified by the notifier process, and its
 * live status reaches the official @microsoft/signalr client connected to the hub node; a location
 * sent to `hubbub bus` reaches the tracking client the same way.
 * Needs PostgreSQL (5432), Redis (6379) and NATS with JetStream (4222); fails under CI without them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub, type Running, ran, runScript } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';
import { deliveryApp } from '../src/app.ts';
import { componentOptions } from '../src/components.ts';
import { createTrackingToken } from '../src/tracking.ts';
import { createApiClient, pizza } from './api-client.ts';

const reachable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
const services = { PostgreSQL: 5432, Redis: 6379, 'NATS (nats-server -js)': 4222 };
const down = [];
for (const [name, port] of Object.entries(services)) if (!(await reachable(port))) down.push(`${name} on ${port}`);
const skip = down.length === 0 ? undefined : `not reachable: ${down.join(', ')} — start them to run these tests`;
if (skip !== undefined && process.env.CI === 'true') throw new Error(`CI=true and ${skip}`);

const components = join(import.meta.dirname, '../src/components.ts');
const run = `${process.pid}_${Date.now()}`;
const schema = `hubbub_components_${run}`;
const busUrl = `nats://127.0.0.1:4222?namespace=components${run}`;
const storeUrl = `postgres://root@127.0.0.1:5432/test?schema=${schema}`;
const backplaneUrl = `redis://127.0.0.1:6379?prefix=${encodeURIComponent(`hubbub-components:${randomUUID()}:`)}`;
const signalRKey = `components-test-key-${randomUUID()}`;
const trackingKey = `components-tracking-${randomUUID()}`;
/** What every process is given: the hub nodes' key, and the tracking links' key (an app secret). */
const env = {
  HUBBUB_SIGNALR_KEY: signalRKey,
  AzureSignalRConnectionString: `Endpoint=http://127.0.0.1;AccessKey=${signalRKey};Version=1.0;`,
  TrackingKey: trackingKey,
  HUBBUB_LOG_FORMAT: 'json',
  HUBBUB_BACKPLANE_URL: undefined,
};

describe('the delivery system as separate processes', { skip: skip ?? false }, () => {
  const processes: Running[] = [];
  let data: string;
  let apiUrl: string;
  let hubUrl: string;
  let busApi: string;
  let busKey: string;
  let tracker: Running;
  let trackerUrl: string;
  let password: string;
  let processor: Running;
  let notifier: Running;

  const listening = (name: string, process: Running, pattern: RegExp) =>
    waitFor(
      () =>
        pattern.exec(process.stdout())?.[1] ??
        (process.child.exitCode !== null ? assert.fail(`${name} exited: ${process.stderr()}`) : undefined),
      { timeoutMs: 60_000, intervalMs: 50, what: `${name} to start (stderr: ${process.stderr().slice(-2000)})` },
    );
  const component = (name: string) => {
    const started = runScript(
      components,
      [name, '--port', '0', '--data', data, '--bus', busUrl, '--store', storeUrl, '--backplane', backplaneUrl],
      { env },
    );
    processes.push(started);
    return started;
  };

  before(async () => {
    data = mkdtempSync(join(tmpdir(), 'hubbub-components-'));
    // The api first: it writes the keys every component reads from the shared data directory.
    const api = component('api');
    apiUrl = await listening('api', api, /running at (\S+)/);
    password = await listening('api', api, /Demo accounts' password: (\S+)/);
    await listening('api', api, /(Demo accounts are ready)/);
    const hub = hubbub([
      'hub',
      '--port',
      '0',
      '--backplane',
      backplaneUrl,
      '--connection-string',
      `Endpoint=http://127.0.0.1;AccessKey=${signalRKey};Version=1.0;`,
      '--log-level',
      'warn',
    ]);
    processes.push(hub);
    hubUrl = new URL(await listening('hubbub hub', hub, /listening on (\S+)/)).origin;
    // The bus's HTTP (and AMQP) front, on the same NATS bus, for senders outside the components.
    const bus = hubbub(
      ['bus', '--port', '0', '--url', busUrl, '--data', data, '--amqp-port', 'off', '--amqps-port', 'off'],
      { HUBBUB_BUS_KEYS: undefined },
    );
    processes.push(bus);
    busApi = JSON.parse(await listening('hubbub bus', bus, /^(\{"listening":.*\})$/m)).listening;
    busKey = await listening('hubbub bus', bus, /^Bus key: (\S+)/m);
    // The live-location function app through the generic command, on the same bus and hub cluster.
    tracker = hubbub(
      [
        'functions',
        deliveryApp.functionsDir,
        '--functions',
        'forwardLocation,negotiate',
        '--port',
        '0',
        '--bus',
        busUrl,
        '--store',
        storeUrl,
        '--backplane',
        backplaneUrl,
        '--no-hub-clients',
        '--data',
        data,
        '--amqp-port',
        'off',
        '--amqps-port',
        'off',
      ],
      env,
    );
    processes.push(tracker);
    trackerUrl = await listening('hubbub functions (tracker)', tracker, /(http:\/\/127\.0\.0\.1:\d+)\/api\/negotiate/);
    processor = component('processor');
    notifier = component('notifier');
    await Promise.all([
      listening('processor', processor, /running at (\S+)/),
      listening('notifier', notifier, /running at (\S+)/),
    ]);
  });

  after(async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited));
    if (data !== undefined) rmSync(data, { recursive: true, force: true });
    execFileSync(
      'psql',
      ['-h', '127.0.0.1', '-U', 'root', '-d', 'test', '-c', `DROP SCHEMA IF EXISTS "${schema}" CASCADE`],
      {
        stdio: 'ignore',
      },
    );
  });

  it('places an order through the api; the processor and notifier processes move it and its status reaches the hub node live', async () => {
    const client = createApiClient(apiUrl);
    const customer = await client.signUp(`components-${run}@example.com`);
    const created = await client.call('POST', '/api/v1/orders', {
      token: customer.token,
      body: pizza(),
      headers: { 'idempotency-key': `components-${run}` },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    const processed = await client.processed(customer.token, id);
    assert.equal(processed.body.status, 'placed', 'the processor process validated, priced and stored it');
    assert.ok(processed.body.totalCents > 0, 'priced');

    // The order page's live status: negotiate through the api, which names the hub node.
    const negotiated = await client.call('POST', `/api/v1/orders/${id}/negotiate?negotiateVersion=1`, {
      token: customer.token,
    });
    assert.equal(negotiated.status, 200, JSON.stringify(negotiated.body));
    assert.equal(new URL(negotiated.body.url).origin, hubUrl, 'the client is sent to the hub node');
    const received: Array<{ orderId: string; status: string }> = [];
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`${apiUrl}/api/v1/orders/${id}`, { accessTokenFactory: () => customer.token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on('orderStatus', (status: { orderId: string; status: string }) => received.push(status));
    await connection.start();
    try {
      const session = await client.call('POST', '/api/v1/session', {
        body: { email: 'pike-street-pizza@example.com', password },
      });
      assert.equal(session.status, 201, JSON.stringify(session.body));
      const accepted = await client.call('POST', `/api/v1/orders/${id}/transitions`, {
        token: session.body.token,
        body: { to: 'accepted' },
      });
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      await waitFor(() => received.some((s) => s.orderId === id && s.status === 'accepted'), {
        timeoutMs: 20_000,
        what: `'accepted' to reach the customer's client (got ${JSON.stringify(received)})`,
      });
      const final = await client.call('GET', `/api/v1/orders/${id}`, { token: customer.token });
      assert.equal(final.body.status, 'accepted', 'the order ends in a valid status');
      // The notifier process took the status changes from its own subscription.
      await waitFor(() => /Executed 'Functions\.notifyOrder' \(Succeeded/.test(notifier.stdout() + notifier.stderr()), {
        timeoutMs: 20_000,
        what: `the notifier to run (stderr: ${notifier.stderr().slice(-2000)})`,
      });
      assert.match(processor.stdout() + processor.stderr(), /Executed 'Functions\.processOrder' \(Succeeded/);
    } finally {
      await connection.stop();
    }
  });

  it("hubbub bus serves the components' bus: it lists the topic and subscriptions the api made", async () => {
    const listed = await ran(hubbub(['ls', '--url', busApi, '--key', busKey, '--json']));
    assert.equal(listed.code, 0, listed.stderr);
    const overview = JSON.parse(listed.stdout);
    const names = JSON.stringify(overview);
    for (const name of ['orders', 'processing', 'notifications']) assert.ok(names.includes(`"${name}"`), names);
  });

  it('a location sent to the bus front reaches the tracking client on the hub node through the tracker process', async () => {
    const orderid = `c${Date.now()}`;
    const token = createTrackingToken(orderid, trackingKey);
    const seen: unknown[] = [];
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`${trackerUrl}/api?orderid=${orderid}&token=${encodeURIComponent(token)}`)
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on('location', (location: unknown) => seen.push(location));
    await connection.start();
    try {
      const location = JSON.stringify({ orderid, lat: 47.61, longitude: -122.32 });
      const sent = await ran(hubbub(['send', 'locations', location, '--url', busApi, '--key', busKey]));
      assert.equal(sent.code, 0, sent.stderr);
      await waitFor(() => seen.length > 0, {
        timeoutMs: 20_000,
        what: `the location to reach the tracking client (tracker: ${tracker.stderr().slice(-1500)})`,
      });
      assert.match(JSON.stringify(seen[0]), new RegExp(orderid));
    } finally {
      await connection.stop();
    }
  });

  it('refuses a component name it does not know and engines the components cannot share', async () => {
    const lonely = await ran(hubbub(['functions', deliveryApp.functionsDir, '--port', '0', '--no-hub-clients']));
    assert.equal(lonely.code, 1);
    assert.match(lonely.stderr, /--no-hub-clients: give --backplane redis:\/\/…, .*\[CLI_USAGE\]/);
    const badBackplane = await ran(
      hubbub(['functions', deliveryApp.functionsDir, '--port', '0', '--backplane', 'nats://x:1']),
    );
    assert.equal(badBackplane.code, 1);
    assert.match(badBackplane.stderr, /--backplane must be one of memory:\/\/, redis:\/\//);
    const unknown = await ran(runScript(components, ['kitchen']));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown component 'kitchen': one of api, processor, notifier, tracker/);
    assert.throws(() => componentOptions('processor', { busUrl: 'file:///tmp/bus', storeUrl, backplaneUrl }, {}), {
      code: 'CLI_USAGE',
      message: /--bus: .*nats:\/\//,
    });
    assert.throws(() => componentOptions('api', { busUrl, storeUrl: 'pglite:///tmp/store', backplaneUrl }, {}), {
      message: /--store: .*postgres:\/\//,
    });
    assert.throws(() => componentOptions('tracker', { busUrl, storeUrl }, {}), {
      message: /--backplane: .*redis:\/\//,
    });
    // A first run with no flags names all three at once, not one per try.
    assert.throws(
      () => componentOptions('api', {}, {}),
      (err: Error) => {
        assert.match(err.message, /--bus: .*got 'none'/);
        assert.match(err.message, /--store: .*got 'none'/);
        assert.match(err.message, /--backplane: .*got 'none'/);
        return true;
      },
    );
    const notifierOptions = componentOptions('notifier', { busUrl, storeUrl }, {});
    assert.deepEqual(notifierOptions.app?.only, ['notifyOrder'], 'the notifier needs no backplane');
    assert.equal(notifierOptions.hubClients, false);
  });
});
