/**
 * The functions host's cosmosDB input, output and trigger on Hubbub's store, through the store
 * bridge, on each driver: memory://, pglite:// in a temporary directory, and the machine's
 * PostgreSQL (skipped saying why when it is down; under CI=true it fails instead).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StoreChangeOptions, StorePort } from '@hubbub/functions';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { createStore, type Store } from '@hubbub/store';
import { bridgeStore, storeConnections } from '../src/bridges/store.ts';
import { serve } from './function-apps.ts';

const POSTGRES = process.env.HUBBUB_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const postgresUp = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(POSTGRES);
  const socket = createConnection(Number(port || 5432), hostname);
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
  setTimeout(() => resolve(false), 1_000).unref();
});
if (!postgresUp && process.env.CI) {
  throw new Error(
    `PostgreSQL is not reachable at ${POSTGRES}: start it (service postgresql start; trust auth for 127.0.0.1, database "test") or set HUBBUB_TEST_POSTGRES_URL.`,
  );
}

type State = { batches: string[][]; seen: { id: string }[]; failed: string[]; legacy: string[] };

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const drivers: { name: string; url: () => string; skip: string | false }[] = [
  { name: 'memory', url: () => 'memory://', skip: false },
  {
    name: 'pglite',
    url: () => {
      const dir = mkdtempSync(join(tmpdir(), 'hubbub-store-fn-'));
      dirs.push(dir);
      return `pglite://${dir}`;
    },
    skip: false,
  },
  {
    name: 'postgres',
    url: () => `${POSTGRES}?schema=hubbub_fn_${process.pid}_${Date.now().toString(36)}`,
    skip: postgresUp ? false : `PostgreSQL is not reachable at ${POSTGRES}; start it or set HUBBUB_TEST_POSTGRES_URL`,
  },
];

/** The fixture app on a store: its connection setting holds the store's URL, as an app's would. */
async function appOn(url: string) {
  const store = createStore({ url });
  const connections = storeConnections({ url, store }, async (other) => createStore({ url: other }));
  const app = await serve({ app: 'cosmos-app', settings: { CosmosDBConnection: url }, store: connections.resolve });
  const stateOf = async () => (await (await fetch(`${app.base}/api/state`)).json()) as State;
  const post = (body: unknown) =>
    fetch(`${app.base}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return {
    store,
    app,
    stateOf,
    post,
    async [Symbol.asyncDispose]() {
      await app[Symbol.asyncDispose]();
      await connections.close();
      await dropDatabases(store);
      await store.close();
    },
  };
}

/** What a test wrote goes (on PostgreSQL its empty schema stays). */
async function dropDatabases(store: Store): Promise<void> {
  const { resources } = await store.databases.readAll();
  for (const db of resources) await store.database(db.id).delete();
}

for (const driver of drivers) {
  describe(`cosmosDB bindings on the ${driver.name} store`, { skip: driver.skip }, () => {
    it('writes through the output, reads by {id} through the input, and the trigger sees every write', async () => {
      await using t = await appOn(driver.url());
      assert.equal((await t.post({ id: 'o1', customer: 'c1', status: 'paid', total: 12 })).status, 201);
      assert.equal(
        (
          await t.post([
            { id: 'o2', customer: 'c1', status: 'new' },
            { id: 'o3', customer: 'c2', status: 'paid' },
          ])
        ).status,
        201,
      );
      const read = await fetch(`${t.app.base}/api/orders/o1`);
      assert.equal(read.status, 200);
      const order = (await read.json()) as Record<string, unknown>;
      assert.equal(order.total, 12);
      assert.equal(typeof order._etag, 'string');
      assert.equal((await fetch(`${t.app.base}/api/orders/absent`)).status, 404);
      // An item read earlier (with _etag and _ts) can be written back, as on Cosmos DB.
      assert.equal((await t.post({ ...order, total: 13 })).status, 201);
      const state = await waitFor(
        async () => {
          const s = await t.stateOf();
          const ids = new Set(s.seen.map((d) => d.id));
          return ids.size === 3 && s.seen.some((d) => (d as { total?: number }).total === 13) && s.legacy.length >= 3
            ? s
            : undefined;
        },
        { timeoutMs: 20_000, what: 'the trigger to see every write' },
      );
      assert.ok(state.batches.every((b) => b.length <= 10));
    });

    it('turns binding expressions of a sqlQuery into parameters: a quote in the value changes nothing', async () => {
      await using t = await appOn(driver.url());
      await t.post([
        { id: 'o1', customer: 'c1', status: 'paid' },
        { id: 'o2', customer: 'c1', status: 'new' },
        { id: 'o3', customer: "c1' OR c.customer != '", status: 'paid' },
      ]);
      const ids = async (customer: string, status: string) =>
        (
          (await (
            await fetch(
              `${t.app.base}/api/customers/${encodeURIComponent(customer)}/orders?status=${encodeURIComponent(status)}`,
            )
          ).json()) as { id: string }[]
        ).map((o) => o.id);
      assert.deepEqual(await ids('c1', 'paid'), ['o1']);
      assert.deepEqual(await ids('c1', `paid' OR c.status != '`), []);
      assert.deepEqual(await ids(`c1' OR c.customer != '`, 'paid'), ['o3']);
    });

    it('an array output upserts as one by one: new documents created, taken ids replaced, the last of an id wins', async () => {
      const url = driver.url();
      const store = createStore({ url });
      try {
        const port = bridgeStore(store);
        const target = { database: 'shop', container: 'batch' };
        const create = { createIfNotExists: { partitionKeyPath: '/id' } };
        await port.upsert(target, [{ id: 'a', v: 1 }], create);
        const moved = (await port.read(target, 'a', 'a'))!;
        // A document read earlier (system properties on it) among new ones and a repeated id.
        await port.upsert(
          target,
          [
            { ...moved, v: 2 },
            { id: 'b', v: 1 },
            { id: 'c', v: 1 },
            { id: 'b', v: 3 },
          ],
          create,
        );
        const all = (await port.query(
          target,
          { query: 'SELECT c.id, c.v FROM c ORDER BY c.id', parameters: [] },
          {},
        )) as {
          id: string;
          v: number;
        }[];
        assert.deepEqual(all, [
          { id: 'a', v: 2 },
          { id: 'b', v: 3 },
          { id: 'c', v: 1 },
        ]);
        // The batch's ids in one query (a batch trigger's {MessageIdArray} binds as such a list).
        const some = await port.query(
          target,
          {
            query: 'SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@ids, c.id)',
            parameters: [{ name: '@ids', value: ['c', 'x', 'a'] }],
          },
          {},
        );
        assert.deepEqual([...some].sort(), ['a', 'c']);
        // A document the store refuses throws its own error, as the upsert one by one does; the one before it is written.
        await assert.rejects(
          port.upsert(
            target,
            [
              { id: 'd', v: 1 },
              { id: 'bad/id', v: 1 },
            ],
            create,
          ),
          (err: Error & { code?: string }) => typeof err.code === 'string' && err.code.startsWith('STORE_'),
        );
        assert.equal(((await port.read(target, 'd', 'd')) as { v: number }).v, 1);
      } finally {
        await store.close();
      }
    });

    it('a trigger that throws once gets the same batch again: nothing is lost', async () => {
      await using t = await appOn(driver.url());
      const failed: string[] = [];
      t.app.host.on('invocation:failed', (err, info) => failed.push(`${info.function}:${err.code}`));
      await t.post([{ id: 'a' }, { id: 'b', failOnce: true }, { id: 'c' }]);
      const state = await waitFor(
        async () => {
          const s = await t.stateOf();
          return ['a', 'b', 'c'].every((id) => s.seen.some((d) => d.id === id)) ? s : undefined;
        },
        { timeoutMs: 20_000, what: 'every document after the retry' },
      );
      assert.deepEqual(state.failed, ['b']);
      assert.deepEqual(failed, ['onOrder:FUNCTIONS_INVOCATION_FAILED']);
      const failedBatch = state.batches.find((b) => b.includes('b'));
      assert.deepEqual(state.batches.filter((b) => b.includes('b')).length, 2, 'the failed batch came again');
      assert.ok(failedBatch !== undefined);
    });
  });
}

describe('the store bridge', () => {
  const orders = { database: 'shop', container: 'orders' };
  const subscription = (
    leasePort: StorePort,
    signal: AbortSignal,
    more: Partial<StoreChangeOptions> = {},
  ): StoreChangeOptions => ({
    processorName: 'fn',
    leases: { port: leasePort, database: 'ops', container: 'leases', createIfNotExists: true },
    startFrom: 'beginning',
    maxItems: 10,
    pollDelayMs: 50,
    signal,
    ...more,
  });

  it('starts from a time by skipping documents last written before it; keeps leases in another bridged store', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    await using store = createStore({ clock });
    await using leaseStore = createStore({ clock });
    const { database } = await store.databases.createIfNotExists({ id: 'shop' });
    const { container } = await database.containers.createIfNotExists({ id: 'orders', partitionKey: '/id' });
    await container.items.create({ id: 'old' });
    clock.advance(10_000);
    await container.items.create({ id: 'new' });
    const port = bridgeStore(store);
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const batch of port.changes(
      orders,
      subscription(bridgeStore(leaseStore), abort.signal, { startFrom: { time: clock.now() - 5_000 } }),
    )) {
      seen.push(...batch.documents.map((d) => String(d.id)));
      await batch.complete();
      if (seen.includes('new')) abort.abort();
    }
    assert.deepEqual(seen, ['new']);
    const { resources } = await leaseStore.database('ops').container('leases').items.readAll().fetchAll();
    assert.ok(resources.length > 0, 'the leases are in the lease store');
    const { resources: none } = await store.databases.readAll();
    assert.deepEqual(
      none.map((d) => d.id),
      ['shop'],
      'and not in the watched one',
    );
  });

  it('refuses a lease port that is no bridged store, and a watched container that does not exist', async () => {
    await using store = createStore({});
    const port = bridgeStore(store);
    const foreign: StorePort = { ...port };
    const iterate = async (options: StoreChangeOptions) => {
      for await (const _ of port.changes(orders, options)) break;
    };
    await assert.rejects(iterate(subscription(foreign, new AbortController().signal)), {
      code: 'STORE_INVALID_REQUEST',
    });
    await assert.rejects(iterate(subscription(port, new AbortController().signal)), { code: 'STORE_NOT_FOUND' });
  });
});
