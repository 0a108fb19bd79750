import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { type CacheError, createCache } from '../src/index.ts';
import { rawClient, redisUnderTest } from './redis-under-test.ts';

const redis = await redisUnderTest();
const skip = redis.unavailable ?? false;
let raw: Awaited<ReturnType<typeof rawClient>>;
let n = 0;
const prefix = () => `${redis.prefix}${++n}:`;

const code = (expected: string) => (err: { code?: string }) => {
  assert.equal(err.code, expected);
  return true;
};

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function clientIdByName(name: string): Promise<string> {
  const list = String(await raw.sendCommand(['CLIENT', 'LIST']));
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  const id = line === undefined ? undefined : /^id=(\d+) /.exec(line)?.[1];
  assert.ok(id !== undefined, `no connection named ${name}`);
  return id;
}

describe('cache on Redis', { skip }, () => {
  before(async () => {
    raw = await rawClient();
  });
  after(async () => {
    raw?.destroy();
    await redis.cleanup();
  });

  it('does not connect before start(), and start() fails with CACHE_UNAVAILABLE when nothing listens', async () => {
    const cache = createCache({ url: `redis://127.0.0.1:${await closedPort()}` });
    await assert.rejects(cache.get('k'), code('CACHE_CLOSED'));
    await assert.rejects(cache.start(), code('CACHE_UNAVAILABLE'));
    await assert.rejects(cache.start(), code('CACHE_UNAVAILABLE'), 'a failed start can be retried');
    await cache.close();
  });

  it('a dropped connection (CLIENT KILL) emits error once, fails calls with CACHE_UNAVAILABLE, then recovers', async () => {
    const clientName = `hubbub-test-${randomUUID()}`;
    await using cache = createCache({
      url: redis.url,
      prefix: prefix(),
      redis: { clientName, reconnect: { initialMs: 20, maxMs: 200 } },
    });
    await cache.start();
    await cache.set('k', 'v');
    const errors: CacheError[] = [];
    let during: Promise<unknown> | undefined;
    cache.on('error', (err) => {
      errors.push(err);
      // A call made while the connection is down fails at once; caught here so it is never unhandled.
      during ??= cache.get('k').then(
        () => 'resolved',
        (failure: unknown) => failure,
      );
    });
    const racing = Array.from({ length: 50 }, () => cache.get('k'));
    await raw.sendCommand(['CLIENT', 'KILL', 'ID', await clientIdByName(clientName)]);
    await waitFor(() => during, { what: 'the error event' });
    assert.equal(errors[0]?.code, 'CACHE_UNAVAILABLE');
    code('CACHE_UNAVAILABLE')((await during) as { code?: string });
    for (const result of await Promise.allSettled(racing)) {
      if (result.status === 'fulfilled') assert.equal(result.value, 'v');
      else code('CACHE_UNAVAILABLE')(result.reason);
    }
    await waitFor(async () => (await cache.get('k').catch(() => undefined)) === 'v', { what: 'the reconnect' });
    assert.equal(errors.length, 1, 'one error event per outage');
    assert.notEqual(await clientIdByName(clientName), undefined);
  });

  it('reads what other Redis clients wrote, and refuses what it cannot read', async () => {
    const p = prefix();
    await using cache = createCache({ url: redis.url, prefix: p });
    await cache.start();
    await raw.set(`${p}count`, '41');
    await raw.set(`${p}text`, 'hello');
    await raw.lPush(`${p}list`, 'x');
    assert.equal(await cache.get('count'), 41);
    assert.equal(await cache.increment('count'), 42);
    await assert.rejects(cache.get('text'), code('CACHE_INVALID_VALUE'));
    await assert.rejects(cache.increment('text'), code('CACHE_NOT_A_NUMBER'));
    await assert.rejects(cache.get('list'), code('CACHE_INVALID_VALUE'));
    await assert.rejects(cache.increment('list'), code('CACHE_NOT_A_NUMBER'));
    await assert.rejects(cache.increment('list', { ttlMs: 1_000 }), code('CACHE_NOT_A_NUMBER'));
    await cache.set('mine', { a: 1 });
    assert.equal(await raw.get(`${p}mine`), '{"a":1}');
  });

  it('caches on one prefix share keys and counters across processes; other prefixes do not see them', async () => {
    const p = prefix();
    await using a = createCache({ url: redis.url, prefix: p });
    await using b = createCache({ url: redis.url, prefix: p });
    await using other = createCache({ url: redis.url, prefix: prefix() });
    await Promise.all([a.start(), b.start(), other.start()]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).increment('hits', { ttlMs: 60_000 })));
    assert.equal(await a.get('hits'), 20);
    assert.equal(await other.get('hits'), undefined);
    await b.set('shared', 'from b');
    assert.equal(await a.get('shared'), 'from b');
  });
});
