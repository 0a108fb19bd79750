/**
 * The order API's request budgets (failed sign-ins per address and per email, sign-ups per
 * address): token buckets in this process by default, or — with several application nodes behind
 * one load balancer — shared by every node through the cache on Redis, so that N nodes grant one
 * budget instead of N. The shared budget is a fixed window counted with `Cache.increment` (the
 * window's TTL is set when its first request creates the key): `burst` requests per
 * `burst / ratePerSecond` seconds, the same long-run rate as the bucket. When the cache cannot be
 * reached the budget lets requests through (a sign-in must not fail because Redis is down), and
 * the failure is told to `onError`.
 * @module
 */
import type { Cache } from '@hubbub/cache';
import { type Clock, createRateLimiter, HttpError } from '@hubbub/kernel';

export interface Budget {
  /** Throws KERNEL_RATE_LIMITED (429, `detail.retryAfterSeconds`) when `key` has nothing left; spends nothing. */
  ensure(key: string, what: string): Promise<void>;
  /** Spends one request of `key`'s budget. */
  spend(key: string): Promise<void>;
  /** Spends one, throwing KERNEL_RATE_LIMITED when there was none left. */
  check(key: string, what: string): Promise<void>;
}

export interface BudgetOptions {
  readonly name: string;
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly clock: Clock;
  /** Counted in this cache (shared by the nodes using it) instead of this process. */
  readonly cache?: Cache | undefined;
  /** Told when the shared count could not be read or written (the request was let through). */
  readonly onError?: (error: unknown) => void;
}

function limited(what: string, retryAfterSeconds: number): HttpError {
  return new HttpError('KERNEL_RATE_LIMITED', 429, `Too many ${what}; retry in ${retryAfterSeconds} s.`, {
    detail: { retryAfterSeconds },
  });
}

export function createBudget(options: BudgetOptions): Budget {
  const { cache } = options;
  if (cache === undefined) {
    const local = createRateLimiter({
      ratePerSecond: options.ratePerSecond,
      burst: options.burst,
      clock: options.clock,
    });
    return {
      ensure: async (key, what) => {
        if (local.available(key) < 1) local.check(key, what);
      },
      spend: async (key) => {
        local.take(key);
      },
      check: async (key, what) => local.check(key, what),
    };
  }
  const windowMs = Math.ceil((options.burst / options.ratePerSecond) * 1000);
  const keyOf = (key: string) => `budget:${options.name}:${key}`;
  const retryAfter = async (key: string) => Math.max(1, Math.ceil(((await cache.ttl(keyOf(key))) ?? windowMs) / 1000));
  const guarded = async <T>(work: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      options.onError?.(err);
      return fallback;
    }
  };
  return {
    ensure: async (key, what) => {
      const used = await guarded(async () => (await cache.get<number>(keyOf(key))) ?? 0, 0);
      if (used >= options.burst) throw limited(what, await guarded(() => retryAfter(key), 1));
    },
    spend: async (key) => {
      await guarded(() => cache.increment(keyOf(key), { ttlMs: windowMs }), 0);
    },
    check: async (key, what) => {
      const used = await guarded(() => cache.increment(keyOf(key), { ttlMs: windowMs }), 0);
      if (used > options.burst) throw limited(what, await guarded(() => retryAfter(key), 1));
    },
  };
}
