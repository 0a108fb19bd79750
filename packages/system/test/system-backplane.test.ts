/**
 * startSystem on a Redis backplane (`backplaneUrl`, `hubClients: false`): an application node of
 * a cluster whose negotiate names the cluster's hub node and whose sends reach that node's clients.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { it } from 'node:test';
import { createSignalRService } from '@hubbub/hub';
import { silentLogger, waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { openBackplane, startSystem } from '../src/index.ts';

const redisUp = await new Promise<boolean>((resolve) => {
  const socket = createConnection(6379, '127.0.0.1');
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
  setTimeout(() => resolve(false), 1_000).unref();
});
const why = 'Redis is not reachable at 127.0.0.1:6379; start it with `redis-server --daemonize yes --port 6379`';
if (!redisUp && process.env.CI) throw new Error(`CI=true and ${why}`);

it('refuses a backplane URL it does not know, naming the choices', async () => {
  await assert.rejects(startSystem({ port: 0, logger: silentLogger, backplaneUrl: 'nats://x' }), {
    code: 'KERNEL_INVALID_OPTION',
  });
  await assert.rejects(
    startSystem({ port: 0, logger: silentLogger, push: false, backplaneUrl: 'redis://127.0.0.1:6379?heartbeatMs=x' }),
    { code: 'KERNEL_INVALID_OPTION' },
  );
  // A scheme it knows in front of what no URL parser takes: the same typed error, not a TypeError.
  await assert.rejects(openBackplane('redis://127.0.0.1:99999'), { code: 'KERNEL_INVALID_OPTION' });
});

it('an application node on a Redis backplane sends to the clients of the cluster’s hub node', {
  skip: redisUp ? false : why,
}, async () => {
  const prefix = `hubbub-test:${randomUUID()}:`;
  const backplaneUrl = `redis://127.0.0.1:6379?prefix=${encodeURIComponent(prefix)}`;
  const key = 'system-backplane-key-0123456789abcdefghijklm';
  const hubBackplane = await openBackplane(backplaneUrl);
  const hubNode = createSignalRService({ keys: [key], hubServer: { backplane: hubBackplane } });
  const { url: hubUrl } = await hubNode.listen();
  await using system = await startSystem({
    port: 0,
    logger: silentLogger,
    push: false,
    amqpPort: false,
    keys: { signalR: key },
    backplaneUrl,
    hubClients: false,
  });
  let client: signalR.HubConnection | undefined;
  try {
    const access = await system.signalR.clientAccess('tracking', { userId: 'ann' });
    assert.ok(access.url.startsWith(`${hubUrl}/client/`), `negotiate names the hub node: ${access.url}`);
    client = new signalR.HubConnectionBuilder()
      .withUrl(access.url, { accessTokenFactory: () => access.accessToken })
      .configureLogging(signalR.LogLevel.None)
      .build();
    const seen: unknown[] = [];
    client.on('location', (value: unknown) => seen.push(value));
    await client.start();
    await system.signalR.hub('tracking').groups.addUser('ann', 'order-1');
    await system.signalR.hub('tracking').clients.group('order-1').send('location', { lat: 1 });
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, [{ lat: 1 }]);
    assert.equal(await system.signalR.hub('tracking').exists({ kind: 'user', id: 'ann' }), true);
  } finally {
    await client?.stop();
    await hubNode.close();
    await hubBackplane.close();
    await system.signalR.hub('tracking').groups.removeUserFromAll('ann'); // its grant is kept in Redis
  }
});
