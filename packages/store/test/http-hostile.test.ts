// Hostile input at the store's HTTP boundary: every request is refused with a coded error, nothing
// is accepted that should not be, and the server keeps serving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawExchange } from '@hubbub/kernel/testing';
import { signRequest } from '../src/http/auth.ts';
import { createStore } from '../src/index.ts';
import { READ_KEY, serve } from './http-client.ts';

describe('store HTTP API: hostile input', () => {
  const store = createStore({ maxItemBytes: 4_096 });
  let api: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    api = await serve(store, { maxRequestBytes: 16_384 });
    await api.call('POST', '/dbs', { body: { id: 'shop' } });
    await api.call('POST', '/dbs/shop/colls', { body: { id: 'orders', partitionKey: '/customerId' } });
    await api.call('POST', '/dbs/shop/colls/orders/docs', { body: { id: 'o1', customerId: 'c1' } });
  });
  after(async () => {
    await api.close();
    await store.close();
  });
  const pk = { 'x-ms-documentdb-partitionkey': '["c1"]' };

  it('refuses missing, wrong, stale and read-only signatures', async () => {
    const cases = [
      await api.call('GET', '/dbs', { key: null }),
      await api.call('GET', '/dbs', { key: Buffer.alloc(64, 7).toString('base64') }),
      await api.call('GET', '/dbs', { date: new Date(Date.now() - 3_600_000).toUTCString() }),
      await api.call('GET', '/dbs', { date: 'yesterday' }),
      await api.call('GET', '/dbs', { headers: { authorization: 'type=master&ver=1.0&sig=%ZZ' } }),
      await api.call('GET', '/dbs', {
        headers: { authorization: encodeURIComponent('type=resource&ver=1.0&sig=abc') },
      }),
    ];
    for (const r of cases) {
      assert.equal(r.status, 401);
      assert.equal(r.body.code, 'STORE_UNAUTHORIZED');
    }
    // a signature for one resource does not open another
    const date = new Date().toUTCString();
    const other = signRequest(READ_KEY, {
      verb: 'GET',
      resourceType: 'docs',
      resourceLink: 'dbs/shop/colls/other/docs/o1',
      date,
    });
    const r = await api.call('GET', '/dbs/shop/colls/orders/docs/o1', {
      headers: { ...pk, authorization: other },
      date,
      key: null,
    });
    assert.equal(r.status, 401);
    assert.equal((await api.call('GET', '/dbs/shop/colls/orders/docs/o1', { headers: pk, key: READ_KEY })).status, 200);
    const write = await api.call('DELETE', '/dbs/shop/colls/orders/docs/o1', { headers: pk, key: READ_KEY });
    assert.equal(write.status, 403);
    assert.equal(write.body.code, 'STORE_FORBIDDEN');
  });

  it('refuses bad items, partition keys, reserved properties, oversized bodies and unknown routes', async () => {
    const post = (init: Parameters<typeof api.call>[2]) => api.call('POST', '/dbs/shop/colls/orders/docs', init);
    const expect = async (r: Promise<{ status: number; body: { code: string } }>, status: number, code: string) => {
      const { status: s, body } = await r;
      assert.equal(s, status, JSON.stringify(body));
      assert.equal(body.code, code);
    };
    await expect(
      post({ raw: '{"id": "x", ', headers: { 'content-type': 'application/json' } }),
      400,
      'STORE_INVALID_ITEM',
    );
    await expect(post({ body: [1, 2] }), 400, 'STORE_INVALID_ITEM');
    await expect(post({ body: { id: 'x', customerId: 'c1', _etag: 'forged' } }), 400, 'STORE_RESERVED_PROPERTY');
    const proto = await post({ raw: '{"id": "p", "customerId": "c1", "__proto__": {"admin": true}}', headers: pk });
    assert.equal(proto.status, 201);
    const back = await api.call('GET', '/dbs/shop/colls/orders/docs/p', { headers: pk });
    assert.deepEqual(Object.getOwnPropertyDescriptor(back.body, '__proto__')?.value, { admin: true });
    assert.equal(({} as { admin?: boolean }).admin, undefined);
    await expect(post({ body: { id: 'y', customerId: 'c2' }, headers: pk }), 400, 'STORE_PARTITION_KEY_MISMATCH');
    await expect(
      post({ body: { id: 'y', customerId: 'c1' }, headers: { 'x-ms-documentdb-partitionkey': 'c1' } }),
      400,
      'STORE_INVALID_REQUEST',
    );
    await expect(post({ body: { id: 'y', customerId: 'c1', pad: 'x'.repeat(5_000) } }), 413, 'STORE_TOO_LARGE');
    await expect(post({ body: { id: 'y', customerId: 'c1', pad: 'x'.repeat(20_000) } }), 413, 'KERNEL_BODY_TOO_LARGE');
    await expect(api.call('GET', '/dbs/shop/colls/orders/docs/o1'), 400, 'STORE_INVALID_REQUEST');
    await expect(
      api.call('PATCH', '/dbs/shop/colls/orders/docs/o1', { body: null, headers: pk }),
      400,
      'STORE_INVALID_PATCH',
    );
    await expect(api.call('POST', '/dbs/shop/colls', { body: null }), 400, 'STORE_INVALID_REQUEST');
    await expect(
      post({ body: [null, { operationType: 'Create' }], headers: { ...pk, 'x-ms-cosmos-is-batch-request': 'true' } }),
      400,
      'STORE_INVALID_BATCH',
    );
    await expect(post({ body: 'SELECT', headers: { 'x-ms-documentdb-isquery': 'true' } }), 400, 'STORE_INVALID_QUERY');
    await expect(
      post({
        body: { query: 'SELECT * FROM c' },
        headers: { 'x-ms-documentdb-isquery': 'true', 'x-ms-continuation': 'garbage' },
      }),
      400,
      'STORE_INVALID_CONTINUATION',
    );
    await expect(
      api.call('GET', '/dbs/shop/colls/orders/docs', {
        headers: { 'a-im': 'Incremental feed', 'if-none-match': 'nope' },
      }),
      400,
      'STORE_INVALID_CONTINUATION',
    );
    await expect(
      api.call('GET', '/dbs/shop/colls/orders/docs', { headers: { 'x-ms-max-item-count': 'lots' } }),
      400,
      'STORE_INVALID_REQUEST',
    );
    const put = await api.call('PUT', '/dbs/shop');
    assert.equal(put.status, 405);
    assert.equal(put.body.code, 'STORE_METHOD_NOT_ALLOWED');
    assert.equal(put.headers.get('allow'), 'GET, DELETE');
    await expect(api.call('GET', '/dbs/shop/tables/x'), 404, 'KERNEL_NOT_FOUND');
    await expect(api.call('GET', '/dbs/%ZZ'), 400, 'KERNEL_BAD_URL');
    await expect(
      api.call('GET', '/dbs/shop/colls/orders/docs?maxItemCount=1&maxItemCount=2'),
      400,
      'KERNEL_REPEATED_PARAMETER',
    );
  });

  it('answers raw malformed requests and keeps serving; nothing unexpected reached the error hook', async () => {
    const port = Number(new URL(api.base).port);
    const answers = await Promise.all([
      rawExchange(port, 'GET /store/dbs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      rawExchange(
        port,
        'POST /store/dbs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n{',
      ),
      rawExchange(port, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    ]);
    assert.match(answers[0]!, /^HTTP\/1\.1 401/);
    assert.match(answers[1]!, /^HTTP\/1\.1 401/);
    assert.match(answers[2]!, /^HTTP\/1\.1 404/);
    assert.equal((await api.call('GET', '/dbs/shop/colls/orders/docs/o1', { headers: pk })).status, 200);
    assert.deepEqual(api.errors, []);
  });
});
