/**
 * The seeds' serverless flow end to end, with nothing of Hubbub's own on the client side: a
 * negotiate endpoint written only against the documented contract (node:http + jose) hands out
 * `{url, accessToken}`, the official @microsoft/signalr client follows it to the hub, and a plain
 * HTTP client signing its own tokens reaches the client through the REST API.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { SignJWT } from 'jose';
import { createSignalRService, type SignalRService } from '../src/index.ts';
import { deferred, matrix, transports } from './helpers.ts';

let service: SignalRService;
let negotiateServer: Server;
let functionsUrl: string;
/** What the "Functions app" knows: only the connection string. */
let connectionString: string;

/** Azure-form parsing, as an application would do it (no Hubbub code). */
function fromConnectionString(text: string): { endpoint: string; key: string } {
  const fields = Object.fromEntries(
    text
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).toLowerCase(), p.slice(p.indexOf('=') + 1)]),
  );
  const url = new URL(fields.endpoint!);
  if (fields.port !== undefined) url.port = fields.port;
  return { endpoint: url.origin, key: fields.accesskey! };
}

async function sign(claims: Record<string, unknown>, aud: string, key: string): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(key));
}

/** A REST call as the Management SDK makes it: aud = full URL with its query, PascalCase body. */
async function rest(method: string, path: string, body?: unknown): Promise<number> {
  const { endpoint, key } = fromConnectionString(connectionString);
  const url = `${endpoint}${path}${path.includes('?') ? '&' : '?'}api-version=2022-06-01`;
  const response = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${await sign({}, url, key)}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await response.arrayBuffer();
  return response.status;
}

before(async () => {
  service = createSignalRService({ keys: ['e2e-access-key-0123456789abcdefghijklmnopq'] });
  await service.listen();
  connectionString = service.connectionString;

  // The negotiate "function": builds {url, accessToken} from the connection string alone.
  negotiateServer = createServer((request, response) => {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (request.method !== 'POST' || !request.url?.startsWith('/api/negotiate')) {
      response.writeHead(404).end();
      return;
    }
    const { endpoint, key } = fromConnectionString(connectionString);
    const url = `${endpoint}/client/?hub=chat`;
    const userId = request.headers['x-ms-signalr-userid'];
    const claims = typeof userId === 'string' ? { 'asrs.s.uid': userId } : {};
    sign(claims, url, key).then((accessToken) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ url, accessToken }));
    });
  });
  await new Promise<void>((resolve) => negotiateServer.listen(0, '127.0.0.1', resolve));
  functionsUrl = `http://127.0.0.1:${(negotiateServer.address() as AddressInfo).port}/api`;
});

after(async () => {
  await service.close();
  negotiateServer.closeAllConnections();
  await new Promise<void>((resolve) => negotiateServer.close(() => resolve()));
});

function client(userId: string, transport: keyof typeof transports, protocol: 'json' | 'messagepack') {
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(functionsUrl, { transport: transports[transport], headers: { 'x-ms-signalr-userid': userId } })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === 'messagepack') builder.withHubProtocol(new MessagePackHubProtocol());
  return builder.build();
}

for (const { transport, protocol } of matrix) {
  describe(`seeds' flow over ${transport} with ${protocol}`, () => {
    it('negotiates through a redirect and receives broadcast, user, group and connection sends', async () => {
      const alice = client('alice', transport, protocol);
      const bob = client('bob', transport, protocol);
      await alice.start();
      await bob.start();
      try {
        assert.ok(alice.connectionId);
        const received: Array<[string, unknown]> = [];
        alice.on('notify', (kind: string, payload: unknown) => received.push([kind, payload]));
        const bobSaw: string[] = [];
        bob.on('notify', (kind: string) => bobSaw.push(kind));

        assert.equal(
          await rest('POST', '/api/hubs/chat/:send', { Target: 'notify', Arguments: ['all', { n: 1 }] }),
          202,
        );
        assert.equal(
          await rest('POST', '/api/hubs/chat/users/alice/:send', { target: 'notify', arguments: ['user', 2] }),
          202,
        );
        assert.equal(await rest('PUT', `/api/hubs/chat/groups/order-1/connections/${alice.connectionId}`), 200);
        assert.equal(
          await rest('POST', '/api/hubs/chat/groups/order-1/:send', { Target: 'notify', Arguments: ['group', 3] }),
          202,
        );
        assert.equal(
          await rest('POST', `/api/hubs/chat/connections/${alice.connectionId}/:send`, {
            Target: 'notify',
            Arguments: ['connection', 'x'],
          }),
          202,
        );
        await waitFor(() => received.length === 4, { what: 'four messages for alice' });
        assert.deepEqual(received, [
          ['all', { n: 1 }],
          ['user', 2],
          ['group', 3],
          ['connection', 'x'],
        ]);
        await waitFor(() => bobSaw.length === 1, { what: 'the broadcast for bob' });
        assert.deepEqual(bobSaw, ['all']);
      } finally {
        await alice.stop();
        await bob.stop();
      }
    });
  });
}

describe('stateful reconnect through the redirect', () => {
  it('negotiates useStatefulReconnect on /client/negotiate and still receives REST sends', async () => {
    const dana = new signalR.HubConnectionBuilder()
      .withUrl(functionsUrl, { headers: { 'x-ms-signalr-userid': 'dana' } })
      .withStatefulReconnect()
      .configureLogging(signalR.LogLevel.None)
      .build();
    await dana.start();
    try {
      const seen = deferred<unknown>();
      dana.on('notify', (kind: string) => seen.resolve(kind));
      assert.equal(service.hub('chat').connection(dana.connectionId!)?.isStateful, true);
      assert.equal(await rest('POST', '/api/hubs/chat/users/dana/:send', { Target: 'notify', Arguments: ['s'] }), 202);
      assert.equal(await seen.promise, 's');
    } finally {
      await dana.stop();
    }
  });
});

describe('REST close reaches the official client', () => {
  it('closes a connection with a reason the client reports', async () => {
    const carol = client('carol', 'WebSockets', 'json');
    await carol.start();
    const closed = deferred<Error | undefined>();
    carol.onclose((error) => closed.resolve(error));
    assert.equal(await rest('DELETE', `/api/hubs/chat/connections/${carol.connectionId}?reason=bye`), 200);
    const error = await closed.promise;
    assert.match(String(error?.message), /bye/);
    assert.equal(await rest('HEAD', `/api/hubs/chat/connections/${carol.connectionId}`), 404);
  });
});
