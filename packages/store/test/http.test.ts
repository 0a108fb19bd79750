// The store's HTTP API in the shape of the Cosmos DB REST API: databases, containers, items,
// queries with continuation headers, batches, patch, and the change feed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createStore } from '../src/index.ts';
import { serve } from './http-client.ts';

describe('store HTTP API', () => {
  const store = createStore();
  let api: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    api = await serve(store);
  });
  after(async () => {
    await api.close();
    await store.close();
  });
  const pk = (v: unknown) => ({ 'x-ms-documentdb-partitionkey': JSON.stringify([v]) });

  it('creates, lists, reads and deletes databases and containers', async () => {
    assert.equal((await api.call('POST', '/dbs', { body: { id: 'shop' } })).status, 201);
    assert.deepEqual(
      (await api.call('GET', '/dbs')).body.Databases.map((d: { id: string }) => d.id),
      ['shop'],
    );
    const coll = await api.call('POST', '/dbs/shop/colls', {
      body: { id: 'orders', partitionKey: { paths: ['/customerId'], kind: 'Hash' } },
    });
    assert.equal(coll.status, 201);
    assert.deepEqual(coll.body.partitionKey.paths, ['/customerId']);
    assert.equal((await api.call('GET', '/dbs/shop/colls/orders')).body.id, 'orders');
    assert.equal((await api.call('GET', '/dbs/shop/colls')).body._count, 1);
    assert.equal((await api.call('POST', '/dbs/shop/colls', { body: { id: 'tmp', partitionKey: '/x' } })).status, 201);
    assert.equal((await api.call('DELETE', '/dbs/shop/colls/tmp')).status, 204);
    const gone = await api.call('GET', '/dbs/shop/colls/tmp');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'STORE_NOT_FOUND');
  });

  it('creates, upserts, reads, replaces, patches and deletes items with etags', async () => {
    const created = await api.call('POST', '/dbs/shop/colls/orders/docs', {
      body: { id: 'o 1', customerId: 'c1', n: 1 },
      headers: pk('c1'),
    });
    assert.equal(created.status, 201);
    const etag = created.headers.get('etag')!;
    assert.equal(created.body._etag, etag);
    const read = await api.call('GET', '/dbs/shop/colls/orders/docs/o%201', { headers: pk('c1') });
    assert.equal(read.status, 200);
    assert.equal(read.body.n, 1);
    const replaced = await api.call('PUT', '/dbs/shop/colls/orders/docs/o%201', {
      body: { id: 'o 1', customerId: 'c1', n: 2 },
      headers: { ...pk('c1'), 'if-match': etag },
    });
    assert.equal(replaced.status, 200);
    const stale = await api.call('PUT', '/dbs/shop/colls/orders/docs/o%201', {
      body: { id: 'o 1', customerId: 'c1', n: 3 },
      headers: { ...pk('c1'), 'if-match': etag },
    });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.code, 'STORE_PRECONDITION_FAILED');
    const patched = await api.call('PATCH', '/dbs/shop/colls/orders/docs/o%201', {
      body: { operations: [{ op: 'incr', path: '/n', value: 10 }] },
      headers: pk('c1'),
    });
    assert.equal(patched.body.n, 12);
    const upserted = await api.call('POST', '/dbs/shop/colls/orders/docs', {
      body: { id: 'o2', customerId: 'c2' },
      headers: { 'x-ms-documentdb-is-upsert': 'true' },
    });
    assert.equal(upserted.status, 201);
    const conflict = await api.call('POST', '/dbs/shop/colls/orders/docs', { body: { id: 'o2', customerId: 'c2' } });
    assert.equal(conflict.status, 409);
    assert.equal((await api.call('DELETE', '/dbs/shop/colls/orders/docs/o2', { headers: pk('c2') })).status, 204);
    const missing = await api.call('GET', '/dbs/shop/colls/orders/docs/o2', { headers: pk('c2') });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'STORE_NOT_FOUND');
  });

  it('queries with parameters, pages with x-ms-continuation, runs batches', async () => {
    const batch = await api.call('POST', '/dbs/shop/colls/orders/docs', {
      body: Array.from({ length: 5 }, (_, i) => ({
        operationType: 'Create',
        resourceBody: { id: `b${i}`, customerId: 'c9', i },
      })),
      headers: { ...pk('c9'), 'x-ms-cosmos-is-batch-request': 'true' },
    });
    assert.equal(batch.status, 200);
    assert.deepEqual(
      batch.body.map((r: { statusCode: number }) => r.statusCode),
      [201, 201, 201, 201, 201],
    );
    const seen: number[] = [];
    let token: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof api.call>> = await api.call('POST', '/dbs/shop/colls/orders/docs', {
        body: {
          query: 'SELECT VALUE c.i FROM c WHERE c.i >= @min ORDER BY c.i DESC',
          parameters: [{ name: '@min', value: 1 }],
        },
        headers: {
          'content-type': 'application/query+json',
          'x-ms-documentdb-isquery': 'true',
          'x-ms-max-item-count': '2',
          ...pk('c9'),
          ...(token === null ? {} : { 'x-ms-continuation': token }),
        },
      });
      assert.equal(page.status, 200);
      seen.push(...page.body.Documents);
      token = page.headers.get('x-ms-continuation');
    } while (token !== null);
    assert.deepEqual(seen, [4, 3, 2, 1]);
    const bad = await api.call('POST', '/dbs/shop/colls/orders/docs', {
      body: { query: 'SELECT * FROM c WHERE' },
      headers: { 'x-ms-documentdb-isquery': 'true' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'STORE_INVALID_QUERY');
    assert.equal(bad.body.detail.position, 22);
    const all = await api.call('GET', '/dbs/shop/colls/orders/docs?maxItemCount=100', { headers: pk('c9') });
    assert.equal(all.body._count, 5);
  });

  it('reads the change feed with A-IM and If-None-Match, 304 when nothing changed', async () => {
    const feed = { 'a-im': 'Incremental feed', ...pk('c9') };
    const first = await api.call('GET', '/dbs/shop/colls/orders/docs', { headers: feed });
    assert.equal(first.status, 200);
    assert.equal(first.body._count, 5);
    const etag = first.headers.get('etag')!;
    const none = await api.call('GET', '/dbs/shop/colls/orders/docs', { headers: { ...feed, 'if-none-match': etag } });
    assert.equal(none.status, 304);
    await api.call('PATCH', '/dbs/shop/colls/orders/docs/b2', {
      body: [{ op: 'set', path: '/x', value: 1 }],
      headers: pk('c9'),
    });
    const next = await api.call('GET', '/dbs/shop/colls/orders/docs', { headers: { ...feed, 'if-none-match': etag } });
    assert.deepEqual(
      next.body.Documents.map((d: { id: string }) => d.id),
      ['b2'],
    );
    const fromNow = await api.call('GET', '/dbs/shop/colls/orders/docs', {
      headers: { ...feed, 'if-none-match': '*' },
    });
    assert.equal(fromNow.status, 304);
  });
});
