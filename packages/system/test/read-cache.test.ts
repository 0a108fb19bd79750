// The bridge's cached point reads (CosmosDBCachedReads): served from memory once the change feed
// is followed, dropped when the feed reports a change of the id, bounded by maxAgeMs for what the
// feed does not carry (deletes), and never for a read the app did not ask to cache.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Container, createStore, type Store } from '@hubbub/store';
import { ReadCache } from '../src/bridges/read-cache.ts';
import { bridgeStore } from '../src/bridges/store.ts';

let store: Store;
let menus: Container;

before(async () => {
  store = createStore({ url: 'pglite://' });
  const { database } = await store.databases.createIfNotExists({ id: 'shop' });
  menus = (await database.containers.createIfNotExists({ id: 'menus', partitionKey: '/id' })).container;
  await menus.items.upsert({ id: 'm1', price: 10 });
});
after(async () => {
  await store.close();
});

/** Until `check` holds (the feed reacts to a write within milliseconds; 5 s is the failure). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`not within 5 s: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('serves a read from memory once the feed is followed, and drops it when the feed reports a change', async () => {
  const cache = new ReadCache(menus);
  let loads = 0;
  const read = () =>
    cache.read('m1', 'm1', async () => {
      loads++;
      return (await menus.item('m1', 'm1').read()).resource;
    });
  assert.equal((await read())?.price, 10, 'the first read loads');
  await eventually(async () => cache.following, 'the feed followed');
  await read();
  const before = loads;
  assert.equal((await read())?.price, 10);
  assert.equal((await read())?.price, 10);
  assert.equal(loads, before, 'served from memory');
  await menus.items.upsert({ id: 'm1', price: 12 });
  await eventually(async () => (await read())?.price === 12, 'the new price read');
  const after = loads;
  assert.equal((await read())?.price, 12);
  assert.equal(loads, after, 'the new version is cached in turn');
  cache.close();
  assert.equal(cache.following, false);
  await menus.items.upsert({ id: 'm1', price: 10 });
});

it('keeps a version at most maxAgeMs: the feed carries no deletes', async () => {
  let now = 1_000;
  const cache = new ReadCache(menus, { maxAgeMs: 100, now: () => now });
  await menus.items.upsert({ id: 'gone', price: 1 });
  const load = async () => (await menus.item('gone', 'gone').read()).resource;
  await cache.read('gone', 'gone', load);
  await eventually(async () => cache.following, 'the feed followed');
  await cache.read('gone', 'gone', load);
  await menus.item('gone', 'gone').delete();
  assert.equal((await cache.read('gone', 'gone', load))?.price, 1, 'a deleted document, within the bound');
  now += 100;
  assert.equal(await cache.read('gone', 'gone', load), undefined, 'past maxAgeMs it is read again');
  cache.close();
});

it('caches through the bridge only what the binding marks cached, and stops with the store', async () => {
  const own = createStore({ url: 'memory://' });
  const { database } = await own.databases.createIfNotExists({ id: 'shop' });
  const c = (await database.containers.createIfNotExists({ id: 'menus', partitionKey: '/id' })).container;
  await c.items.upsert({ id: 'm', price: 5 });
  const port = bridgeStore(own);
  const target = { database: 'shop', container: 'menus' };
  assert.equal((await port.read(target, 'm', 'm', { cached: true }))?.price, 5);
  // Let the feed be followed, then change the document behind the port's back with the feed stopped:
  // a plain read sees it, a cached one may not until the feed reports it.
  await new Promise((r) => setTimeout(r, 50));
  await port.read(target, 'm', 'm', { cached: true });
  await c.items.upsert({ id: 'm', price: 6 });
  assert.equal((await port.read(target, 'm', 'm'))?.price, 6, 'an uncached read goes to the store');
  await eventually(
    async () => (await port.read(target, 'm', 'm', { cached: true }))?.price === 6,
    'the feed dropped it',
  );
  await own.close();
  await assert.rejects(port.read(target, 'm', 'm', { cached: true }), { code: 'STORE_CLOSED' });
});
