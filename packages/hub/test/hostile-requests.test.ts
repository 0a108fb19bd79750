/**
 * Requests an attacker can send without a token: malformed targets and percent-encodings, made-up
 * hub names, repeated query parameters, bodies where none is read, resets during upgrades. Each
 * gets a coded answer, no state is kept for it, and the server still serves afterwards.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { rawExchange as raw } from '@hubbub/kernel/testing';
import {
  createHubServer,
  createServerToken,
  createSignalRService,
  type HubServer,
  type SignalRService,
} from '../src/index.ts';
import { RawClient } from './raw.ts';

/** POSTs a 12 MB body in chunks; resolves with the answer and how much could be sent before the server hung up. */
function postBig(port: number, target: string): Promise<{ answer: string; sent: number }> {
  let sent = 0;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ answer: text, sent }));
    socket.write(`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 12000000\r\n\r\n`);
    const chunk = Buffer.alloc(65_536, 97);
    const pump = () => {
      while (sent < 12_000_000 && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    pump();
  });
}

const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`;
const upgrade = (target: string) =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

describe('self-hosted hubs under hostile requests', () => {
  let server: HubServer;
  let port = 0;
  let base = '';
  const errors: Error[] = [];
  before(async () => {
    server = createHubServer();
    server.hub('chat');
    server.on('error', (err) => errors.push(err));
    ({ port, url: base } = await server.listen());
  });
  after(() => server.close());

  it('answers malformed paths with 400 KERNEL_BAD_URL and keeps serving', async () => {
    const vectors = [
      `POST /hubs/%ZZ/negotiate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      get('/hubs/%ZZ'),
      get('/hubs/%E0%A4%A/negotiate'),
      upgrade('/hubs/%ZZ'),
    ];
    for (const vector of vectors) assert.match(await raw(port, vector), /^HTTP\/1.1 400[\s\S]*KERNEL_BAD_URL/, vector);
    for (const vector of [get('//'), get('//:'), get('http://['), get('http://a:99999/')]) {
      assert.match(await raw(port, vector), /^HTTP\/1.1 (400|404)/, vector);
    }
    assert.deepEqual(errors, [], 'bad input is not a server error');
    const client = await RawClient.json(base, 'chat');
    client.ws.close();
  });

  it('refuses a repeated access_token instead of picking one', async () => {
    const answer = await raw(
      port,
      'POST /hubs/chat/negotiate?access_token=a&access_token=b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1.1 400[\s\S]*KERNEL_REPEATED_PARAMETER/);
  });

  it('answers a negotiate that carries a large body without reading it, then drops the connection', async () => {
    let sent = 0;
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(text));
      socket.write(
        'POST /hubs/chat/negotiate?negotiateVersion=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12000000\r\n\r\n',
      );
      const chunk = Buffer.alloc(65_536, 97);
      const pump = () => {
        while (sent < 12_000_000 && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    assert.match(answer, /^HTTP\/1.1 200[\s\S]*Connection: close[\s\S]*connectionToken/);
    assert.ok(sent < 12_000_000, `the client could send only ${sent} of 12,000,000 bytes before the server hung up`);
  });

  it('survives a peer reset during a refused upgrade', async () => {
    for (let i = 0; i < 20; i++) {
      await raw(port, upgrade('/hubs/chat?id=no-such-connection'), { onData: (socket) => socket.resetAndDestroy() });
      await raw(port, upgrade('/hubs/nohub'), { onData: (socket) => socket.resetAndDestroy() });
    }
    const client = await RawClient.json(base, 'chat');
    client.ws.close();
  });
});

describe('the serverless /client endpoint under hostile requests', () => {
  let service: SignalRService;
  let port = 0;
  const key = 'a-key-that-is-long-enough-0123456789';
  before(async () => {
    service = createSignalRService({ keys: [key] });
    ({ port } = await service.listen());
  });
  after(() => service.close());

  const hubCount = () => [...service.hubServer.hubs()].length;

  it('keeps no hub for a negotiate or upgrade that fails authentication', async () => {
    const before = hubCount();
    for (let i = 0; i < 50; i++) {
      const answer = await raw(
        port,
        `POST /client/negotiate?hub=probe${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assert.match(answer, /^HTTP\/1.1 401/);
      assert.match(await raw(port, upgrade(`/client/?hub=ws${i}`)), /^HTTP\/1.1 401/);
      assert.match(
        await raw(port, get(`/client/negotiate?hub=forged${i}`, 'Authorization: Bearer e30.e30.AAAA\r\n')),
        /^HTTP\/1.1 401/,
      );
    }
    assert.equal(hubCount(), before);
  });

  it('refuses an unauthenticated negotiate with a large body without reading it', async () => {
    for (const target of ['/client/negotiate?hub=bigbody', '/client/?hub=bigbody&id=x']) {
      const { answer, sent } = await postBig(port, target);
      assert.match(answer, /^HTTP\/1.1 401/, target);
      assert.ok(sent < 12_000_000, `${target}: the client sent all ${sent} bytes`);
    }
  });

  it('creates the hub for a client whose token is valid', async () => {
    const access = await service.clientAccess('fresh', { userId: 'ada' });
    const url = new URL(access.url);
    const answer = await raw(
      port,
      `POST /client/negotiate${url.search}&negotiateVersion=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${access.accessToken}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1.1 200[\s\S]*connectionToken/);
    await waitFor(() => service.hubServer.findHub('fresh') !== undefined);
  });

  it('refuses a repeated or invalid hub parameter with 400', async () => {
    for (const query of ['hub=a&hub=b', 'hub=%ZZ', 'hub=1abc', 'hub=']) {
      const answer = await raw(port, get(`/client/negotiate?${query}`));
      assert.match(answer, /^HTTP\/1.1 400/, query);
    }
    assert.match(await raw(port, get('/client/negotiate?hub=a&hub=b')), /KERNEL_REPEATED_PARAMETER/);
  });

  it('refuses a repeated REST query parameter', async () => {
    const path = '/api/hubs/chat/:send?api-version=2022-06-01&api-version=2021-01-01';
    const token = await createServerToken({ audience: `http://127.0.0.1:${port}${path}`, accessKey: key });
    const body = '{"target":"t","arguments":[]}';
    const answer = await raw(
      port,
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.match(answer, /^HTTP\/1.1 400[\s\S]*KERNEL_REPEATED_PARAMETER/);
  });
});
