/**
 * The Cosmos DB extension on its port, with a small in-memory store: what it asks the port for,
 * that binding expressions in a sqlQuery become parameters, when the trigger checkpoints, and the
 * events it emits for every failure. The same app on Hubbub's real store (memory, PGlite,
 * PostgreSQL), through the bridge, is tested in packages/system/test/functions-store.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { createFunctionsHost, isFunctionsError } from '../src/index.ts';
import { MemoryStore } from './memory-store.ts';
import { fixture, serve } from './support.ts';

const orders = { database: 'shop', container: 'orders' };
const leases = { database: 'shop', container: 'leases' };

type State = { batches: string[][]; seen: { id: string }[]; failed: string[]; legacy: string[] };
const stateOf = async (base: string) => (await (await fetch(`${base}/api/state`)).json()) as State;
const post = (base: string, body: unknown) =>
  fetch(`${base}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

function seeded(): MemoryStore {
  const store = new MemoryStore();
  store.create(orders, '/id');
  return store;
}

describe('cosmosDB input', () => {
  it('reads one document by id and partition key from the route; a missing one binds null', async () => {
    const store = seeded();
    await store.upsert(orders, [{ id: 'o1', customer: 'c1', total: 12 }], {});
    await using app = await serve({ app: 'cosmos-app', store });
    const found = await fetch(`${app.base}/api/orders/o1`);
    assert.equal(found.status, 200);
    assert.deepEqual(
      { ...((await found.json()) as object), _etag: undefined, _ts: undefined },
      { id: 'o1', customer: 'c1', total: 12, _etag: undefined, _ts: undefined },
    );
    const missing = await fetch(`${app.base}/api/orders/nope`);
    assert.equal(missing.status, 404);
    assert.ok(['null', 'undefined'].includes(((await missing.json()) as { bound: string }).bound));
  });

  it('turns each {expression} of a sqlQuery into a parameter: a quote in a value cannot change the query', async () => {
    const store = seeded();
    await store.upsert(
      orders,
      [
        { id: 'o1', customer: 'c1', status: 'paid' },
        { id: 'o2', customer: 'c1', status: 'new' },
        { id: 'o3', customer: 'c2', status: 'paid' },
      ],
      {},
    );
    await using app = await serve({ app: 'cosmos-app', store });
    const paid = (await (await fetch(`${app.base}/api/customers/c1/orders?status=paid`)).json()) as { id: string }[];
    assert.deepEqual(
      paid.map((o) => o.id),
      ['o1'],
    );
    const hostile = `paid' OR c.status != '`;
    const res = await fetch(`${app.base}/api/customers/c1/orders?status=${encodeURIComponent(hostile)}`);
    assert.deepEqual(await res.json(), []);
    const sent = store.queries.map((q) => q.query);
    const expected = 'SELECT * FROM c WHERE c.customer = @customer AND c.status = @Query_status';
    assert.deepEqual(
      sent.map((q) => q.query),
      [expected, expected],
    );
    assert.deepEqual(sent[1]?.parameters, [
      { name: '@customer', value: 'c1' },
      { name: '@Query_status', value: hostile },
    ]);
  });

  it('accepts the v3 names; without id or sqlQuery it reads the whole container', async () => {
    const store = seeded();
    await store.upsert(orders, [{ id: 'a' }, { id: 'b' }], {});
    await using app = await serve({ app: 'cosmos-app', store });
    const all = (await (await fetch(`${app.base}/api/all-orders`)).json()) as { id: string }[];
    assert.deepEqual(all.map((o) => o.id).sort(), ['a', 'b']);
    assert.equal(store.queries.at(-1)?.query.query, 'SELECT * FROM c');
  });
});

describe('cosmosDB output', () => {
  it('upserts one document or an array, creating the container with its partition key path; an id is generated when missing', async () => {
    const store = new MemoryStore();
    await using app = await serve({ app: 'cosmos-app', store });
    assert.equal((await post(app.base, { id: 'o1', total: 1 })).status, 201);
    assert.equal((await post(app.base, [{ id: 'o2' }, { id: 'o1', total: 2 }, { note: 'no id' }])).status, 201);
    assert.equal(store.containers.get('shop/orders')?.partitionKeyPath, '/id');
    const docs = store.docs(orders);
    assert.equal(docs.length, 3);
    assert.equal(docs.find((d) => d.id === 'o1')?.total, 2);
    assert.match(String(docs.find((d) => d.note === 'no id')?.id), /^[0-9a-f-]{36}$/);
  });

  it('fails the invocation with FUNCTIONS_OUTPUT_FAILED when a value is not a document or the store fails', async () => {
    const store = seeded();
    await using app = await serve({ app: 'cosmos-app', store });
    const failed: string[] = [];
    app.host.on('invocation:failed', (err) => failed.push(`${err.code}:${(err.cause as { code?: string }).code}`));
    const notDoc = await post(app.base, [{ id: 'ok' }, 42]);
    assert.equal(notDoc.status, 500);
    assert.equal(((await notDoc.json()) as { code: string }).code, 'FUNCTIONS_OUTPUT_FAILED');
    store.failUpserts = 1;
    assert.equal((await post(app.base, { id: 'x' })).status, 500);
    assert.deepEqual(store.docs(orders), [], 'nothing of a failed output is written');
    assert.deepEqual(failed, [
      'FUNCTIONS_OUTPUT_FAILED:FUNCTIONS_INVALID_BINDING',
      'FUNCTIONS_OUTPUT_FAILED:STORE_UNAVAILABLE',
    ]);
  });
});

describe('cosmosDBTrigger', () => {
  it('subscribes with the binding options (v4 and v3 names) and invokes with arrays of changed documents', async () => {
    const store = seeded();
    await using app = await serve({ app: 'cosmos-app', store });
    await post(
      app.base,
      Array.from({ length: 25 }, (_, i) => ({ id: `o${i}` })),
    );
    const state = await waitFor(async () => {
      const s = await stateOf(app.base);
      return s.seen.length === 25 && s.legacy.length === 25 ? s : undefined;
    });
    assert.ok(
      state.batches.every((b) => b.length <= 10),
      'maxItemsPerInvocation bounds a batch',
    );
    assert.deepEqual(
      state.seen.map((d) => d.id),
      Array.from({ length: 25 }, (_, i) => `o${i}`),
    );
    const [v4, v3] = store.subscriptions;
    assert.deepEqual(v4?.target, orders);
    const { signal: _s, leases: l4, onLeaseError: _e, ...rest } = v4!.options;
    assert.deepEqual(rest, {
      processorName: 'onOrder',
      startFrom: 'beginning',
      maxItems: 10,
      pollDelayMs: 200,
      leaseExpirationMs: undefined,
      leaseRenewIntervalMs: undefined,
      leaseAcquireIntervalMs: undefined,
    });
    assert.deepEqual({ ...l4, port: l4.port === store }, { ...leases, createIfNotExists: true, port: true });
    assert.equal(v3?.options.processorName, 'v3-legacyFeed');
    assert.equal(v3?.options.maxItems, 100);
    assert.equal(v3?.options.leases.createIfNotExists, true);
    // Checkpoints are in the leases: after the last batch, each processor's continuation is at the end.
    await waitFor(() => store.docs(leases).every((l) => l.continuation === 25) && store.docs(leases).length === 2);
  });

  it('runs a failed batch again, after invocation:failed, and checkpoints only once it succeeded', async () => {
    const store = seeded();
    await using app = await serve({ app: 'cosmos-app', store });
    const failed: { code: string; trigger: string }[] = [];
    app.host.on('invocation:failed', (err, info) =>
      failed.push({ code: err.code, trigger: `${info.function}:${info.trigger}` }),
    );
    await post(app.base, [{ id: 'a' }, { id: 'b', failOnce: true }, { id: 'c' }]);
    const state = await waitFor(async () => {
      const s = await stateOf(app.base);
      return s.seen.length === 3 ? s : undefined;
    });
    assert.deepEqual(state.failed, ['b']);
    assert.deepEqual(state.batches, [
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
    assert.deepEqual(failed, [{ code: 'FUNCTIONS_INVOCATION_FAILED', trigger: 'onOrder:cosmosDBTrigger' }]);
    assert.equal(store.docs(leases).find((l) => l.id === 'onOrder')?.continuation, 3);
  });

  it('emits feed:failed when a checkpoint or a lease operation fails; the batch comes again', async () => {
    const store = seeded();
    store.failCheckpoints = 1;
    await using app = await serve({
      app: 'cosmos-app',
      store,
      settings: { 'AzureWebJobs.legacyFeed.Disabled': 'true' },
    });
    const feed: string[] = [];
    app.host.on('feed:failed', (err, info) =>
      feed.push(`${info.function} ${info.source} ${info.operation} ${(err as { code?: string }).code}`),
    );
    await post(app.base, { id: 'x' });
    const state = await waitFor(async () => {
      const s = await stateOf(app.base);
      return s.batches.length === 2 ? s : undefined;
    });
    assert.deepEqual(state.batches, [['x'], ['x']], 'at least once: the batch whose checkpoint failed comes again');
    assert.deepEqual(feed.sort(), [
      'onOrder shop/orders checkpoint STORE_LEASE_LOST',
      'onOrder shop/orders lease STORE_UNAVAILABLE',
    ]);
    await waitFor(() => store.docs(leases).find((l) => l.id === 'onOrder')?.continuation === 1);
  });

  it('subscribes again after receive:failed when its container does not exist yet', async () => {
    const store = new MemoryStore();
    await using app = await serve({ app: 'cosmos-app', store });
    const failures: { code: unknown; source: string }[] = [];
    app.host.on('receive:failed', (err, info) =>
      failures.push({ code: (err as { code?: unknown }).code, source: info.source }),
    );
    await waitFor(() => failures.length >= 2);
    assert.deepEqual(failures[0], { code: 'STORE_NOT_FOUND', source: 'shop/orders' });
    await post(app.base, { id: 'late' });
    const state = await waitFor(
      async () => {
        const s = await stateOf(app.base);
        return s.seen.length === 1 ? s : undefined;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal(state.seen[0]?.id, 'late');
  });

  it('stops on close: the subscriptions end and no invocation starts after', async () => {
    const store = seeded();
    const app = await serve({ app: 'cosmos-app', store });
    await waitFor(() => store.subscriptions.length === 2);
    await app[Symbol.asyncDispose]();
    assert.ok(store.subscriptions.every((s) => s.options.signal.aborted));
  });

  it('fails the start with FUNCTIONS_BINDING_UNAVAILABLE when the host has no store', async () => {
    const host = createFunctionsHost({ appDir: fixture('cosmos-app') });
    await assert.rejects(host.start(), (err) => {
      assert.ok(isFunctionsError(err, 'FUNCTIONS_BINDING_UNAVAILABLE'));
      assert.deepEqual(err.detail, {
        function: 'onOrder',
        binding: err.detail?.binding,
        setting: 'CosmosDBConnection',
      });
      return true;
    });
  });

  it('without a store, an input or output answers FUNCTIONS_BINDING_UNAVAILABLE per invocation', async () => {
    await using app = await serve({
      app: 'cosmos-app',
      settings: { 'AzureWebJobs.onOrder.Disabled': 'true', 'AzureWebJobs.legacyFeed.Disabled': 'true' },
    });
    const causes: unknown[] = [];
    app.host.on('invocation:failed', (err) =>
      causes.push(err.code === 'FUNCTIONS_OUTPUT_FAILED' ? (err.cause as { code?: unknown }).code : err.code),
    );
    const codeOf = async (res: Response) => {
      assert.equal(res.status, 500);
      return ((await res.json()) as { code: string }).code;
    };
    assert.equal(await codeOf(await fetch(`${app.base}/api/orders/o1`)), 'FUNCTIONS_BINDING_UNAVAILABLE');
    assert.equal(await codeOf(await post(app.base, { id: 'o1' })), 'FUNCTIONS_OUTPUT_FAILED');
    assert.deepEqual(causes, ['FUNCTIONS_BINDING_UNAVAILABLE', 'FUNCTIONS_BINDING_UNAVAILABLE']);
  });

  it('resolves a store per connection setting, once, with its value', async () => {
    const store = seeded();
    const asked: string[] = [];
    await using _app = await serve({
      app: 'cosmos-app',
      store: ({ name, value }) => {
        asked.push(`${name}=${value}`);
        return store;
      },
    });
    assert.deepEqual(asked, ['CosmosDBConnection=memory://']);
  });
});
