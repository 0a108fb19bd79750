/**
 * The SignalR bridge in process, end to end with Hubbub's hub and the official SignalR client:
 * negotiate function → connect → signalR output; a queue-triggered function's SignalR output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBus } from '@hubbub/bus';
import { createHubServer, createSignalRService } from '@hubbub/hub';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { bridgeBus, fromHubServer, fromSignalRServiceInProcess, hubServerResolver } from '../src/index.ts';
import { serve } from './function-apps.ts';
import { assertBroadcastReachesAda, negotiateAsAda } from './signalr-flow.ts';

describe('SignalR bindings on the Hubbub hub', () => {
  it('negotiates through signalRConnectionInfo and delivers signalR outputs to all, the user and a group', async () => {
    await using hub = createHubServer({ auth: { keys: ['functions-test-key-0123456789abcdef'] } });
    const { url } = await hub.listen({ host: '127.0.0.1', port: 0 });
    await using app = await serve({ app: 'signalr-app', signalR: fromHubServer(hub, { url }) });

    const info = await negotiateAsAda(app.base);
    assert.equal(info.url, `${url.replace(/\/+$/, '')}/hubs/orders`);
    await assertBroadcastReachesAda(app.base, info);
  });
});

describe('hubServerResolver', () => {
  it('targets the hub named by an Azure-style connection string, signing with its AccessKey', async () => {
    const key = 'connection-string-key-0123456789abcdef';
    await using hub = createHubServer({ auth: { keys: [key] } });
    const { port } = await hub.listen({ host: '127.0.0.1', port: 0 });
    await using app = await serve({
      app: 'signalr-app',
      settings: {
        AzureSignalRConnectionString: `Endpoint=http://127.0.0.1;Port=${port};AccessKey=${key};Version=1.0;`,
      },
      signalR: hubServerResolver(hub),
    });
    const info = (await (
      await fetch(`${app.base}/api/negotiate`, { method: 'POST', headers: { 'x-ms-client-principal-id': 'lin' } })
    ).json()) as {
      url: string;
      accessToken: string;
    };
    assert.equal(info.url, `http://127.0.0.1:${port}/hubs/orders`);
    const client = new signalR.HubConnectionBuilder()
      .withUrl(info.url, { accessTokenFactory: () => info.accessToken })
      .configureLogging(signalR.LogLevel.None)
      .build();
    const got: unknown[] = [];
    client.on('status', (v: unknown) => got.push(v));
    await client.start();
    try {
      await fetch(`${app.base}/api/broadcast`, {
        method: 'POST',
        body: JSON.stringify({ target: 'status', arguments: ['for-lin'], userId: 'lin' }),
      });
      await waitFor(() => got.length === 1);
      assert.deepEqual(got, ['for-lin']);
    } finally {
      await client.stop();
    }
  });

  it('rejects a connection string without an http endpoint', async () => {
    await using hub = createHubServer();
    const resolve = hubServerResolver(hub);
    assert.throws(() => resolve({ name: 'S', value: 'AccessKey=x' }), { code: 'FUNCTIONS_INVALID_SETTING' });
  });
});

describe('fromSignalRServiceInProcess', () => {
  it('carries a queue-triggered SignalR output to the client, looking each hub up once', async () => {
    await using service = createSignalRService({ keys: ['in-process-key-0123456789abcdef0123'] });
    await service.listen({ host: '127.0.0.1', port: 0 });
    const lookups: string[] = [];
    const hubOf = service.hub.bind(service);
    service.hub = (name) => {
      lookups.push(name);
      return hubOf(name);
    };
    await using bus = await openBus({ url: 'memory://', entities: { queues: [{ name: 'notifications' }] } });
    await using _app = await serve({
      app: 'bus-signalr-app',
      bus: bridgeBus(bus),
      signalR: fromSignalRServiceInProcess(service),
    });
    const access = await service.clientAccess('orders_north_m1', { userId: 'ada' });
    const client = new signalR.HubConnectionBuilder()
      .withUrl(access.url, { accessTokenFactory: () => access.accessToken })
      .configureLogging(signalR.LogLevel.None)
      .build();
    const got: unknown[] = [];
    client.on('update', (v: unknown) => got.push(v));
    await client.start();
    try {
      const sender = bus.createSender('notifications');
      lookups.length = 0;
      for (let i = 0; i < 3; i++) await sender.send({ messageId: 'm1', body: { region: 'north', customer: 'ada' } });
      await waitFor(() => got.length === 3);
      assert.deepEqual(got, ['m1', 'm1', 'm1']);
      assert.deepEqual(lookups, ['orders_north_m1'], 'one lookup for three sends');
    } finally {
      await client.stop();
    }
  });
});
