/**
 * HTTP functions under hostile requests: a repeated query parameter never binds one copy while
 * the function validated another, malformed targets are a 400, and a body announced over the limit
 * is refused before it is read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawExchange } from '@hubbub/kernel/testing';
import type { ConnectionInfoRequest, SignalRTarget } from '../src/index.ts';
import { serve } from './support.ts';

function raw(base: string, bytes: string): Promise<string> {
  return rawExchange(Number(new URL(base).port), bytes);
}

describe('HTTP functions under hostile requests', () => {
  const requests: ConnectionInfoRequest[] = [];
  const hub: SignalRTarget = {
    send: async () => {},
    groupAction: async () => {},
    connectionInfo: async (_hub, request) => {
      requests.push(request);
      return { url: 'http://hub.test/client/?hub=orders', accessToken: 'token' };
    },
  };

  it('refuses a query parameter given twice when a binding expression reads it', async () => {
    await using app = await serve({ app: 'signalr-app', signalR: hub });
    for (const query of ['user=ada&user=eve', 'user=1&user=%20evil%0Auser', 'user=ada&USER=eve']) {
      const res = await fetch(`${app.base}/api/negotiateWithClaims?${query}`, { method: 'POST' });
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { code: string; detail: { parameter: string } };
      assert.equal(body.code, 'FUNCTIONS_BAD_REQUEST');
    }
    assert.equal(requests.length, 0, 'no connection info was made for an ambiguous user');
    const ok = await fetch(`${app.base}/api/negotiateWithClaims?user=ada`, { method: 'POST' });
    assert.equal(ok.status, 200);
    assert.equal(requests.at(-1)?.userId, 'ada');
  });

  it('keeps repeated parameters that no binding reads (request.query.getAll)', async () => {
    await using app = await serve({ app: 'http-app' });
    const res = await fetch(`${app.base}/api/items/42?tag=a&tag=b`);
    assert.deepEqual(await res.json(), { id: '42', tags: ['a', 'b'] });
  });

  it('answers malformed targets with 400 and refuses an announced oversized body unread', async () => {
    await using app = await serve({ app: 'http-app', maxRequestBodyBytes: 1024 });
    for (const target of ['http://[', 'http://a:99999/', '*']) {
      const answer = await raw(app.base, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1.1 400[\s\S]*KERNEL_BAD_URL/, target);
    }
    const big = await raw(
      app.base,
      'POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\nabc',
    );
    assert.match(big, /^HTTP\/1.1 413[\s\S]*FUNCTIONS_PAYLOAD_TOO_LARGE/);
    assert.equal((await fetch(`${app.base}/api/hello/Ada`)).status, 200);
  });
});
