// PGlite in its worker thread (the default of pglite://): the conformance suite through one
// thread, errors that keep their SQLSTATE across the boundary, interactive transactions, a thread
// that dies failing statements with STORE_UNAVAILABLE instead of hanging, and an idle thread that
// keeps no process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { describeDocumentDriver } from '../src/driver-kit.ts';
import { PgliteDriver } from '../src/drivers/pglite/driver.ts';
import { openPgliteThread } from '../src/drivers/pglite/worker.ts';
import { SqlDriver } from '../src/drivers/sql/driver.ts';
import type { SqlExecutor } from '../src/drivers/sql/executor.ts';
import { createStore, isStoreError } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'hubbub-store-pglite-thread-'));
mkdirSync(join(root, 'suite'));
// One thread for the suite (creating a database costs seconds), a schema per test.
const shared = await openPgliteThread({ dataDir: join(root, 'suite', 'pgdata'), postgresqlConf: [] }, async () => {});
after(async () => {
  await shared.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const open = (schema: string) =>
  Object.assign(
    new SqlDriver({ kind: 'pglite', schema, connect: async () => ({ ...shared, close: async () => {} }) }),
    { schema },
  );
describeDocumentDriver({
  name: 'pglite in a worker thread',
  create: () => open(`t${++n}`),
  reopen: (closed) => open(closed.schema),
  destroy: async (driver) => void (await shared.query(`DROP SCHEMA "${driver.schema}" CASCADE`)),
});

describe('the PGlite thread', () => {
  let x: SqlExecutor;
  before(async () => {
    await shared.query('CREATE TABLE IF NOT EXISTS thread_t (id int PRIMARY KEY, v text)');
    x = shared;
  });

  it('hands back rows and a PostgreSQL error with its SQLSTATE and fields', async () => {
    await x.query('INSERT INTO thread_t VALUES ($1, $2)', [1, 'one']);
    assert.deepEqual((await x.query('SELECT id, v FROM thread_t WHERE id = $1', [1])).rows, [{ id: 1, v: 'one' }]);
    await assert.rejects(
      x.query('INSERT INTO thread_t VALUES ($1, $2)', [1, 'again']),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, '23505');
        assert.match(err.message, /duplicate key/);
        return true;
      },
    );
    await assert.rejects(x.query('SELECT * FROM no_such_table'), { code: '42P01' });
  });

  it('commits a transaction that resolves and rolls back one that throws, interleaved with others', async () => {
    const value = await x.transaction(async (q) => {
      await q('INSERT INTO thread_t VALUES (2, $1)', ['two']);
      return 'done';
    });
    assert.equal(value, 'done');
    const boom = new Error('boom');
    const outside = x.query('INSERT INTO thread_t VALUES (4, $1)', ['four']); // waits for the transaction
    await assert.rejects(
      x.transaction(async (q) => {
        await q('INSERT INTO thread_t VALUES (3, $1)', ['three']);
        throw boom;
      }),
      (err) => err === boom,
    );
    await outside;
    const ids = (await x.query('SELECT id FROM thread_t ORDER BY id')).rows.map((r) => r.id);
    assert.deepEqual(ids, [1, 2, 4]);
    await assert.rejects(
      x.transaction(async (q) => {
        await q('INSERT INTO thread_t VALUES (1, $1)', ['dup']);
      }),
      { code: '23505' },
    );
    assert.equal((await x.query('SELECT count(*)::int AS n FROM thread_t')).rows[0]?.n, 3);
  });

  it('fails what is in flight and what follows with STORE_UNAVAILABLE when the thread dies', async () => {
    const dir = join(root, 'dies');
    const driver = new PgliteDriver({ dir });
    const store = createStore({ driver });
    const { database } = await store.databases.createIfNotExists({ id: 'd' });
    const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: '/id' });
    await container.items.create({ id: 'a' });
    // pg_sleep in the thread, then the thread is killed under it.
    const slow = driver.executor.query('SELECT pg_sleep(5)');
    await killThreadOf(driver);
    await assert.rejects(slow, (err: Error) => /Connection terminated/.test(err.message));
    await assert.rejects(container.item('a', 'a').read(), (err) => isStoreError(err, 'STORE_UNAVAILABLE'));
    await store.close();
    // The lock went with the close: the directory opens again at once.
    const again = createStore({ url: `pglite://${dir}` });
    const c = (await again.databases.createIfNotExists({ id: 'd' })).database.container('c');
    assert.equal((await c.item('a', 'a').read()).resource?.id, 'a');
    await again.close();
  });

  it('keeps no process alive while idle: a script that opens and never closes exits', async () => {
    const dir = join(root, 'idle');
    const script = `
      import { createStore } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
      const store = createStore({ url: ${JSON.stringify(`pglite://${dir}`)} });
      const { database } = await store.databases.createIfNotExists({ id: 'd' });
      const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: '/id' });
      await container.items.create({ id: 'x' });
      console.log('written');`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(out.trim(), 'written');
    assert.equal(code, 0);
  });
});

/** Terminates the worker thread behind a driver's executor. */
async function killThreadOf(driver: PgliteDriver): Promise<void> {
  const { thread } = driver.executor as SqlExecutor & { thread?: Worker };
  assert.ok(thread !== undefined, 'the driver runs PGlite in a thread');
  await thread.terminate();
}
