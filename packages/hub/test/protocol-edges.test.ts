/**
 * Protocol edges and bad input on the wire: every malformed request gets the error SignalR
 * defines, and neither the server nor other connections are affected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import type { HubServer } from '../src/index.ts';
import { startHub } from './helpers.ts';
import { negotiate, RawClient } from './raw.ts';

let server: HubServer;
let base: string;
let ws: string;

before(async () => {
  ({ server, url: base } = await startHub({ maxMessageBytes: 1_024 }));
  ws = base.replace('http', 'ws');
  server.hub('chat').method('echo', (_ctx, v: unknown) => v);
});
after(() => server.close());

/** A healthy bystander that must keep working whatever the other tests do. */
async function assertHealthy(): Promise<void> {
  const client = await RawClient.json(base, 'chat');
  client.send('{"type":1,"invocationId":"1","target":"echo","arguments":["ok"]}\x1e');
  assert.deepEqual(await client.nextMessages(), [{ type: 3, invocationId: '1', result: 'ok' }]);
  client.ws.close();
}

describe('negotiate', () => {
  it('answers version 1 with a separate connection token and every transport', async () => {
    const { status, body } = await negotiate(base, 'chat');
    assert.equal(status, 200);
    assert.equal(body.negotiateVersion, 1);
    assert.match(String(body.connectionId), /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(body.connectionToken, body.connectionId);
    assert.deepEqual(body.availableTransports, [
      { transport: 'WebSockets', transferFormats: ['Text', 'Binary'] },
      { transport: 'ServerSentEvents', transferFormats: ['Text'] },
      { transport: 'LongPolling', transferFormats: ['Text', 'Binary'] },
    ]);
    assert.equal(body.useStatefulReconnect, undefined);
  });

  it('answers version 0 without a token, clamps higher versions, and rejects non-integers', async () => {
    const v0 = await negotiate(base, 'chat', '');
    assert.equal(v0.body.negotiateVersion, 0);
    assert.equal(v0.body.connectionToken, undefined);
    assert.equal((await negotiate(base, 'chat', 'negotiateVersion=7')).body.negotiateVersion, 1);
    const bad = await negotiate(base, 'chat', 'negotiateVersion=abc');
    assert.equal(bad.status, 200);
    assert.deepEqual(bad.body, { error: 'The client requested a non-integer protocol version.' });
  });

  it('grants stateful reconnect only when asked', async () => {
    const { body } = await negotiate(base, 'chat', 'negotiateVersion=1&useStatefulReconnect=true');
    assert.equal(body.useStatefulReconnect, true);
  });

  it('rejects other methods with 405 and unknown hubs with 404', async () => {
    assert.equal((await fetch(`${base}/hubs/chat/negotiate`)).status, 405);
    assert.equal((await fetch(`${base}/hubs/nope/negotiate`, { method: 'POST' })).status, 404);
  });
});

describe('connection endpoint', () => {
  it('404s an unknown id and 400s a missing one on every verb', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      assert.equal((await fetch(`${base}/hubs/chat?id=unknown`, { method })).status, 404, method);
      assert.equal((await fetch(`${base}/hubs/chat`, { method })).status, 400, method);
    }
    await assert.rejects(RawClient.connect(`${ws}/hubs/chat?id=unknown`), { status: 404 });
  });

  it('refuses a second WebSocket for one connection with 409, and switching transports with 400', async () => {
    const { body } = await negotiate(base, 'chat');
    const first = await RawClient.connect(`${ws}/hubs/chat?id=${body.connectionToken}`);
    await assert.rejects(RawClient.connect(`${ws}/hubs/chat?id=${body.connectionToken}`), { status: 409 });
    const sse = await fetch(`${base}/hubs/chat?id=${body.connectionToken}`, {
      headers: { accept: 'text/event-stream' },
    });
    assert.equal(sse.status, 400);
    const del = await fetch(`${base}/hubs/chat?id=${body.connectionToken}`, { method: 'DELETE' });
    assert.equal(del.status, 400);
    first.ws.close();
  });

  it('accepts a WebSocket without negotiation (skipNegotiation)', async () => {
    const client = await RawClient.connect(`${ws}/hubs/chat`);
    client.send('{"protocol":"json","version":1}\x1e');
    assert.equal((await client.next()).data.toString(), '{}\x1e');
    client.ws.close();
  });
});

