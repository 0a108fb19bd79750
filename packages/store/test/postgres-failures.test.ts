// PostgreSQL going away under the store: a backend terminated while its query waits, idle
// connections terminated, a server that refuses connections. Coded errors, nothing acknowledged is
// lost, and the store (and the process) carry on.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { PostgresDriver } from '../src/drivers/postgres/driver.ts';
import { createStore, type StoreError } from '../src/index.ts';
import { testDatabase } from './postgres.ts';

const db = await testDatabase();

describe('PostgreSQL going away', { skip: db.unavailable }, () => {
  const stores: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const s of stores) await s.close();
  });

  async function open(applicationName: string) {
    const schema = db.schema();
    const idleErrors: Error[] = [];
    const driver = new PostgresDriver({
      connectionString: db.url,
      schema,
      applicationName,
      maxConnections: 3,
      onError: (e) => idleErrors.push(e),
    });
    const store = createStore({ driver });
    stores.push(store);
    const { database } = await store.databases.create({ id: 'shop' });
    const { container } = await database.containers.create({ id: 'orders', partitionKey: '/customerId' });
    const [def] = await driver.catalog({ op: 'listContainers', database: 'shop' });
    return { store, orders: container, table: driver.names.items(def!.handle), idleErrors };
  }

  const settled = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      () => new Error('should have failed'),
      (e: unknown) => e,
    );

  const terminate = (app: string) =>
    db.admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);

  it('a backend terminated mid-operation fails it with STORE_UNAVAILABLE; accepted items stay, the store recovers', async () => {
    const app = `hubbub-store-test-${process.pid}-a`;
    const { orders, table } = await open(app);
    await orders.items.create({ id: 'kept', customerId: 'c1', n: 1 });
    const blocker = await db.admin.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const query = settled(orders.items.query('SELECT * FROM c').fetchAll());
      const write = settled(orders.items.create({ id: 'lost', customerId: 'c1' }));
      // Kill whatever of ours waits for the lock until both have given up: the write at the first
      // kill (its outcome is unknown, so it is not retried), the read after its retries.
      await waitFor(
        async () => {
          await db.admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [app],
          );
          return (
            (await Promise.race([Promise.all([query, write]), new Promise((r) => setImmediate(r, false))])) !== false
          );
        },
        { what: 'the query and the write to fail', intervalMs: 20 },
      );
      for (const outcome of [await query, await write]) {
        assert.equal((outcome as StoreError).code, 'STORE_UNAVAILABLE');
        assert.equal((outcome as StoreError).status, 503);
      }
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    assert.equal((await orders.item('kept', 'c1').read()).resource?.n, 1, 'an acknowledged write survives');
    assert.equal((await orders.item('lost', 'c1').read()).statusCode, 404, 'the unacknowledged write did not happen');
    await orders.items.create({ id: 'after', customerId: 'c1' });
    assert.equal((await orders.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll()).resources[0], 2);
  });

  it('idle connections terminated are reported, dropped and replaced', async () => {
    const app = `hubbub-store-test-${process.pid}-b`;
    const { orders, idleErrors } = await open(app);
    await orders.items.create({ id: 'o1', customerId: 'c1' });
    await terminate(app);
    await waitFor(() => idleErrors.length > 0, { what: 'the pool to notice' });
    assert.equal((await orders.item('o1', 'c1').read()).statusCode, 200);
  });

  it('a server that refuses connections fails start() with STORE_UNAVAILABLE; start() may be tried again', async () => {
    const store = createStore({ url: 'postgres://postgres@127.0.0.1:1/test?schema=hubbub_store_unreachable' });
    await assert.rejects(store.start(), { code: 'STORE_UNAVAILABLE', status: 503 });
    await assert.rejects(store.databases.readAll(), { code: 'STORE_UNAVAILABLE' });
    await store.close();
  });
});
