/**
 * What an idle connection keeps: its query string without the protocol's own parameters, so that
 * a connection does not hold its token (or an access token) twice, nor a slice of the request URL;
 * and a token derived from its id (not stored), which still opens only its own connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clientQuery } from '../src/endpoints.ts';
import type { HubConnection, HubServer } from '../src/index.ts';
import { startHub } from './helpers.ts';
import { negotiate, RawClient } from './raw.ts';

let server: HubServer;
let base: string;

before(async () => {
  ({ server, url: base } = await startHub());
  server.hub('chat').method('echo', (_ctx, v: unknown) => v);
});
after(() => server.close());

/** Connects with `extra` after the token, completes the handshake, and returns the server's connection. */
async function connectWith(extra: string): Promise<{ client: RawClient; connection: HubConnection }> {
  const { body } = await negotiate(base, 'chat');
  const client = await RawClient.connect(
    `${base.replace('http', 'ws')}/hubs/chat?id=${String(body.connectionToken)}${extra}`,
  );
  client.send('{"protocol":"json","version":1}\x1e');
  await client.next();
  const connection = server.hub('chat').connection(String(body.connectionId));
  assert.ok(connection !== undefined);
  return { client, connection };
}

describe('the query a connection keeps', () => {
  it('drops id, access_token and the cache buster, and keeps the rest in order', () => {
    assert.equal(clientQuery(new URL('http://h/hubs/chat')), '');
    assert.equal(clientQuery(new URL('http://h/hubs/chat?id=abc')), '');
    assert.equal(clientQuery(new URL('http://h/hubs/chat?id=abc&access_token=x.y.z&_=17')), '');
    assert.equal(clientQuery(new URL('http://h/hubs/chat?tenant=a&id=abc&b=2&b=3')), '?tenant=a&b=2&b=3');
    assert.equal(clientQuery(new URL('http://h/hubs/chat?id=abc&q=a%20b')), '?q=a+b');
  });

  it('is empty for a WebSocket that sent only its token, and keeps what else it sent', async () => {
    const plain = await connectWith('');
    assert.equal(plain.connection.query, '');
    const tagged = await connectWith('&tenant=north&access_token=secret');
    assert.equal(tagged.connection.query, '?tenant=north');
    // The connections still work.
    tagged.client.send('{"type":1,"invocationId":"1","target":"echo","arguments":["ok"]}\x1e');
    assert.deepEqual(await tagged.client.nextMessages(), [{ type: 3, invocationId: '1', result: 'ok' }]);
    plain.client.ws.close();
    tagged.client.ws.close();
  });
});

describe('connection tokens derived from the id', () => {
  const wsUrl = (id: string) => `${base.replace('http', 'ws')}/hubs/chat?id=${encodeURIComponent(id)}`;

  it('open their connection; the public id, a forged or a truncated token do not', async () => {
    const { body } = await negotiate(base, 'chat');
    const id = String(body.connectionId);
    const token = String(body.connectionToken);
    assert.notEqual(token, id);
    assert.match(token, /^[A-Za-z0-9_.-]+$/); // URL-safe as it is
    await assert.rejects(RawClient.connect(wsUrl(id)), { status: 404 });
    await assert.rejects(RawClient.connect(wsUrl(`${id}.${'A'.repeat(22)}`)), { status: 404 });
    await assert.rejects(RawClient.connect(wsUrl(token.slice(0, -1))), { status: 404 });
    await assert.rejects(RawClient.connect(wsUrl(`${token}A`)), { status: 404 });
    const longPoll = await fetch(`${base}/hubs/chat?id=${id}`);
    assert.equal(longPoll.status, 404);
    await longPoll.text();
    const client = await RawClient.connect(wsUrl(token));
    client.send('{"protocol":"json","version":1}\x1e');
    assert.equal((await client.next()).data.toString(), '{}\x1e');
    client.ws.close();
  });

  it('refuse hostile ids (malformed percent-encoding, repeated, dots only, oversized, wrong alphabet) and keep serving', async () => {
    const { body } = await negotiate(base, 'chat');
    const token = String(body.connectionToken);
    const id = String(body.connectionId);
    const ws = base.replace('http', 'ws');
    const refused = (err: unknown) => {
      const status = (err as { status?: number }).status;
      assert.ok(status !== undefined && status >= 400 && status < 500, `refused with a 4xx, got ${String(status)}`);
      return true;
    };
    const hostile = [
      '%ZZ',
      `${encodeURIComponent(token)}%`,
      '.',
      '..',
      `${id}.`,
      `.${token.slice(token.indexOf('.') + 1)}`,
      `${id}.${'!'.repeat(token.length - id.length - 1)}`,
      encodeURIComponent(`${id}.${'A'.repeat(8_000)}`),
    ];
    for (const raw of hostile) await assert.rejects(RawClient.connect(`${ws}/hubs/chat?id=${raw}`), refused);
    // A repeated id is not a second chance to guess: the forged one fails whichever is read.
    await assert.rejects(
      RawClient.connect(`${ws}/hubs/chat?id=${encodeURIComponent(`${id}.forged`)}&id=${encodeURIComponent(token)}`),
      refused,
    );
    // The process still answers, and the real token still opens its connection.
    const client = await RawClient.connect(wsUrl(token));
    client.send('{"protocol":"json","version":1}\x1e');
    assert.equal((await client.next()).data.toString(), '{}\x1e');
    client.ws.close();
  });

  it('from another server open nothing here', async () => {
    const other = await startHub();
    try {
      other.server.hub('chat');
      const { body } = await negotiate(other.url, 'chat');
      await assert.rejects(RawClient.connect(wsUrl(String(body.connectionToken))), { status: 404 });
    } finally {
      await other.server.close();
    }
  });

  it('version 0 still uses the connection id as the token', async () => {
    const { body } = await negotiate(base, 'chat', '');
    assert.equal(body.connectionToken, undefined);
    const client = await RawClient.connect(wsUrl(String(body.connectionId)));
    client.send('{"protocol":"json","version":1}\x1e');
    assert.equal((await client.next()).data.toString(), '{}\x1e');
    client.ws.close();
  });
});

describe('closing the server', () => {
  it('drops sockets whose clients do not answer the close handshake (no per-socket registry needed)', async () => {
    const { server: own, url } = await startHub();
    own.hub('chat');
    const silent = await RawClient.json(url, 'chat');
    const socket = (silent.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause(); // reads nothing: never sees the server's Close, never answers it
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const deadline = (ms: number) =>
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms).unref());
    // Liveness bounds, not timings: ws's own close timer would hold an unanswered socket for 30 s,
    // so anything under that tells a dropped socket from a kept one, with room for a loaded machine.
    await Promise.race([own.close(), deadline(20_000)]);
    socket.resume();
    await Promise.race([ended, deadline(20_000)]);
  });
});
