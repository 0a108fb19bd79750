/**
 * The bus HTTP API under hostile requests: malformed targets and percent-encodings, repeated
 * query parameters and request floods get coded answers, the process keeps serving and accepted
 * messages stay where they are.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { closeHttpServer, createHttpServer, ManualClock } from '@hubbub/kernel';
import { rawExchange as raw } from '@hubbub/kernel/testing';
import { createBusHttpHandler, createSasToken } from '../src/http/index.ts';
import { type Bus, openBus } from '../src/index.ts';

describe('bus HTTP API under hostile requests', () => {
  const clock = new ManualClock(Date.now());
  const key = { name: 'root', key: 'a-long-enough-shared-access-key-0123456789' };
  let bus: Bus;
  let server: Server;
  let port = 0;
  const errors: unknown[] = [];
  const auth = (entity: string) => createSasToken(`http://x/bus/${entity}`, key, clock.now() / 1000 + 60);

  before(async () => {
    bus = await openBus({ url: 'memory://', clock, entities: { queues: [{ name: 'orders' }] } });
    const handler = createBusHttpHandler(bus, {
      basePath: '/bus',
      keys: [key],
      clock,
      rateLimit: { ratePerSecond: 1, burst: 30 },
    });
    server = createHttpServer({ request: (req, res) => handler(req, res) ?? true, onError: (e) => errors.push(e) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await closeHttpServer(server);
    await bus.close();
  });

  it('answers malformed paths and encodings with coded 4xx, not a crash', async () => {
    await bus.createSender('orders').send({ body: 'kept' });
    for (const target of [
      '/bus/%ZZ/messages',
      '/bus/orders/messages/%ZZ/%ZZ',
      '//',
      '/bus//',
      '/bus/%00/messages/head',
    ]) {
      const answer = await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1.1 4\d\d/, target);
    }
    assert.deepEqual(errors, []);
  });

  it('refuses a repeated query parameter', async () => {
    const token = auth('orders');
    const answer = await raw(
      port,
      `GET /bus/orders/messages?count=1&count=1000 HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1.1 400[\s\S]*KERNEL_REPEATED_PARAMETER/);
  });

  it('limits requests per address with 429 and Retry-After, keeping accepted messages', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/bus/orders/messages`, {
        method: 'POST',
        headers: { authorization: 'SharedAccessSignature sr=x&sig=forged&se=1&skn=root' },
        body: 'forged',
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    assert.ok(statuses.includes(401), 'forged tokens are refused');
    assert.ok(statuses.includes(429), `a flood is throttled: ${statuses.join(',')}`);
    assert.match(retryAfter ?? '', /^\d+$/);
    const [message] = await bus.createReceiver('orders', { receiveMode: 'peekLock' }).peekMessages(1);
    assert.equal(message?.body, 'kept');
  });
});
