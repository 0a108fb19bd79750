import assert from 'node:assert/strict';
import type { IncomingMessage, Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { HubbubError } from './errors.ts';
import { decodePathSegment, HttpError, queryParam, readBody, requestTarget, sendJson } from './http.ts';
import { createHttpServer, guardRequest } from './http-guard.ts';
import { closeHttpServer } from './http-server.ts';
import { rawExchange as raw } from './testing.ts';
import { waitFor } from './wait-for.ts';

const target = (url: string) => requestTarget({ url } as IncomingMessage);

describe('requestTarget', () => {
  it('reads origin-form targets, keeping // as a path', () => {
    assert.equal(target('/hubs/a?x=1').pathname, '/hubs/a');
    assert.equal(target('//').pathname, '//');
    assert.equal(target('//evil.example/x').host, 'localhost');
  });
  for (const bad of ['http://[', 'http://a:99999/', '*', '', 'hubs']) {
    it(`refuses ${JSON.stringify(bad)} with KERNEL_BAD_URL`, () => {
      assert.throws(() => target(bad), { code: 'KERNEL_BAD_URL', status: 400 });
    });
  }
});

describe('decodePathSegment and queryParam', () => {
  it('decodes or throws KERNEL_BAD_URL', () => {
    assert.equal(decodePathSegment('a%20b'), 'a b');
    assert.throws(() => decodePathSegment('%ZZ'), { code: 'KERNEL_BAD_URL', status: 400 });
    assert.throws(() => decodePathSegment('%E0%A4%A'), { code: 'KERNEL_BAD_URL' });
  });
  it('returns the single value, undefined when absent, and refuses a repeat', () => {
    const params = new URLSearchParams('orderid=1001&hub=a&Hub=b&x=');
    assert.equal(queryParam(params, 'orderid'), '1001');
    assert.equal(queryParam(params, 'x'), '');
    assert.equal(queryParam(params, 'missing'), undefined);
    assert.equal(queryParam(params, 'hub'), 'a');
    assert.throws(() => queryParam(params, 'hub', { ignoreCase: true }), {
      code: 'KERNEL_REPEATED_PARAMETER',
      status: 400,
    });
    assert.throws(() => queryParam(new URLSearchParams('orderid=1&orderid=%20evil%0Auser'), 'orderid'), {
      code: 'KERNEL_REPEATED_PARAMETER',
    });
  });
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('createHttpServer', () => {
  const errors: Error[] = [];
  const server = createHttpServer({
    onError: (err) => errors.push(err),
    limits: { idleTimeoutMs: 300, headersTimeoutMs: 300, requestTimeoutMs: 2_000 },
    request: (request, response) => {
      const url = requestTarget(request);
      if (url.pathname === '/sync-throw') throw new Error('boom');
      if (url.pathname === '/coded') throw new HttpError('KERNEL_TEST', 418, 'coded', { detail: { x: 1 } });
      if (url.pathname === '/async') return Promise.reject(new TypeError('late boom'));
      if (url.pathname === '/decode') {
        sendJson(response, 200, { s: decodePathSegment('%ZZ') });
        return true;
      }
      if (url.pathname === '/body') {
        return readBody(request, 1_000).then((body) => sendJson(response, 200, { size: body.length }));
      }
      if (url.pathname === '/ok') {
        sendJson(response, 200, { ok: true });
        return true;
      }
      return false;
    },
    upgrade: (request) => {
      if (requestTarget(request).pathname !== '/ws') return false;
      throw new Error('upgrade boom');
    },
  });
  let port = 0;
  after(() => closeHttpServer(server));

  it('answers each throw with a coded JSON error and stays up', async () => {
    port = await listen(server);
    const cases: [string, RegExp][] = [
      [
        'GET /sync-throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        /^HTTP\/1.1 500[\s\S]*KERNEL_INTERNAL_ERROR/,
      ],
      ['GET /coded HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1.1 418[\s\S]*"code":"KERNEL_TEST"/],
      ['GET /async HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1.1 500[\s\S]*KERNEL_INTERNAL_ERROR/],
      ['GET /decode HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1.1 400[\s\S]*KERNEL_BAD_URL/],
      ['GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1.1 400[\s\S]*KERNEL_BAD_URL/],
      ['GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1.1 404[\s\S]*KERNEL_NOT_FOUND/],
      ['GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1.1 404[\s\S]*KERNEL_NOT_FOUND/],
      ['GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', /^HTTP\/1.1 500/],
      ['GARBAGE\r\n\r\n', /^HTTP\/1.1 400/],
    ];
    for (const [request, expected] of cases) assert.match(await raw(port, request), expected, request);
    assert.deepEqual(
      errors.map((e) => e.message),
      ['boom', 'late boom', 'upgrade boom'],
      'only the unexpected failures are reported',
    );
    assert.match(await raw(port, 'GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1.1 200/);
  });

  it('answers an oversized body with 413 without reading it into memory', async () => {
    const announced = await raw(
      port,
      'POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\nabc',
    );
    assert.match(announced, /^HTTP\/1.1 413[\s\S]*Connection: close[\s\S]*KERNEL_BODY_TOO_LARGE/);
    const chunked = await raw(
      port,
      `POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n${'a'.repeat(2000)}\r\n0\r\n\r\n`,
    );
    assert.match(chunked, /^HTTP\/1.1 413[\s\S]*KERNEL_BODY_TOO_LARGE/);
    const fits = await raw(port, 'POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    assert.match(fits, /"size":3/);
  });

  it('closes a connection that never sends a request, and one that stalls in its headers', async () => {
    const silent: Socket = connect(port, '127.0.0.1');
    const stalled: Socket = connect(port, '127.0.0.1');
    stalled.write('GET /ok HTTP/1.1\r\nHost: x\r\n');
    for (const s of [silent, stalled]) s.on('error', () => {});
    await waitFor(() => silent.destroyed && stalled.destroyed, { timeoutMs: 10_000 });
  });

  it('validates its limits', () => {
    assert.throws(() => createHttpServer({ request: () => false, limits: { idleTimeoutMs: 0 } }), {
      code: 'KERNEL_INVALID_OPTION',
    });
  });
});

describe('guardRequest', () => {
  it('uses the part’s own reply and never lets the reply’s failure escape', async () => {
    const seen: unknown[] = [];
    const handler = guardRequest(
      (_request, _response) => {
        throw new HubbubError('X_CODE', 'x', { status: 409 });
      },
      {
        reply: (_res, err) => {
          seen.push(err);
          throw new Error('reply failed');
        },
      },
    );
    let destroyed = false;
    const response = { headersSent: false, destroyed: false, destroy: () => (destroyed = true) };
    assert.equal(handler({} as IncomingMessage, response as never), true);
    assert.equal((seen[0] as HubbubError).code, 'X_CODE');
    assert.equal(destroyed, true);
  });
});
