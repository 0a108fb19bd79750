import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { createCache } from './cache.ts';
import { MemoryEngine } from './engines/memory/engine.ts';
import type { CacheOptions } from './options.ts';
import type { CacheEngine, EvictedEvent } from './port.ts';

describe('createCache', () => {
  it('refuses bad options with KERNEL_INVALID_OPTION, naming the option', () => {
    const bad: Array<[string, CacheOptions]> = [
      ['url', { url: 'postgres://localhost' }],
      ['url', { url: 'redis://[' }],
      ['maxBytes', { maxBytes: 0 }],
      ['maxKeyBytes', { maxKeyBytes: 1.5 }],
      ['maxValueBytes', { maxValueBytes: -1 }],
      ['defaultTtlMs', { defaultTtlMs: 0 }],
      ['prefix', { prefix: 'p'.repeat(1_024) }],
      ['prefix', { prefix: 7 as unknown as string }],
      ['maxBytes', { maxBytes: 1_000, maxValueBytes: 1_000 }],
      ['redis.connectTimeoutMs', { url: 'redis://127.0.0.1', redis: { connectTimeoutMs: 0 } }],
      ['redis.clientName', { url: 'redis://127.0.0.1', redis: { clientName: 'has space' } }],
    ];
    for (const [option, options] of bad) {
      assert.throws(
        () => createCache(options),
        (err: { code?: string; detail?: { option?: string } }) => {
          assert.equal(err.code, 'KERNEL_INVALID_OPTION');
          assert.equal(err.detail?.option, option);
          return true;
        },
      );
    }
  });

  it('chooses the engine by URL when started, and starts nothing before', async () => {
    const cache = createCache({ url: 'redis://127.0.0.1:1' });
    assert.equal(cache.engine, undefined);
    const memory = createCache();
    await assert.rejects(memory.set('k', 1), { code: 'CACHE_CLOSED' });
    await memory.start();
    await memory.start();
    assert.equal(memory.engine?.kind, 'memory');
    await memory.close();
    await memory.close();
    assert.equal(memory.engine, undefined);
    await cache.close();
  });

  it('applies maxBytes to the memory engine and reports evictions', async () => {
    await using cache = createCache({ maxBytes: 100, maxValueBytes: 50, maxKeyBytes: 10 });
    const evicted: EvictedEvent[] = [];
    cache.on('evicted', (e) => evicted.push(e));
    await cache.start();
    for (let i = 0; i < 4; i++) await cache.set(`k${i}`, 'x'.repeat(20)); // 2 + 22 bytes each
    assert.equal((cache.engine as MemoryEngine).bytes, 96);
    await cache.set('k4', 'x'.repeat(20));
    assert.deepEqual(evicted, [{ reason: 'size', count: 1, bytes: 24 }]);
    assert.equal(await cache.get('k0'), undefined);
  });

  it('is disposable with await using', async () => {
    let closed = false;
    const engine = new MemoryEngine();
    const spy: CacheEngine = Object.assign(Object.create(engine), {
      kind: 'spy',
      open: engine.open.bind(engine),
      close: async () => {
        closed = true;
      },
    });
    {
      await using cache = createCache({ engine: spy, clock: new ManualClock() });
      await cache.start();
    }
    assert.equal(closed, true);
  });

  it('a close during start closes the engine once it opens', async () => {
    let release!: () => void;
    let closed = 0;
    const engine = new MemoryEngine();
    const slow: CacheEngine = Object.assign(Object.create(engine), {
      kind: 'slow',
      open: async (events: Parameters<CacheEngine['open']>[0]) => {
        await new Promise<void>((resolve) => (release = resolve));
        await engine.open(events);
      },
      close: async () => {
        closed++;
      },
    });
    const cache = createCache({ engine: slow });
    const starting = cache.start();
    const closing = cache.close();
    release();
    await assert.rejects(starting, { code: 'CACHE_CLOSED' });
    await closing;
    assert.equal(closed, 1);
  });
});
