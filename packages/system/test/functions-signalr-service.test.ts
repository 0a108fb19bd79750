/**
 * The REST SignalR bridge (Azure SignalR REST API + locally signed client tokens) against Hubbub's
 * hub in service mode, with the official client: only the connection string is shared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSignalRService } from '@hubbub/hub';
import { signalRServiceResolver } from '../src/index.ts';
import { serve } from './function-apps.ts';
import { assertBroadcastReachesAda, negotiateAsAda } from './signalr-flow.ts';

describe('SignalR bindings against the hub in Azure SignalR service mode', () => {
  it('negotiates and delivers messages and group actions through the REST API', async () => {
    await using service = createSignalRService({ keys: ['service-mode-key-0123456789abcdef0123'] });
    await service.listen({ host: '127.0.0.1', port: 0 });
    await using app = await serve({
      app: 'signalr-app',
      settings: { AzureSignalRConnectionString: service.connectionString },
      signalR: signalRServiceResolver(),
    });

    const info = await negotiateAsAda(app.base);
    assert.match(info.url, /\/client\/\?hub=orders$/);
    await assertBroadcastReachesAda(app.base, info);
  });
});
