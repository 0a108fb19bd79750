/**
 * A client that resets its TCP connection while its WebSocket upgrade waits on a token check, or
 * while it is being refused, cannot take the process down. The endpoints run behind a bare
 * `node:http` server here, so no other layer puts an error listener on the socket for them.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { createAuthenticator } from '../src/auth.ts';
import { Endpoints } from '../src/endpoints.ts';
import { Hub } from '../src/index.ts';
import { resolveHubServerOptions } from '../src/options.ts';
import { FlushScheduler } from '../src/transport.ts';
import { authGate } from './helpers.ts';

describe('a client that resets its connection during an upgrade', () => {
  /** Endpoints alone behind a bare node:http server: nothing else puts an error listener on the socket. */
  async function bareEndpoints() {
    const gate = authGate('customer-42');
    const options = resolveHubServerOptions({ auth: gate.auth });
    const hub = new Hub({
      name: 'tracking',
      backplane: options.backplane,
      limits: { maxMessageBytes: 32_768, maxBufferedBytes: 1_048_576, statefulBufferBytes: 1_048_576 },
      logger: silentLogger,
      detailedErrors: false,
      tick: () => 0,
      released: () => {},
    });
    const endpoints = new Endpoints({
      options,
      scheduler: new FlushScheduler(),
      authenticate: createAuthenticator(options.auth, options.clock),
      open: () => assert.fail('no connection is opened'),
      find: () => undefined,
    });
    const sockets: Socket[] = [];
    const http: Server = createServer((_request, response) => response.end('alive'));
    http.on('upgrade', (request, socket: Socket, head: Buffer) => {
      sockets.push(socket);
      void endpoints.upgrade(hub, request, socket, head, new URL(request.url ?? '/', 'http://localhost'));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    return { gate, http, port, sockets };
  }

  it('keeps the process up when the peer resets while its token is checked and its upgrade refused', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const { gate, http, port, sockets } = await bareEndpoints();
    try {
      gate.close();
      const client = connect(port, '127.0.0.1');
      client.on('error', () => {});
      await new Promise((resolve) => client.once('connect', resolve));
      client.write(
        'GET /hubs/tracking?id=expired-long-ago HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n' +
          'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
          'Authorization: Bearer token\r\n\r\n',
      );
      await waitFor(() => gate.waiting === 1, { what: 'the token check to start' });
      client.resetAndDestroy();
      await waitFor(() => sockets[0]?.destroyed, { what: 'the server to see the reset' });
      gate.open(); // the upgrade goes on, to a 404 refusal on a socket that is gone
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await response.text(), 'alive');
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('keeps the process up when the peer resets right after its upgrade is refused', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const { http, port, sockets } = await bareEndpoints();
    try {
      for (let i = 0; i < 20; i++) {
        const client = connect(port, '127.0.0.1');
        client.on('error', () => {});
        await new Promise((resolve) => client.once('connect', resolve));
        client.write(
          'GET /hubs/tracking?id=expired-long-ago HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n' +
            'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
            'Authorization: Bearer token\r\n\r\n',
        );
        await new Promise((resolve) => client.once('data', resolve)); // the 404 is on its way
        client.resetAndDestroy();
      }
      await waitFor(() => sockets.length === 20 && sockets.every((s) => s.destroyed), { what: 'every socket to end' });
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await response.text(), 'alive');
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
