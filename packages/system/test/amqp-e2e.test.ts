/**
 * The seed's live-location flow end to end through the AMQP front: the official
 * `@azure/service-bus` SDK sends a location to queue `locations` with the connection string the
 * system prints, the example's queue-triggered function passes it to the hub, and the official
 * `@microsoft/signalr` client receives it as `notify`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isServiceBusError, ServiceBusClient } from '@azure/service-bus';
import { silentLogger, waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { startSystem } from '../src/index.ts';

const example = fileURLToPath(new URL('../../../examples/seed-live-location', import.meta.url));

describe('the SDK over AMQP → function → hub → SignalR client', () => {
  it('delivers a location sent with @azure/service-bus to the browser client', async () => {
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      push: false,
      app: { dir: example, queues: ['locations'] },
    });
    const cs = system.amqpConnectionString;
    if (cs === undefined) assert.fail('startSystem gave no AMQP connection string');
    assert.ok(cs.startsWith('Endpoint=sb://127.0.0.1:') && cs.endsWith(';UseDevelopmentEmulator=true'), cs);
    assert.ok(cs.includes(`SharedAccessKeyName=${system.keys.bus.name};SharedAccessKey=${system.keys.bus.key}`));

    const info = (await (await fetch(`${system.url}/api/negotiate`, { method: 'POST' })).json()) as {
      url: string;
      accessToken: string;
    };
    const received: unknown[] = [];
    const hub = new signalR.HubConnectionBuilder()
      .withUrl(info.url, { accessTokenFactory: () => info.accessToken })
      .configureLogging(signalR.LogLevel.None)
      .build();
    hub.on('notify', (location: unknown) => received.push(location));
    await hub.start();
    const client = new ServiceBusClient(cs);
    try {
      const location = { orderid: '321', storeid: '123', lat: '30', longitude: '70' };
      await client
        .createSender('locations')
        .sendMessages({ body: location, subject: 'driveby', contentType: 'application/json' });
      await waitFor(() => received.length > 0, { timeoutMs: 10_000, what: 'the notify message' });
      assert.equal(received[0], JSON.stringify(location), 'the body as a string, as the seed passes it on');
    } finally {
      await client.close();
      await hub.stop();
    }
  });

  it('refuses the SDK with a wrong key and can be turned off', async () => {
    await using system = await startSystem({ port: 0, logger: silentLogger, push: false });
    const wrong = system.amqpConnectionString!.replace(system.keys.bus.key, 'not-the-key');
    const client = new ServiceBusClient(wrong, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
    await system.bus.admin.createQueue('locations');
    await assert.rejects(client.createSender('locations').sendMessages({ body: 1 }), (err) => {
      assert.ok(isServiceBusError(err));
      assert.equal(err.code, 'UnauthorizedAccess');
      return true;
    });
    await client.close();
    await using off = await startSystem({ port: 0, logger: silentLogger, push: false, amqpPort: false });
    assert.equal(off.amqp, undefined);
    assert.equal(off.amqpConnectionString, undefined);
  });
});
