/**
 * The store as a part of the all-in-one system: its URL (memory without a data directory, PGlite in
 * it by default), its HTTP API on the one port behind the key kept in keys.json, and a function
 * app's cosmosDB bindings reaching it in process — or another store a connection setting names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { type RunningSystem, signRequest, startSystem } from '../src/index.ts';
import { fixture } from './function-apps.ts';

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
    `PostgreSQL is not reachable at ${POSTGRES}: start it (service postgresql start) or set HUBBUB_TEST_POSTGRES_URL.`,
  );
}

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-system-store-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A request to the store API signed with `key` (Cosmos DB master-key signature). */
function storeCall(system: RunningSystem, method: string, path: string, key: string | null, body?: unknown) {
  const date = new Date().toUTCString();
  const link = path.replace(/^\//, '');
  const parts = link.split('/');
  const resourceType = parts.length % 2 === 1 ? parts.at(-1)! : parts.at(-2)!;
  const resourceLink = parts.length % 2 === 1 ? parts.slice(0, -1).join('/') : link;
  const headers: Record<string, string> = { 'x-ms-date': date };
  if (key !== null) headers.authorization = signRequest(key, { verb: method, resourceType, resourceLink, date });
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${system.url}/store${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('the store in the system', () => {
  it('is memory:// without a data directory, served at /store behind the store key', async () => {
    await using system = await startSystem({ port: 0, logger: silentLogger });
    const { database } = await system.store.databases.createIfNotExists({ id: 'shop' });
    await database.containers.createIfNotExists({ id: 'orders', partitionKey: '/id' });
    await system.store.database('shop').container('orders').items.create({ id: 'o1' });
    assert.equal((await storeCall(system, 'GET', '/dbs', null)).status, 401);
    const other = Buffer.alloc(32, 7).toString('base64');
    assert.equal((await storeCall(system, 'GET', '/dbs', other)).status, 401);
    const listed = await storeCall(system, 'GET', '/dbs', system.keys.store);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      ((await listed.json()) as { Databases: { id: string }[] }).Databases.map((d) => d.id),
      ['shop'],
    );
    const item = await fetch(`${system.url}/store/dbs/shop/colls/orders/docs/o1`);
    assert.equal(item.status, 401, 'every store route needs the key');
  });

  it('defaults to PGlite in <dataDir>/store, keeps its key in keys.json, and keeps data across a restart', async () => {
    const data = tempDir();
    {
      await using system = await startSystem({ port: 0, dataDir: data, logger: silentLogger });
      const { database } = await system.store.databases.createIfNotExists({ id: 'shop' });
      const { container } = await database.containers.createIfNotExists({ id: 'orders', partitionKey: '/id' });
      await container.items.create({ id: 'kept', n: 1 });
      const keys = JSON.parse(readFileSync(join(data, 'keys.json'), 'utf8')) as { storeKey?: string };
      assert.equal(keys.storeKey, system.keys.store);
    }
    await using again = await startSystem({ port: 0, dataDir: data, logger: silentLogger });
    const { resource } = await again.store.database('shop').container('orders').item('kept', 'kept').read();
    assert.equal(resource?.n, 1);
    const listed = await storeCall(again, 'GET', '/dbs/shop/colls', again.keys.store);
    assert.equal(listed.status, 200, 'the same key after the restart');
  });

  it('refuses a store URL it does not know, naming the choices', async () => {
    await assert.rejects(startSystem({ port: 0, logger: silentLogger, storeUrl: 'mongodb://x' }), {
      code: 'KERNEL_INVALID_OPTION',
    });
    await assert.rejects(startSystem({ port: 0, logger: silentLogger, storeUrl: 'pglite://' }), {
      code: 'KERNEL_INVALID_OPTION',
    });
  });

  it("gives a function app's cosmosDB bindings the system's store", async () => {
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      dataDir: tempDir(),
      app: { dir: fixture('cosmos-app') },
      // An Azure connection string (the emulator's form) names no Hubbub store: the system's serves it.
      settings: {
        CosmosDBConnection:
          'AccountEndpoint=https://localhost:8081/;AccountKey=C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==;',
      },
    });
    const posted = await fetch(`${system.url}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'o1', customer: 'c1' }),
    });
    assert.equal(posted.status, 201);
    const { resource } = await system.store.database('shop').container('orders').item('o1', 'o1').read();
    assert.equal(resource?.customer, 'c1');
    const read = await fetch(`${system.url}/api/orders/o1`);
    assert.equal(((await read.json()) as { customer: string }).customer, 'c1');
    await waitFor(
      async () => {
        const state = (await (await fetch(`${system.url}/api/state`)).json()) as { seen: { id: string }[] };
        return state.seen.some((d) => d.id === 'o1');
      },
      { timeoutMs: 20_000, what: 'the trigger to see the write' },
    );
  });

  it('a batch whose function failed is not checkpointed: closed during its retry, it comes again after a restart', async () => {
    const data = tempDir();
    const options = { port: 0, logger: silentLogger, dataDir: data, app: { dir: fixture('cosmos-app') } };
    const settings = { CosmosDBConnection: 'AccountEndpoint=https://localhost:8081/;AccountKey=a2V5;' };
    type State = { seen: { id: string }[]; failed: string[] };
    const stateOf = async (system: RunningSystem) => (await (await fetch(`${system.url}/api/state`)).json()) as State;
    {
      await using first = await startSystem({ ...options, settings });
      await fetch(`${first.url}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'r1', failOnce: true }),
      });
      await waitFor(async () => (await stateOf(first)).failed.includes('r1'), {
        timeoutMs: 20_000,
        what: 'the first failure',
      });
      assert.deepEqual((await stateOf(first)).seen, [], 'closed while the batch waits for its retry');
    }
    await using second = await startSystem({ ...options, settings });
    const state = await waitFor(
      async () => {
        const s = await stateOf(second);
        return s.seen.some((d) => d.id === 'r1') ? s : undefined;
      },
      { timeoutMs: 20_000, what: 'the batch after the restart' },
    );
    assert.deepEqual(
      state.seen.map((d) => d.id),
      ['r1'],
    );
  });

  it('fails the start with FUNCTIONS_INVALID_SETTING when a connection setting names an unusable store', async () => {
    await assert.rejects(
      startSystem({
        port: 0,
        logger: silentLogger,
        app: { dir: fixture('cosmos-app') },
        settings: { CosmosDBConnection: 'pglite://' },
      }),
      (err: { code?: string; detail?: { setting?: string } }) => {
        assert.equal(err.code, 'FUNCTIONS_INVALID_SETTING');
        assert.equal(err.detail?.setting, 'CosmosDBConnection');
        return true;
      },
    );
  });

  it('opens the store another URL names for a connection setting, and closes it with the system', async () => {
    const other = tempDir();
    {
      await using system = await startSystem({
        port: 0,
        logger: silentLogger,
        app: { dir: fixture('cosmos-app') },
        settings: { CosmosDBConnection: `pglite://${other}` },
      });
      const posted = await fetch(`${system.url}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'elsewhere' }),
      });
      assert.equal(posted.status, 201);
      const { resources } = await system.store.databases.readAll();
      assert.deepEqual(resources, [], "nothing reached the system's own (memory) store");
    }
    // The system closed that store: its directory lock is free, and the item is in it.
    const { createStoreAt } = await import('../src/index.ts');
    await using store = await createStoreAt(`pglite://${other}`);
    const { resource } = await store.database('shop').container('orders').item('elsewhere', 'elsewhere').read();
    assert.equal(resource?.id, 'elsewhere');
  });

  it('runs on PostgreSQL when storeUrl names it', {
    skip: postgresUp ? false : `PostgreSQL is not reachable at ${POSTGRES}; start it or set HUBBUB_TEST_POSTGRES_URL`,
  }, async () => {
    const storeUrl = `${POSTGRES}?schema=hubbub_system_${process.pid}_${Date.now().toString(36)}`;
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      storeUrl,
      app: { dir: fixture('cosmos-app') },
      settings: { CosmosDBConnection: storeUrl },
    });
    const posted = await fetch(`${system.url}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'pg1', customer: 'c9' }),
    });
    assert.equal(posted.status, 201);
    const { resource } = await system.store.database('shop').container('orders').item('pg1', 'pg1').read();
    assert.equal(resource?.customer, 'c9');
    await waitFor(
      async () => {
        const state = (await (await fetch(`${system.url}/api/state`)).json()) as { seen: { id: string }[] };
        return state.seen.some((d) => d.id === 'pg1');
      },
      { timeoutMs: 20_000, what: 'the trigger to see the write' },
    );
    await system.store.database('shop').delete();
  });
});
