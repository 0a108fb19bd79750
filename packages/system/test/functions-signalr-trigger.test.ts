/**
 * Bidirectional chat over the signalRTrigger, end to end in process: the official SignalR client
 * negotiates through the app, the hub (Azure SignalR service mode) sends its upstream requests —
 * signed — through the in-process bridge to the functions host, and the functions answer through
 * their signalR outputs and return values.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signalRTriggerExtension } from '@hubbub/functions';
import { createSignalRService } from '@hubbub/hub';
import { type CompletionMessage, MessageType, messagePackProtocol, readVarInt } from '@hubbub/hub-protocol';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { functionsUpstream, upstreamFetch } from '../src/bridges/signalr-upstream.ts';
import { fromSignalRServiceInProcess } from '../src/index.ts';
import { serve } from './function-apps.ts';

const KEY = 'bidirectional-chat-key-0123456789abcdef';

async function chat() {
  const upstream = signalRTriggerExtension();
  const service = createSignalRService({
    keys: [KEY],
    upstream: [functionsUpstream('http://functions.in-process')],
    upstreamOptions: { fetch: upstreamFetch(upstream), retries: 0 },
  });
  await service.listen({ host: '127.0.0.1', port: 0 });
  const app = await serve({
    app: 'bidirectional-chat',
    settings: { AzureSignalRConnectionString: service.connectionString },
    signalR: fromSignalRServiceInProcess(service),
    extensions: [upstream],
  });
  const connect = async (user: string) => {
    const res = await fetch(`${app.base}/api/negotiate`, {
      method: 'POST',
      headers: { 'x-ms-signalr-userid': user, 'x-functions-key': app.host.keys.master },
    });
    assert.equal(res.status, 200);
    const info = (await res.json()) as { url: string; accessToken: string };
    const client = new signalR.HubConnectionBuilder()
      .withUrl(info.url, { accessTokenFactory: () => info.accessToken })
      .configureLogging(signalR.LogLevel.None)
      .build();
    const got: { target: string; value: unknown }[] = [];
    for (const target of ['newConnection', 'newMessage', 'connectionLeft']) {
      client.on(target, (value: unknown) => got.push({ target, value }));
    }
    await client.start();
    return { client, got };
  };
  return {
    connect,
    async [Symbol.asyncDispose]() {
      await app[Symbol.asyncDispose]();
      await service.close();
    },
  };
}

describe('signalRTrigger through the hub upstream, in process', () => {
  it('connected, broadcast, to a connection, to a group, results, errors and disconnected reach the official client', async () => {
    await using room = await chat();
    const ada = await room.connect('ada');
    await waitFor(() => ada.got.some((m) => m.target === 'newConnection'));
    assert.deepEqual(ada.got.shift(), {
      target: 'newConnection',
      value: { connectionId: ada.client.connectionId, userId: 'ada' },
    });
    const bob = await room.connect('bob');
    await waitFor(() => ada.got.length === 1 && bob.got.length === 1);
    assert.deepEqual(ada.got.shift(), {
      target: 'newConnection',
      value: { connectionId: bob.client.connectionId, userId: 'bob' },
    });
    bob.got.length = 0;

    await ada.client.invoke('broadcast', 'hello everyone');
    await waitFor(() => ada.got.length === 1 && bob.got.length === 1);
    assert.deepEqual(bob.got.shift(), { target: 'newMessage', value: { sender: 'ada', text: 'hello everyone' } });
    ada.got.length = 0;

    await ada.client.invoke('sendToConnection', bob.client.connectionId, 'just for bob');
    await waitFor(() => bob.got.length === 1);
    assert.deepEqual(bob.got.shift()?.value, {
      sender: ada.client.connectionId,
      text: 'just for bob',
      to: bob.client.connectionId,
    });

    await bob.client.invoke('joinGroup', bob.client.connectionId, 'blue');
    await ada.client.invoke('sendToGroup', 'blue', 'to blue');
    await waitFor(() => bob.got.length === 1);
    assert.deepEqual(bob.got.shift()?.value, { sender: ada.client.connectionId, text: 'to blue' });
    assert.deepEqual(ada.got, []);

    const echoed = (await ada.client.invoke('echo', 'ping')) as { echo: string; hub: string };
    assert.equal(echoed.echo, 'ping');
    assert.equal(echoed.hub, 'simplechat');
    await assert.rejects(ada.client.invoke('fail'), /The chat refused this message\./);
    await assert.rejects(ada.client.invoke('nosuch'), /status code 404/);

    const bobId = bob.client.connectionId;
    await bob.client.stop();
    await waitFor(() => ada.got.length === 1);
    assert.deepEqual(ada.got.shift(), { target: 'connectionLeft', value: bobId });
    await ada.client.stop();
  });

  it('carries a MessagePack client invocation across as JSON and its Completion back as MessagePack', async () => {
    const upstream = signalRTriggerExtension();
    await using _app = await serve({
      app: 'bidirectional-chat',
      settings: { AzureSignalRConnectionString: `Endpoint=http://127.0.0.1;AccessKey=${KEY};Version=1.0;` },
      extensions: [upstream],
    });
    const framed = messagePackProtocol.writeMessage({
      type: MessageType.Invocation,
      invocationId: '5',
      target: 'echo',
      arguments: ['packed'],
    });
    const prefix = readVarInt(framed, 0)!;
    const reply = await upstreamFetch(upstream)('http://functions.in-process/runtime/webhooks/signalr', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-msgpack',
        'x-asrs-connection-id': 'c-1',
        'x-asrs-hub': 'simplechat',
        'x-asrs-category': 'messages',
        'x-asrs-event': 'echo',
        'x-asrs-signature': `sha256=${createHmac('sha256', KEY).update('c-1').digest('hex')}`,
      },
      body: framed.subarray(prefix.size),
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'application/x-msgpack');
    const [completion] = messagePackProtocol.parseMessages(
      new Uint8Array(await reply.arrayBuffer()),
    ) as CompletionMessage[];
    assert.ok(completion !== undefined);
    assert.equal(completion.invocationId, '5');
    assert.equal((completion.result as { echo: string }).echo, 'packed');
  });
});
