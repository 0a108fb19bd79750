// The change feed on real PostgreSQL never skips a change whose transaction commits late, and keeps
// one partition's changes in commit order. Transactions are held open on their own connections,
// the driver's own write statements run inside them, and they commit out of order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import pg from 'pg';
import type { ContainerDefinition } from '../src/driver.ts';
import { PostgresDriver } from '../src/drivers/postgres/driver.ts';
import { SqlDriver } from '../src/drivers/sql/driver.ts';
import type { SqlExecutor, SqlQuery } from '../src/drivers/sql/executor.ts';
import { type Container, createStore, type Store } from '../src/index.ts';
import { feedRange } from '../src/item.ts';
import { testDatabase } from './postgres.ts';

const db = await testDatabase();

describe('change feed on PostgreSQL: transactions that commit late', { skip: db.unavailable }, () => {
  const schema = db.schema();
  const clients: pg.Client[] = [];
  let store: Store;
  let events: Container;
  let def: ContainerDefinition;

  /** A driver whose statements all run on one connection, inside the transaction it has open. */
  async function transaction(): Promise<{ driver: SqlDriver; client: pg.Client }> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    clients.push(client);
    const query: SqlQuery = async (text, values = []) => {
      const r = await client.query({ text, values: [...values] });
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    };
    const executor: SqlExecutor = { query, transaction: (work) => work(query), close: async () => {} };
    const driver = new SqlDriver({ kind: 'postgres', schema, connect: async () => executor });
    await driver.open();
    await client.query('BEGIN');
    return { driver, client };
  }

  const create = (driver: SqlDriver, id: string, k: string): Promise<unknown> => {
    const key = JSON.stringify(k);
    const json = JSON.stringify({ id, k, _etag: `"${id}"`, _ts: 1 });
    return driver.write(
      def,
      { key, range: feedRange(key, def.feedRanges) },
      [{ op: 'create', id, item: { json, etag: `"${id}"`, expiresAt: null } }],
      { now: Date.now(), maxItemBytes: 1_000_000 },
    );
  };

  const ids = async (feed: ReturnType<Container['changeFeed']>): Promise<string[]> =>
    (await feed.readNext()).items.map((i) => i.id as string);

  before(async () => {
    const driver = new PostgresDriver({ connectionString: db.url, schema });
    store = createStore({ driver });
    const database = (await store.databases.create({ id: 'shop' })).database;
    events = (await database.containers.create({ id: 'events', partitionKey: '/k' })).container;
    def = (await driver.catalog({ op: 'listContainers', database: 'shop' }))[0]!;
  });

  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await store?.close();
  });

  it('a transaction that wrote first and commits last is not skipped', async () => {
    const feed = events.changeFeed({ startFrom: 'now' });
    assert.deepEqual(await ids(feed), []);
    const first = await transaction();
    const second = await transaction();
    await create(first.driver, 'early', 'p1'); // the lower sequence number and txid
    await create(second.driver, 'late', 'p2');
    await second.client.query('COMMIT');
    // A reader that followed sequence numbers alone would now see 'late' and move past 'early':
    const naive = await db.admin.query(`SELECT id FROM ${first.driver.names.items(def.handle)} ORDER BY seq`);
    assert.deepEqual(
      naive.rows.map((r) => r.id),
      ['late'],
    );
    assert.deepEqual(await ids(feed), [], "the horizon holds 'late' back while 'early' may still commit");
    await first.client.query('COMMIT');
    assert.deepEqual(await ids(feed), ['early', 'late']);
    assert.deepEqual(await ids(feed), []);
  });

  it('a rolled-back transaction holds the feed back until it ends, and leaves nothing', async () => {
    const feed = events.changeFeed({ startFrom: 'now' });
    await feed.readNext();
    const open = await transaction();
    await create(open.driver, 'doomed', 'p3');
    await events.items.create({ id: 'after', k: 'p4' });
    assert.deepEqual(await ids(feed), []);
    await open.client.query('ROLLBACK');
    assert.deepEqual(await ids(feed), ['after']);
  });

  it("one partition's changes come in commit order: its writers wait for each other", async () => {
    const feed = events.changeFeed({ startFrom: 'now', partitionKey: 'same' });
    await feed.readNext();
    const first = await transaction();
    const second = await transaction();
    await create(first.driver, 'one', 'same');
    let secondWrote = false;
    const blocked = create(second.driver, 'two', 'same').then(() => {
      secondWrote = true;
    });
    const pid = (second.client as unknown as { processID: number }).processID;
    await waitFor(
      async () =>
        (await db.admin.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1", [pid]))
          .rowCount,
      { what: 'the second writer to wait for the partition lock' },
    );
    assert.equal(secondWrote, false);
    await first.client.query('COMMIT');
    await blocked;
    await second.client.query('COMMIT');
    assert.deepEqual(await ids(feed), ['one', 'two']);
  });
});