describe('handshake', () => {
  const open = async () => {
    const { body } = await negotiate(base, 'chat');
    return RawClient.connect(`${ws}/hubs/chat?id=${body.connectionToken}`);
  };

  for (const [name, request, error] of [
    ['an unknown protocol', '{"protocol":"xml","version":1}\x1e', "The protocol 'xml' is not supported."],
    [
      'an unsupported version',
      '{"protocol":"json","version":3}\x1e',
      "The server does not support version 3 of the 'json' protocol.",
    ],
    ['malformed JSON', '{"protocol":\x1e', undefined],
    ['a missing version', '{"protocol":"json"}\x1e', undefined],
  ] as const) {
    it(`answers ${name} with an error and closes`, async () => {
      const client = await open();
      client.send(request);
      const reply = JSON.parse((await client.next()).data.toString().replace('\x1e', '')) as { error?: string };
      if (error !== undefined) assert.equal(reply.error, error);
      else assert.equal(typeof reply.error, 'string');
      await client.waitClosed();
      await assertHealthy();
    });
  }

  it('takes a handshake split over two frames and messages batched after it', async () => {
    const client = await open();
    client.send('{"protocol":"js');
    client.send('on","version":1}\x1e{"type":1,"invocationId":"7","target":"echo","arguments":[7]}\x1e');
    assert.equal((await client.next()).data.toString(), '{}\x1e');
    assert.deepEqual(await client.nextMessages(), [{ type: 3, invocationId: '7', result: 7 }]);
    client.ws.close();
  });
});

describe('messages', () => {
  for (const [name, payload] of [
    ['malformed JSON', '{"type":1,\x1e'],
    ['a message without its record separator', '{"type":6}'],
    ['an invocation without a target', '{"type":1,"invocationId":"1","arguments":[]}\x1e'],
    ['a null invocation id', '{"type":1,"invocationId":null,"target":"echo","arguments":[1]}\x1e'],
    ['a message over the size limit', `{"type":1,"target":"echo","arguments":["${'x'.repeat(2_000)}"]}\x1e`],
  ] as const) {
    it(`closes the connection with a Close message for ${name}, leaving others healthy`, async () => {
      const client = await RawClient.json(base, 'chat');
      client.send(payload);
      const [close] = await client.nextMessages();
      assert.equal(close?.type, 7);
      assert.match(String(close?.error), /^Connection closed with an error\./);
      await client.waitClosed();
      await assertHealthy();
    });
  }

  it('closes a JSON connection that sends a binary frame', async () => {
    const client = await RawClient.json(base, 'chat');
    client.send(Buffer.from(encode([6])));
    const [close] = await client.nextMessages();
    assert.equal(close?.type, 7);
    await client.waitClosed();
  });

  it('ignores unknown message types and keeps the connection', async () => {
    const client = await RawClient.json(base, 'chat');
    client.send('{"type":99,"whatever":true}\x1e{"type":1,"invocationId":"2","target":"echo","arguments":[2]}\x1e');
    assert.deepEqual(await client.nextMessages(), [{ type: 3, invocationId: '2', result: 2 }]);
    client.ws.close();
  });

  it('answers a blocking invocation of a missing method with a Completion error, and ignores a non-blocking one', async () => {
    const client = await RawClient.json(base, 'chat');
    client.send(
      '{"type":1,"target":"missing","arguments":[]}\x1e{"type":1,"invocationId":"3","target":"missing","arguments":[]}\x1e',
    );
    assert.deepEqual(await client.nextMessages(), [
      { type: 3, invocationId: '3', error: "Unknown hub method 'missing'" },
    ]);
    client.ws.close();
  });

  it('rejects a stream invocation of a non-streaming method', async () => {
    const client = await RawClient.json(base, 'chat');
    client.send('{"type":4,"invocationId":"4","target":"echo","arguments":[1]}\x1e');
    const [completion] = await client.nextMessages();
    assert.match(String(completion?.error), /non-streaming 'echo' method with a streaming invocation/);
    client.ws.close();
  });

  it('closes the connection when the client sends Close', async () => {
    const hub = server.hub('chat');
    const client = await RawClient.json(base, 'chat');
    const before = hub.connectionCount;
    client.send('{"type":7}\x1e');
    await client.waitClosed();
    assert.equal(hub.connectionCount, before - 1);
  });
});
