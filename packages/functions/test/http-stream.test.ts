/**
 * HTTP streaming (`app.setup({ enableHttpStream: true })`): request and response bodies flow as
 * streams through the library's own proxy, as under the Azure Functions host. The library's switch
 * is process-wide, so this file runs streaming apps only (and shows a later app streams too).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { ProgrammingModel } from '../src/core-types.ts';
import { libraryProxy } from '../src/extensions/http/stream.ts';
import { serve } from './support.ts';

/** Reads the next chunk of a response as text. */
async function nextChunk(res: import('node:http').IncomingMessage): Promise<string> {
  const [chunk] = (await once(res, 'data')) as [Buffer];
  return chunk.toString('utf8');
}

describe('HTTP streaming', () => {
  it('streams a response: the first line arrives before the function has finished', async () => {
    await using app = await serve({ app: 'http-stream' });
    const req = request(`${app.base}/api/ticker`);
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.equal(await nextChunk(res), 'first\n');
    assert.equal((await fetch(`${app.base}/api/release`, { method: 'POST' })).status, 200);
    let rest = '';
    for await (const chunk of res) rest += chunk;
    assert.equal(rest, 'last\n');
  });

  it('streams a request body into the response as it arrives', async () => {
    await using app = await serve({ app: 'http-stream' });
    const req = request(`${app.base}/api/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
    });
    req.write('ping-1;');
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    assert.equal(res.statusCode, 200);
    assert.equal(await nextChunk(res), 'ping-1;');
    req.write('ping-2;');
    assert.equal(await nextChunk(res), 'ping-2;');
    req.end();
    await once(res, 'end');
  });

  it('reads uploads, route parameters and the query; an empty function answers 200', async () => {
    await using app = await serve({ app: 'http-stream' });
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await fetch(`${app.base}/api/upload`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-test' },
    });
    assert.deepEqual(await res.json(), { bytes: body.length, type: 'application/x-test', item: null });
    const item = await fetch(`${app.base}/api/items/42?q=blue`);
    assert.deepEqual(await item.json(), { id: '42', q: 'blue' });
    const empty = await fetch(`${app.base}/api/release`, { method: 'POST' });
    assert.equal(empty.status, 200);
    assert.equal(await empty.text(), '');
  });

  it('answers 500 for a function that throws and 413 past the body limit, and keeps serving', async () => {
    await using app = await serve({ app: 'http-stream', maxRequestBodyBytes: 1024 });
    const failures: string[] = [];
    app.host.on('invocation:failed', (err) => failures.push(err.code));
    const res = await fetch(`${app.base}/api/fails`);
    assert.equal(res.status, 500);
    assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_INVOCATION_FAILED');
    assert.deepEqual(failures, ['FUNCTIONS_INVOCATION_FAILED']);
    const big = await fetch(`${app.base}/api/upload`, { method: 'POST', body: Buffer.alloc(4096, 1) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { code: string }).code, 'FUNCTIONS_PAYLOAD_TOO_LARGE');
    // Past the limit after the function began reading: still 413.
    const late = request(`${app.base}/api/upload`, { method: 'POST' });
    late.write(Buffer.alloc(512, 1));
    const answered = once(late, 'response');
    late.write(Buffer.alloc(1024, 1));
    late.end();
    const [lateRes] = (await answered) as [import('node:http').IncomingMessage];
    assert.equal(lateRes.statusCode, 413);
    lateRes.resume();
    const ok = await fetch(`${app.base}/api/upload`, { method: 'POST', body: 'small' });
    assert.equal(((await ok.json()) as { bytes: number }).bytes, 5);
  });

  it('serves an app loaded after a streaming one (the library streams for the whole process)', async () => {
    await using first = await serve({ app: 'http-stream' });
    await using later = await serve({ app: 'esm-app' });
    const res = await fetch(`${later.base}/api/extra`, { signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(await res.json(), { esm: true });
    assert.equal((await fetch(`${first.base}/api/items/1`)).status, 200);
  });

  it("cuts off requests to the library's proxy that this host did not forward", async () => {
    await using app = await serve({ app: 'http-stream' });
    // The library's programming model, as the host got it through @azure/functions-core.
    const core = createRequire(import.meta.url)('@azure/functions-core') as { getProgrammingModel(): ProgrammingModel };
    const proxy = await libraryProxy(core.getProgrammingModel());
    for (const headers of [{ 'x-ms-invocation-id': 'made-up' }, {}]) {
      const req = request({ host: '127.0.0.1', port: proxy.port, path: '/api/ticker', headers });
      req.end();
      const [err] = (await once(req, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNRESET');
    }
    assert.equal((await fetch(`${app.base}/api/items/7`)).status, 200);
  });
});
