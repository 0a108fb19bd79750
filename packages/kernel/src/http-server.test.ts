import assert from 'node:assert/strict';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { closeHttpServer } from './http-server.ts';

it('closes a server that still holds an idle keep-alive connection', async () => {
  const server = createServer((_, res) => res.end('ok'));
  server.keepAliveTimeout = 60_000; // without closing connections, close() would wait this long
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new Agent({ keepAlive: true });
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', agent }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d;
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(body, 'ok');
  await closeHttpServer(server); // resolves: the idle socket was dropped
  assert.equal(server.listening, false);
  agent.destroy();
});
