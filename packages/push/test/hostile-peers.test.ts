import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  createApnsProvider,
  createFcmProvider,
  createWebPushProvider,
  generateVapidKeys,
} from '../src/providers/index.ts';
import { startApnsServer, startFcmServer, startPushEndpoint } from '../src/testing/index.ts';

// Platforms are another process across the network: whatever they answer — garbage, huge bodies,
// resets, bad JSON, absurd Retry-After — ends in an outcome, never a rejection or a crash.

const servers: { close(cb?: () => void): unknown }[] = [];
after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined))))));

async function listen<S extends Server | Http2Server | TcpServer>(server: S): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function httpPeer(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => handler(request, response));
  });
  server.keepAliveTimeout = 100;
  return listen(server);
}

describe('Web Push provider against hostile push services', async () => {
  const endpoint = await startPushEndpoint();
  const sub = endpoint.subscribe();
  await endpoint.close();
  const provider = createWebPushProvider({
    vapid: { ...generateVapidKeys(), subject: 'mailto:a@b.test' },
    timeoutMs: 2_000,
  });
  after(() => provider.close());
  const at = (origin: string) => ({ endpoint: `${origin}/push/x`, p256dh: sub.p256dh, auth: sub.auth });

  it('answers retry when the peer speaks something that is not HTTP', async () => {
    const raw = createTcpServer((socket) => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    const origin = await listen(raw);
    const outcome = await provider.deliver({ platform: 'browser', channel: at(origin), body: '{}' });
    assert.equal(outcome.kind, 'retry');
    assert.match((outcome as { reason: string }).reason, /^network: /);
  });

  it('answers retry when the peer drops the connection in the middle of its answer', async () => {
    const origin = await httpPeer((_request, response) => {
      response.writeHead(201, { 'Content-Length': '100' });
      response.write('partial');
      setImmediate(() => response.socket?.destroy());
    });
    const outcome = await provider.deliver({ platform: 'browser', channel: at(origin), body: '{}' });
    assert.equal(outcome.kind, 'retry');
  });

  it('reads a 5 MB error body only as far as its bound, and ignores a Retry-After it cannot read', async () => {
    const origin = await httpPeer((_request, response) => {
      response.writeHead(503, { 'Retry-After': 'soon', 'Content-Type': 'text/html' });
      response.end(Buffer.alloc(5 * 1024 * 1024, 60));
    });
    assert.deepEqual(await provider.deliver({ platform: 'browser', channel: at(origin), body: '{}' }), {
      kind: 'retry',
      status: 503,
      reason: 'HTTP 503',
    });
  });

  it('caps an absurd Retry-After at a day', async () => {
    const origin = await httpPeer((_request, response) => {
      response.writeHead(429, { 'Retry-After': '999999999' });
      response.end();
    });
    assert.deepEqual(await provider.deliver({ platform: 'browser', channel: at(origin), body: '{}' }), {
      kind: 'throttled',
      status: 429,
      reason: 'HTTP 429',
      retryAfterMs: 86_400_000,
    });
  });
});

describe('FCM provider against hostile answers', async () => {
  const fcm = await startFcmServer();
  const account = fcm.createServiceAccount();
  await fcm.close();
  const body = JSON.stringify({ message: { data: { a: 'b' } } });
  const deliver = async (tokenAnswer: (r: ServerResponse) => void, sendAnswer?: (r: ServerResponse) => void) => {
    const origin = await httpPeer((request, response) => {
      if (request.url === '/token') tokenAnswer(response);
      else sendAnswer?.(response);
    });
    const provider = createFcmProvider({
      serviceAccount: { ...account, token_uri: `${origin}/token` },
      endpoint: origin,
    });
    try {
      return await provider.deliver({ platform: 'fcmv1', channel: 'token-1', body });
    } finally {
      await provider.close();
    }
  };
  const grant = (r: ServerResponse) => r.end(JSON.stringify({ access_token: 'ya29.x', expires_in: 3600 }));

  it('answers retry when the token endpoint answers 200 without JSON or without an access token', async () => {
    assert.deepEqual(await deliver((r) => r.end('<html>')), {
      kind: 'retry',
      reason: 'token endpoint answered no JSON',
    });
    assert.deepEqual(await deliver((r) => r.end('{"expires_in":3600}')), {
      kind: 'retry',
      reason: 'token endpoint answered no access_token',
    });
    assert.deepEqual(await deliver((r) => r.end('{"access_token":"x","expires_in":-5}')), {
      kind: 'retry',
      reason: 'token endpoint answered no access_token',
    });
  });

  it('classifies send answers whose bodies are not FCM errors by their status', async () => {
    const status = (code: number, text: string) => (r: ServerResponse) => {
      r.writeHead(code);
      r.end(text);
    };
    assert.deepEqual(await deliver(grant, status(400, 'garbage')), {
      kind: 'invalid',
      status: 400,
      reason: 'HTTP 400',
    });
    assert.deepEqual(await deliver(grant, status(500, '<html>')), { kind: 'retry', status: 500, reason: 'HTTP 500' });
    assert.deepEqual(await deliver(grant, status(404, '{"error":{"details":"not a list"}}')), {
      kind: 'gone',
      status: 404,
      reason: 'HTTP 404',
    });
    assert.deepEqual(await deliver(grant, status(200, 'not even json')), { kind: 'delivered', status: 200 });
  });
});

describe('APNs provider against hostile answers', async () => {
  const apns = await startApnsServer();
  const key = apns.createSigningKey();
  await apns.close();
  const alert = JSON.stringify({ aps: { alert: 'hi' } });
  const device = () => randomBytes(32).toString('hex');

  async function h2Peer(onStream: (stream: ServerHttp2Stream) => void) {
    const server = createH2Server();
    const sessions = new Set<import('node:http2').Http2Session>();
    server.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
      s.on('error', () => {});
    });
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => onStream(stream));
    });
    const origin = await listen(server);
    servers.pop();
    return {
      origin,
      sessions,
      close: () => {
        for (const s of sessions) s.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  it('answers invalid for a 400 whose body is not JSON, retry for a reset stream', async () => {
    let mode: 'garbage' | 'reset' = 'garbage';
    const peer = await h2Peer((stream) => {
      if (mode === 'reset') return stream.close(0x2); // INTERNAL_ERROR
      stream.respond({ ':status': 400 });
      stream.end('<<<not json>>>');
    });
    const provider = createApnsProvider({ ...key, topic: 'com.hubbub.delivery', endpoint: peer.origin });
    try {
      assert.deepEqual(await provider.deliver({ platform: 'apns', channel: device(), body: alert }), {
        kind: 'invalid',
        status: 400,
        reason: 'HTTP 400',
      });
      mode = 'reset';
      const outcome = await provider.deliver({ platform: 'apns', channel: device(), body: alert });
      assert.equal(outcome.kind, 'retry');
    } finally {
      await provider.close();
      await peer.close();
    }
  });

  it('opens a new session after the peer destroys the one in use', async () => {
    const peer = await h2Peer((stream) => {
      stream.respond({ ':status': 200 });
      stream.end();
    });
    const provider = createApnsProvider({ ...key, topic: 'com.hubbub.delivery', endpoint: peer.origin });
    try {
      assert.equal((await provider.deliver({ platform: 'apns', channel: device(), body: alert })).kind, 'delivered');
      for (const s of peer.sessions) s.destroy();
      // The next delivery may still meet the dying session (retry); one after it gets a new one.
      let outcome = await provider.deliver({ platform: 'apns', channel: device(), body: alert });
      if (outcome.kind === 'retry')
        outcome = await provider.deliver({ platform: 'apns', channel: device(), body: alert });
      assert.equal(outcome.kind, 'delivered');
      assert.equal(provider.sessionsOpened, 2);
    } finally {
      await provider.close();
      await peer.close();
    }
  });
});
