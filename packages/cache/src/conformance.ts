/**
 * The conformance suite every {@link CacheEngine} runs, through the public cache. Run it from a
 * five-line file:
 *
 * ```ts
 * import { describeCacheEngine } from '@hubbub/cache/engine';
 * import { createMemoryEngine } from '@hubbub/cache';
 * describeCacheEngine({ name: 'memory', time: 'manual', create: (clock) => createMemoryEngine({ clock }) });
 * ```
 *
 * Engines that keep time on a server (`time: 'server'`) have expiry awaited in real time with short
 * TTLs, and the cases that need exact control of time are skipped with that reason.
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { type Cache, createCache } from './cache.ts';
import type { CacheErrorCode } from './errors.ts';
import type { CacheOptions } from './options.ts';
import type { CacheEngine } from './port.ts';

export interface CacheEngineSuiteOptions {
  name: string;
  /** A fresh, unopened engine per test; engines that keep time themselves read `clock`. */
  create: (clock: ManualClock) => CacheEngine | Promise<CacheEngine>;
  /** `manual`: the engine's expiry follows the clock it is given; `server`: its server's own clock. */
  time: 'manual' | 'server';
  /** Every key the suite writes starts with it (then a per-test number). @default 'conformance:' */
  prefix?: string;
  /** When set, every case is skipped with this reason (the engine's server is not reachable). */
  unavailable?: string;
  /** Runs once after the suite, e.g. to delete what it wrote. */
  cleanup?: () => Promise<void>;
  /** Case titles to skip, each with its reason. */
  skip?: Record<string, string>;
}

interface Ctx {
  cache: Cache;
  engine: CacheEngine;
  clock: ManualClock;
  /** The engine's key for a cache key. */
  full(key: string): string;
  /** Lets `ms` pass: advances the manual clock, or does nothing where the server keeps time. */
  elapse(ms: number): void;
  /** Resolves once `key` reads as missing: at once on a manual clock, within seconds on a server's. */
  gone(key: string): Promise<void>;
}

const SERVER_TIME = 'the engine keeps time on its server, which a test cannot move';

