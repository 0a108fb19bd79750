/** The SignalR bridge over Azure SignalR's REST API, against a recording server that checks tokens. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { fromSignalRService, signalRServiceResolver } from '../src/index.ts';
import { serve } from './function-apps.ts';

const key = 'rest-access-key-0123456789abcdef0123';

function verify(token: string): Record<string, unknown> {
  const [head, body, signature] = token.split('.');
  const expected = createHmac('sha256', key).update(`${head}.${body}`).digest('base64url');
  assert.equal(signature, expected, 'signed with the AccessKey');
  return JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function restDouble(status = 202) {
  const requests: { method: string; url: string; aud: unknown; body: unknown }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const claims = verify(String(req.headers.authorization).replace(/^Bearer /, ''));
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method!,
        url: req.url!,
        aud: claims.aud,
        body: text === '' ? undefined : JSON.parse(text),
      });
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    port,
    connectionString: `Endpoint=http://127.0.0.1;Port=${port};AccessKey=${key};Version=1.0;`,
    [Symbol.asyncDispose]: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('SignalR bindings over the Azure SignalR REST API', () => {
  it('maps messages and group actions to REST calls signed with the AccessKey', async () => {
    await using rest = await restDouble();
    await using app = await serve({
      app: 'signalr-app',
      settings: { AzureSignalRConnectionString: rest.connectionString },
      signalR: signalRServiceResolver(),
    });
    const res = await fetch(`${app.base}/api/broadcast`, {
      method: 'POST',
      body: JSON.stringify([
        { target: 'status', arguments: [1] },
        { target: 'status', arguments: [2], userId: 'ada lovelace' },
        { target: 'status', arguments: [3], groupName: 'order-3' },
        { target: 'status', arguments: [4], connectionId: 'c1' },
        { action: 'add', userId: 'ada', groupName: 'order-3' },
        { action: 'remove', userId: 'ada', groupName: 'order-3' },
        { action: 'removeAll', userId: 'ada' },
        { action: 'add', connectionId: 'c1', groupName: 'g' },
        { action: 'remove', connectionId: 'c1', groupName: 'g' },
        { action: 'removeAll', connectionId: 'c1' },
      ]),
    });
    assert.equal(res.status, 202);
    const q = '?api-version=2022-06-01';
    assert.deepEqual(
      rest.requests.map((r) => [r.method, r.url]),
      [
        ['POST', `/api/hubs/orders/:send${q}`],
        ['POST', `/api/hubs/orders/users/ada%20lovelace/:send${q}`],
        ['POST', `/api/hubs/orders/groups/order-3/:send${q}`],
        ['POST', `/api/hubs/orders/connections/c1/:send${q}`],
        ['PUT', `/api/hubs/orders/users/ada/groups/order-3${q}`],
        ['DELETE', `/api/hubs/orders/users/ada/groups/order-3${q}`],
        ['DELETE', `/api/hubs/orders/users/ada/groups${q}`],
        ['PUT', `/api/hubs/orders/groups/g/connections/c1${q}`],
        ['DELETE', `/api/hubs/orders/groups/g/connections/c1${q}`],
        ['DELETE', `/api/hubs/orders/connections/c1/groups${q}`],
      ],
    );
    assert.deepEqual(rest.requests[1]?.body, { target: 'status', arguments: [2] });
    assert.equal(rest.requests[0]?.aud, `http://127.0.0.1:${rest.port}/api/hubs/orders/:send${q}`);
  });

  it('computes connection info locally, Azure style', async () => {
    await using rest = await restDouble();
    await using app = await serve({
      app: 'signalr-app',
      settings: { AzureSignalRConnectionString: rest.connectionString },
      signalR: signalRServiceResolver(),
    });
    const res = await fetch(`${app.base}/api/negotiate`, {
      method: 'POST',
      headers: { 'x-ms-client-principal-id': 'ada' },
    });
    const info = (await res.json()) as { url: string; accessToken: string };
    assert.equal(info.url, `http://127.0.0.1:${rest.port}/client/?hub=orders`);
    const claims = verify(info.accessToken);
    assert.equal(claims.aud, info.url);
    assert.equal(claims['asrs.s.uid'], 'ada');
    assert.equal(rest.requests.length, 0);
  });

  it('uses ClientEndpoint for clients and the token lifetime from the clock', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const target = fromSignalRService(
      'Endpoint=http://internal:8080;ClientEndpoint=https://public.example;AccessKey=k;',
      {
        clock,
        lifetimeMs: 60_000,
      },
    );
    const info = await target.connectionInfo('Chat', {});
    assert.equal(info.url, 'https://public.example/client/?hub=chat');
    const claims = JSON.parse(Buffer.from(info.accessToken.split('.')[1]!, 'base64url').toString('utf8'));
    assert.equal(claims.exp - claims.iat, 60);
    assert.equal(claims.iat, 1_700_000_000);
  });

  it('fails the invocation when the service refuses, and rejects unusable connection strings', async () => {
    await using rest = await restDouble(403);
    await using app = await serve({
      app: 'signalr-app',
      settings: { AzureSignalRConnectionString: rest.connectionString },
      signalR: signalRServiceResolver(),
    });
    const res = await fetch(`${app.base}/api/broadcast`, {
      method: 'POST',
      body: JSON.stringify({ target: 't', arguments: [] }),
    });
    assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_OUTPUT_FAILED');
    for (const bad of [
      'Endpoint=ftp://x;AccessKey=k',
      'Endpoint=http://x',
      'AccessKey=k',
      'Endpoint=not a url;AccessKey=k',
    ]) {
      assert.throws(() => fromSignalRService(bad), { code: 'FUNCTIONS_INVALID_SETTING' }, bad);
    }
  });
});

describe('signalRServiceResolver', () => {
  it('names no target for a connection string without an Endpoint', async () => {
    await using app = await serve({
      app: 'signalr-app',
      settings: { AzureSignalRConnectionString: 'UseHubbub=true' },
      signalR: signalRServiceResolver(),
    });
    const res = await fetch(`${app.base}/api/negotiate`, { method: 'POST' });
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_BINDING_UNAVAILABLE');
  });
});
