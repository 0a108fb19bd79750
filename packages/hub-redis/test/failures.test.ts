/**
 * The backplane when Redis fails it: a Redis of the test's own (redis-server on a free port) is
 * stopped and started again, paused, and fed what is not a backplane message. Every failure is a
 * typed error or event; nothing crashes, and the node works again once Redis is back.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type BackplaneMessage, createServerToken, createSignalRService, HubError, HubErrorCode } from '@hubbub/hub';
import { waitFor } from '@hubbub/kernel';
import { createRedisBackplane, type RedisBackplane } from '../src/index.ts';

const found = spawnSync('redis-server', ['--version']).status === 0;
const why = 'redis-server is not installed (apt-get install redis-server) — these tests start one of their own';
if (!found && process.env.CI) throw new Error(`CI=true and ${why}`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const coded = (code: string) => (err: unknown) => err instanceof HubError && err.code === code;

const send = (n: number): BackplaneMessage => ({
  kind: 'send',
  hub: 'h',
  audience: { kind: 'all' },
  target: 't',
  arguments: [n],
});

describe('the Redis backplane when Redis fails', { skip: found ? false : why }, () => {
  let port: number;
  let redis: ChildProcess | undefined;
  const open: RedisBackplane[] = [];

  async function startRedis(): Promise<void> {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = spawnSync('redis-cli', ['-p', String(port), 'ping']);
          resolve(String(probe.stdout).trim() === 'PONG');
        }),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }

  async function stopRedis(): Promise<void> {
    const child = redis;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async function node(options: { maxPendingPublishes?: number } = {}): Promise<RedisBackplane> {
    const backplane = createRedisBackplane({
      url: `redis://127.0.0.1:${port}`,
      heartbeatMs: 100,
      nodeTtlMs: 1_000,
      reconnect: { initialMs: 20, maxMs: 100 },
      ...options,
    });
    await backplane.start();
    open.push(backplane);
    return backplane;
  }

  before(async () => {
    port = await freePort();
    await startRedis();
  });

  after(async () => {
    await Promise.all(open.map((b) => b.close()));
    await stopRedis();
  });

  it('start() fails with HUB_BACKPLANE_UNAVAILABLE when Redis is not there', async () => {
    const nowhere = createRedisBackplane({ url: `redis://127.0.0.1:${await freePort()}`, connectTimeoutMs: 1_000 });
    await assert.rejects(nowhere.start(), coded(HubErrorCode.BackplaneUnavailable));
    await assert.rejects(nowhere.publish(send(1)), coded(HubErrorCode.Closed));
  });

  it('bad options are refused at construction', () => {
    for (const options of [
      { url: 'http://127.0.0.1' },
      { url: 'redis://x', heartbeatMs: 1_000, nodeTtlMs: 500 },
      { url: 'redis://x', nodeId: 'no spaces' },
      { url: 'redis://x', maxPendingPublishes: 0 },
    ]) {
      assert.throws(() => createRedisBackplane(options), { code: 'KERNEL_INVALID_OPTION' });
    }
  });

  it('an outage: publishes fail with HUB_BACKPLANE_UNAVAILABLE, error fires once, and after Redis is back messages flow and presence is written again', async () => {
    const [a, b] = [await node(), await node()];
    const errors: string[] = [];
    a.on('error', (err) => errors.push(err.code));
    const reconnected = new Promise<void>((resolve) => a.once('reconnected', resolve));
    a.presence.record({ kind: 'connected', hub: 'h', connectionId: 'kept', userId: 'u' });
    await waitFor(() => b.presence.exists('h', { kind: 'connection', id: 'kept' }), { intervalMs: 20 });

    await stopRedis();
    await waitFor(() => errors.length > 0, { intervalMs: 10 });
    await assert.rejects(a.publish(send(1)), coded(HubErrorCode.BackplaneUnavailable));
    // A change recorded while Redis is down is written once it is back.
    a.presence.record({ kind: 'connected', hub: 'h', connectionId: 'during', userId: 'u2' });

    await startRedis(); // an empty Redis: every record was lost
    await reconnected;
    const seen: number[] = [];
    b.subscribe((m) => seen.push(m.kind === 'send' ? (m.arguments[0] as number) : -1));
    await waitFor(
      async () => {
        await a.publish(send(2)).catch(() => undefined); // until b has subscribed again
        return seen.includes(2);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    await waitFor(
      async () =>
        (await b.presence.exists('h', { kind: 'connection', id: 'kept' }).catch(() => false)) &&
        (await b.presence.exists('h', { kind: 'user', id: 'u2' }).catch(() => false)),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    assert.deepEqual([...new Set(errors)], [HubErrorCode.BackplaneUnavailable]);
    assert.equal(errors.length, 1, 'error fires once per outage');
  });

  it('the REST API answers 503 HUB_BACKPLANE_UNAVAILABLE for a send while Redis is down, and 202 once it is back', async () => {
    const backplane = await node();
    const key = 'failures-rest-key-0123456789abcdefghijklmnopq';
    const service = createSignalRService({ keys: [key], hubServer: { backplane } });
    const { url } = await service.listen();
    const send = async () => {
      const target = `${url}/api/hubs/chat/:send?api-version=2022-06-01`;
      const response = await fetch(target, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await createServerToken({ audience: target, accessKey: key })}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ target: 'notify', arguments: [1] }),
      });
      return { status: response.status, body: await response.text() };
    };
    try {
      assert.equal((await send()).status, 202);
      const back = new Promise<void>((resolve) => backplane.once('reconnected', resolve));
      await stopRedis();
      await waitFor(async () => (await send()).status === 503, { intervalMs: 20 });
      assert.match((await send()).body, /HUB_BACKPLANE_UNAVAILABLE/);
      await startRedis();
      await back;
      await waitFor(async () => (await send()).status === 202, { timeoutMs: 10_000, intervalMs: 50 });
    } finally {
      await service.close();
    }
  });

  it('past maxPendingPublishes waiting for Redis, publish fails with HUB_BACKPLANE_OVERLOADED', async () => {
    const a = await node({ maxPendingPublishes: 2 });
    spawnSync('redis-cli', ['-p', String(port), 'CLIENT', 'PAUSE', '500', 'ALL']);
    const first = a.publish(send(1));
    const second = a.publish(send(2));
    await assert.rejects(a.publish(send(3)), coded(HubErrorCode.BackplaneOverloaded));
    await Promise.all([first, second]);
    await a.publish(send(4)); // room again
  });

  it('arguments JSON cannot carry are refused with HUB_BAD_REQUEST, reaching no node', async () => {
    const a = await node();
    const seen: BackplaneMessage[] = [];
    a.subscribe((m) => seen.push(m));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [10n, cyclic]) {
      await assert.rejects(
        a.publish({ kind: 'send', hub: 'h', audience: { kind: 'all' }, target: 't', arguments: [bad] }),
        coded(HubErrorCode.BadRequest),
      );
    }
    assert.equal(seen.length, 0);
  });

  it('what is not a backplane message on the channel is dropped with invalid-message', async () => {
    const a = await node();
    const invalid: string[] = [];
    const seen: BackplaneMessage[] = [];
    a.on('invalid-message', (err) => invalid.push(err.code));
    a.subscribe((m) => seen.push(m));
    const channel = 'hubbub:hub:backplane';
    for (const text of ['no newline', 'n1\n{not json', 'n1\n{"kind":"send","hub":"h"}', 'n1\n[1,2]', 'n1\nnull']) {
      spawnSync('redis-cli', ['-p', String(port), 'PUBLISH', channel, text]);
    }
    spawnSync('redis-cli', ['-p', String(port), 'PUBLISH', channel, `other\n${JSON.stringify(send(9))}`]);
    await waitFor(() => seen.length === 1, { intervalMs: 10 });
    assert.deepEqual(invalid, Array(5).fill(HubErrorCode.InvalidMessage));
    assert.deepEqual(seen[0], send(9));
  });
});