async function rejects(work: Promise<unknown>, code: CacheErrorCode | 'KERNEL_ABORTED'): Promise<void> {
  await assert.rejects(work, (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function describeCacheEngine(options: CacheEngineSuiteOptions): void {
  const { name, create, time, prefix = 'conformance:', unavailable, cleanup, skip = {} } = options;
  const manual = time === 'manual';
  let n = 0;

  const test = (
    title: string,
    body: (ctx: Ctx) => Promise<void>,
    settings: { cacheOptions?: CacheOptions; manualOnly?: boolean } = {},
  ): void => {
    const reason = unavailable ?? skip[title] ?? (settings.manualOnly === true && !manual ? SERVER_TIME : undefined);
    const run = async (): Promise<void> => {
      const clock = new ManualClock();
      const engine = await create(clock);
      const keyPrefix = `${prefix}${++n}:`;
      const cache = createCache({ ...settings.cacheOptions, engine, clock, prefix: keyPrefix });
      await cache.start();
      const ctx: Ctx = {
        cache,
        engine,
        clock,
        full: (key) => keyPrefix + key,
        elapse: (ms) => {
          if (manual) clock.advance(ms);
        },
        async gone(key) {
          if (manual) assert.equal(await cache.get(key), undefined);
          else await waitFor(async () => (await cache.get(key)) === undefined, { what: `${key} to expire` });
        },
      };
      try {
        await body(ctx);
      } finally {
        await cache.close();
      }
    };
    if (reason !== undefined) it(title, { skip: reason }, run);
    else it(title, run);
  };

  describe(`CacheEngine conformance: ${name}`, () => {
    if (cleanup !== undefined && unavailable === undefined) after(cleanup);

    describe('values', () => {
      test('a missing key reads as undefined', async ({ cache }) => {
        assert.equal(await cache.get('missing'), undefined);
        assert.equal(await cache.ttl('missing'), undefined);
      });

      test('round-trips JSON data', async ({ cache }) => {
        const values: unknown[] = [
          { order: 42, items: [{ sku: 'a', qty: 2 }], paid: true, note: null },
          [1, 'two', [3]],
          'plain text ✓ 日本',
          '',
          0,
          -17.25,
          false,
          null,
        ];
        for (const [i, value] of values.entries()) await cache.set(`v${i}`, value);
        for (const [i, value] of values.entries()) assert.deepEqual(await cache.get(`v${i}`), value);
      });

      test('round-trips bytes, and hands back a copy', async ({ cache }) => {
        const bytes = Uint8Array.from([0, 1, 2, 255, 0x7b]);
        await cache.set('b', bytes);
        await cache.set('empty', new Uint8Array(0));
        const back = await cache.get<Uint8Array>('b');
        assert.ok(back instanceof Uint8Array);
        assert.deepEqual([...back], [...bytes]);
        back[0] = 9;
        assert.deepEqual([...((await cache.get<Uint8Array>('b')) ?? [])], [...bytes]);
        assert.equal((await cache.get<Uint8Array>('empty'))?.byteLength, 0);
      });

      test('stores numbers as decimal text and bytes as NUL + base64', async ({ cache, engine, full }) => {
        await cache.set('n', 42);
        await cache.set('b', Uint8Array.from([1, 2, 255]));
        assert.equal(await engine.get(full('n')), '42');
        assert.equal(await engine.get(full('b')), '\u0000AQL/');
        assert.equal(await engine.get('n'), undefined, 'the prefix is part of the engine key');
      });

      test('a set replaces the value and its TTL', async ({ cache }) => {
        await cache.set('k', 'first', { ttlMs: 60_000 });
        await cache.set('k', 'second');
        assert.equal(await cache.get('k'), 'second');
        assert.equal(await cache.ttl('k'), Number.POSITIVE_INFINITY);
      });

      test('delete says whether the key existed', async ({ cache }) => {
        await cache.set('k', 1);
        assert.equal(await cache.delete('k'), true);
        assert.equal(await cache.delete('k'), false);
        assert.equal(await cache.get('k'), undefined);
      });

      test(
        'refuses a value over maxValueBytes and a key over maxKeyBytes with CACHE_TOO_LARGE',
        async ({ cache }) => {
          await rejects(cache.set('big', 'x'.repeat(100)), 'CACHE_TOO_LARGE');
          await rejects(cache.set('bytes', new Uint8Array(48)), 'CACHE_TOO_LARGE'); // 1 + 64 base64 characters
          await rejects(cache.set('k'.repeat(200), 1), 'CACHE_TOO_LARGE');
          await rejects(cache.get('ü'.repeat(100)), 'CACHE_TOO_LARGE');
          await cache.set('fits', 'x'.repeat(60));
          assert.equal(await cache.get('big'), undefined);
          assert.equal((await cache.get<string>('fits'))?.length, 60);
        },
        { cacheOptions: { maxValueBytes: 64, maxKeyBytes: 128 } },
      );

      test('refuses bad keys (CACHE_INVALID_KEY) and values JSON cannot carry (CACHE_INVALID_VALUE)', async ({
        cache,
      }) => {
        await rejects(cache.set('', 1), 'CACHE_INVALID_KEY');
        await rejects(cache.get(42 as unknown as string), 'CACHE_INVALID_KEY');
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        for (const value of [undefined, () => 1, 10n, cyclic, Symbol('s')]) {
          await rejects(cache.set('bad', value), 'CACHE_INVALID_VALUE');
        }
        assert.equal(await cache.get('bad'), undefined);
      });
    });

    describe('expiry', () => {
      test('a key with a TTL reports it and is gone once it passes', async ({ cache, elapse, gone }) => {
        await cache.set('long', 'v', { ttlMs: 60_000 });
        const left = await cache.ttl('long');
        assert.ok(left !== undefined && left > 0 && left <= 60_000, `ttl ${left}`);
        await cache.set('short', 'v', { ttlMs: manual ? 1_000 : 30 });
        elapse(1_000);
        await gone('short');
        assert.equal(await cache.get('long'), 'v');
      });

      test(
        'a key lives until the last millisecond of its TTL',
        async ({ cache, clock }) => {
          await cache.set('k', 'v', { ttlMs: 1_000 });
          clock.advance(999);
          assert.equal(await cache.get('k'), 'v');
          assert.equal(await cache.ttl('k'), 1);
          clock.advance(1);
          assert.equal(await cache.get('k'), undefined);
          assert.equal(await cache.delete('k'), false);
        },
        { manualOnly: true },
      );

      test(
        'defaultTtlMs applies to set and getOrLoad without a ttlMs',
        async ({ cache, elapse, gone }) => {
          await cache.set('a', 1);
          await cache.getOrLoad('b', () => 2);
          await cache.set('c', 3, { ttlMs: 60_000 });
          elapse(manual ? 40 : 0);
          await gone('a');
          await gone('b');
          assert.equal(await cache.get('c'), 3);
        },
        { cacheOptions: { defaultTtlMs: 40 } },
      );
    });

    describe('increment', () => {
      test('starts a missing key at 0 and adds by (1 by default, negative to subtract)', async ({ cache }) => {
        assert.equal(await cache.increment('n'), 1);
        assert.equal(await cache.increment('n', { by: 41 }), 42);
        assert.equal(await cache.increment('n', { by: -50 }), -8);
        assert.equal(await cache.get('n'), -8);
        await cache.set('m', 1_000);
        assert.equal(await cache.increment('m', { by: 5 }), 1_005);
      });

      test('gives a TTL only to a key it creates', async ({ cache, elapse, gone }) => {
        assert.equal(await cache.increment('n', { ttlMs: 60_000 }), 1);
        const first = await cache.ttl('n');
        assert.ok(first !== undefined && first > 0 && first <= 60_000, `ttl ${first}`);
        elapse(30_000);
        assert.equal(await cache.increment('n', { ttlMs: 90_000 }), 2);
        const second = await cache.ttl('n');
        assert.ok(second !== undefined && second <= (manual ? 30_000 : first), `ttl ${second} was extended`);
        if (manual) {
          elapse(30_000);
          await gone('n');
        }
        await cache.set('plain', 7);
        assert.equal(await cache.increment('plain', { ttlMs: 60_000 }), 8);
        assert.equal(await cache.ttl('plain'), Number.POSITIVE_INFINITY);
      });

      test('refuses a value that is not an integer with CACHE_NOT_A_NUMBER and leaves it alone', async ({ cache }) => {
        const values: unknown[] = ['abc', '7', 1.5, { n: 1 }, [1], true, null, Uint8Array.from([0x31])];
        for (const [i, value] of values.entries()) {
          await cache.set(`v${i}`, value);
          await rejects(cache.increment(`v${i}`), 'CACHE_NOT_A_NUMBER');
          assert.deepEqual(await cache.get(`v${i}`), value);
        }
      });

      test('refuses a by that is not a safe integer and a bad ttlMs with CACHE_INVALID_ARGUMENT', async ({ cache }) => {
        for (const by of [1.5, Number.NaN, 2 ** 60])
          await rejects(cache.increment('n', { by }), 'CACHE_INVALID_ARGUMENT');
        for (const ttlMs of [0, -1, 1.5]) await rejects(cache.set('n', 1, { ttlMs }), 'CACHE_INVALID_ARGUMENT');
        assert.equal(await cache.get('n'), undefined);
      });

      test('is atomic under concurrent calls', async ({ cache }) => {
        const results = await Promise.all(Array.from({ length: 100 }, () => cache.increment('n', { ttlMs: 60_000 })));
        assert.deepEqual(
          [...results].sort((a, b) => a - b),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.equal(await cache.get('n'), 100);
      });
    });

    describe('getOrLoad', () => {
      test('loads a missing key once, stores it with its TTL, then serves the stored value', async ({ cache }) => {
        let calls = 0;
        const loader = ({ key }: { key: string }) => {
          calls++;
          return { key, at: calls };
        };
        assert.deepEqual(await cache.getOrLoad('k', loader, { ttlMs: 60_000 }), { key: 'k', at: 1 });
        assert.deepEqual(await cache.getOrLoad('k', loader), { key: 'k', at: 1 });
        assert.equal(calls, 1);
        const left = await cache.ttl('k');
        assert.ok(left !== undefined && left > 0 && left <= 60_000);
      });

      test('single-flight: a stampede on one key calls the loader once and shares its value', async ({ cache }) => {
        const gate = deferred<string>();
        let calls = 0;
        const callers = Array.from({ length: 20 }, () =>
          cache.getOrLoad('hot', () => {
            calls++;
            return gate.promise;
          }),
        );
        const other = cache.getOrLoad('other', () => 'separate');
        await waitFor(() => calls === 1, { what: 'the loader to be called' });
        gate.resolve('loaded');
        assert.deepEqual(await Promise.all(callers), Array(20).fill('loaded'));
        assert.equal(await other, 'separate');
        assert.equal(calls, 1);
        assert.equal(await cache.get('hot'), 'loaded');
      });

      test('a failed load stores nothing, fails every waiter, and the next call loads again', async ({ cache }) => {
        const gate = deferred<string>();
        let calls = 0;
        const boom = new Error('backend down');
        const callers = Array.from({ length: 5 }, () =>
          cache.getOrLoad('k', () => {
            calls++;
            return gate.promise;
          }),
        );
        await waitFor(() => calls === 1, { what: 'the loader to be called' });
        gate.reject(boom);
        for (const caller of callers) await assert.rejects(caller, (err) => err === boom);
        assert.equal(await cache.get('k'), undefined);
        assert.equal(
          await cache.getOrLoad('k', () => {
            calls++;
            return 'second';
          }),
          'second',
        );
        assert.equal(calls, 2);
      });

      test('a loader that resolves undefined stores nothing', async ({ cache }) => {
        assert.equal(await cache.getOrLoad('k', () => undefined), undefined);
        assert.equal(await cache.ttl('k'), undefined);
        assert.equal(await cache.getOrLoad('k', () => 'now'), 'now');
      });

      test(
        'a loaded value over maxValueBytes is refused with CACHE_TOO_LARGE',
        async ({ cache }) => {
          await rejects(
            cache.getOrLoad('k', () => 'x'.repeat(100)),
            'CACHE_TOO_LARGE',
          );
          assert.equal(await cache.get('k'), undefined);
        },
        { cacheOptions: { maxValueBytes: 64 } },
      );
    });

    describe('lifecycle', () => {
      test('close waits for calls in flight, aborts loaders, then refuses calls with CACHE_CLOSED', async ({
        cache,
      }) => {
        let signal: AbortSignal | undefined;
        const load = cache.getOrLoad('k', (ctx) => {
          signal = ctx.signal;
          return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        });
        await waitFor(() => signal !== undefined, { what: 'the loader to be called' });
        const closing = cache.close();
        await rejects(load, 'KERNEL_ABORTED');
        await closing;
        await rejects(cache.get('k'), 'CACHE_CLOSED');
        await rejects(
          cache.getOrLoad('k', () => 1),
          'CACHE_CLOSED',
        );
        await rejects(cache.start(), 'CACHE_CLOSED');
      });
    });
  });
}
