/**
 * Sessions read through the cache: no store read while cached, the expiry checked on every
 * resolve, sign-out at once where the cache is shared and within `sessionCacheMs` where it is not,
 * and a failing cache falling back to the store.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type Cache, createCache } from '@hubbub/cache';
import { ManualClock } from '@hubbub/kernel';
import { type Container, createStore, type Store } from '@hubbub/store';
import { createAccounts } from './accounts.ts';
import { isDeliveryError } from './errors.ts';

let store: Store;
let accounts: Container;
let sessions: Container;
const caches: Cache[] = [];

const newCache = async (): Promise<Cache> => {
  const cache = createCache();
  await cache.start();
  caches.push(cache);
  return cache;
};

before(async () => {
  store = createStore();
  const { database } = await store.databases.createIfNotExists({ id: 'delivery' });
  accounts = (await database.containers.createIfNotExists({ id: 'accounts', partitionKey: '/id' })).container;
  sessions = (await database.containers.createIfNotExists({ id: 'sessions', partitionKey: '/id', defaultTtl: -1 }))
    .container;
});
after(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await store.close();
});

const own = (target: object, name: string | symbol): unknown => {
  const value = Reflect.get(target, name, target);
  return typeof value === 'function' ? value.bind(target) : value;
};

/** Counts the session reads that reach the store. */
function counting(container: Container): { container: Container; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(container, {
    get(target, name) {
      if (name !== 'item') return own(target, name);
      return (id: string, pk: string) => {
        const item = target.item(id, pk);
        return new Proxy(item, {
          get(t, n) {
            if (n !== 'read') return own(t, n);
            return (...args: Parameters<typeof t.read>) => {
              reads++;
              return t.read(...args);
            };
          },
        });
      };
    },
  });
  return { container: proxy, reads: () => reads };
}

const reasonOf = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (err) {
    assert.ok(isDeliveryError(err, 'DELIVERY_UNAUTHORIZED'), String(err));
    return err.detail?.reason;
  }
  assert.fail('resolved');
};

let n = 0;
const newAccount = async (api: ReturnType<typeof createAccounts>) =>
  api.create({ email: `s${++n}@example.com`, password: 'correct horse battery', name: 'S', role: 'customer' });

it('reads a cached session without the store, and still checks its expiry each time', async () => {
  const clock = new ManualClock(Date.now());
  const counted = counting(sessions);
  const api = createAccounts({
    accounts,
    sessions: counted.container,
    clock,
    sessionTtlSeconds: 60,
    cache: await newCache(),
  });
  const { token } = await api.openSession(await newAccount(api));
  const first = await api.resolve(token);
  const second = await api.resolve(token);
  assert.deepEqual(second, first);
  assert.equal(counted.reads(), 1, 'the second resolve came from the cache');
  clock.advance(60_001);
  assert.equal(await reasonOf(api.resolve(token)), 'expired', 'the cached record expires on the clock');
  assert.equal(await reasonOf(api.resolve('x'.repeat(43))), 'unknown');
  assert.equal(await reasonOf(api.resolve('x'.repeat(43))), 'unknown', 'an unknown token is not cached as valid');
  assert.equal(await reasonOf(api.resolve('short')), 'malformed');
});

it('signs out at once through a shared cache, and within sessionCacheMs through another', async () => {
  const shared = await newCache();
  const elsewhere = await newCache();
  const make = (cache: Cache) =>
    createAccounts({
      accounts,
      sessions,
      clock: new ManualClock(Date.now()),
      sessionTtlSeconds: 60,
      cache,
      sessionCacheMs: 400,
    });
  const here = make(shared);
  const sameCache = make(shared); // another process on the same Redis
  const ownCache = make(elsewhere); // another process with a memory cache of its own
  const { token } = await here.openSession(await newAccount(here));
  const principal = await here.resolve(token);
  await sameCache.resolve(token);
  await ownCache.resolve(token);
  await here.closeSession(principal);
  assert.equal(await reasonOf(here.resolve(token)), 'unknown');
  assert.equal(await reasonOf(sameCache.resolve(token)), 'unknown', 'the shared cache entry went with the sign-out');
  assert.deepEqual(await ownCache.resolve(token), principal, 'within the bound, a cache of its own still has it');
  await new Promise((r) => setTimeout(r, 450));
  assert.equal(await reasonOf(ownCache.resolve(token)), 'unknown', 'past the bound it is gone everywhere');
});

it('reads the store when the cache fails, and with sessionCacheMs 0 every time', async () => {
  const broken = createCache(); // never started: every call fails with a cache error
  const counted = counting(sessions);
  const api = createAccounts({
    accounts,
    sessions: counted.container,
    clock: new ManualClock(Date.now()),
    sessionTtlSeconds: 60,
    cache: broken,
  });
  const { token } = await api.openSession(await newAccount(api));
  await api.resolve(token);
  await api.resolve(token);
  assert.equal(counted.reads(), 2);
  const principal = await api.resolve(token);
  await api.closeSession(principal);
  assert.equal(await reasonOf(api.resolve(token)), 'unknown', 'sign-out works without the cache');
  const uncached = counting(sessions);
  const off = createAccounts({
    accounts,
    sessions: uncached.container,
    clock: new ManualClock(Date.now()),
    sessionTtlSeconds: 60,
    cache: await newCache(),
    sessionCacheMs: 0,
  });
  const second = await off.openSession(await newAccount(off));
  await off.resolve(second.token);
  await off.resolve(second.token);
  assert.equal(uncached.reads(), 2);
});
