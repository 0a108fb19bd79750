/**
 * The default SignalR target (Azure SignalR REST API + locally signed client tokens) against
 * Hubbub's hub in service mode, with the official client: only the connection string is shared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSignalRService } from '@hubbub/hub';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { serve } from './support.ts';

describe('SignalR bindings against the hub in Azure SignalR service mode', () => {
  it('negotiates and delivers messages and group actions through the REST API', async () => {
    await using service = createSignalRService({ keys: ['service-mode-key-0123456789abcdef0123'] });
    await service.listen({ host: '127.0.0.1', port: 0 });
    await using app = await serve({
      app: 'signalr-app',
      settings: { AzureSignalRConnectionString: service.connectionString },
    });

    const negotiate = await fetch(`${app.base}/api/negotiate`, {
      method: 'POST',
      headers: { 'x-ms-client-principal-id': 'ada' },
    });
    const info = (await negotiate.json()) as { url: string; accessToken: string };
    assert.match(info.url, /\/client\/\?hub=orders$/);

    const received: unknown[] = [];
    const client = new signalR.HubConnectionBuilder()
      .withUrl(info.url, { accessTokenFactory: () => info.accessToken })
      .configureLogging(signalR.LogLevel.None)
      .build();
    client.on('status', (value: unknown) => received.push(value));
    await client.start();
    try {
      const res = await fetch(`${app.base}/api/broadcast`, {
        method: 'POST',
        body: JSON.stringify([
          { target: 'status', arguments: ['to-all'] },
          { target: 'status', arguments: ['to-ada'], userId: 'ada' },
          { target: 'status', arguments: ['to-bob'], userId: 'bob' },
          { action: 'add', userId: 'ada', groupName: 'order-1' },
          { target: 'status', arguments: ['to-group'], groupName: 'order-1' },
          { target: 'status', arguments: ['to-connection'], connectionId: client.connectionId },
        ]),
      });
      assert.equal(res.status, 202);
      await waitFor(() => received.length >= 4);
      assert.deepEqual(received, ['to-all', 'to-ada', 'to-group', 'to-connection']);
    } finally {
      await client.stop();
    }
  });
});
