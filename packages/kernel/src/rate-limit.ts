/**
 * Token buckets per client key (an IP address, a user id): each key may spend `burst` at once and
 * earns `ratePerSecond` back. The table is bounded: past `maxKeys` the least recently seen key is
 * forgotten, so a flood of new keys costs memory of at most `maxKeys` buckets.
 * @module
 */
import { type Clock, systemClock } from './clock.ts';
import { InvalidOptionError } from './errors.ts';
import { HttpError } from './http.ts';

export interface RateLimitOptions {
  /** Tokens a key earns back per second. */
  ratePerSecond: number;
  /** Tokens a key may spend at once (and starts with). @default ratePerSecond */
  burst?: number;
  /** Keys remembered at once; the least recently seen is forgotten first. @default 10_000 */
  maxKeys?: number;
  /** @default systemClock */
  clock?: Clock;
}

export interface RateLimiter {
  /** Spends `cost` tokens of `key`: 0 when allowed, else the milliseconds until it would be. */
  take(key: string, cost?: number): number;
  /** Like {@link take}, but throws KERNEL_RATE_LIMITED (429, `detail.retryAfterSeconds`) when refused. */
  check(key: string, what: string, cost?: number): void;
  /** Tokens `key` has now (without spending any). */
  available(key: string): number;
  /** Keys remembered now. */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const rate = options.ratePerSecond;
  const burst = options.burst ?? rate;
  const maxKeys = options.maxKeys ?? 10_000;
  const clock = options.clock ?? systemClock;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new InvalidOptionError('ratePerSecond', 'must be a positive number');
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new InvalidOptionError('burst', 'must be a number ≥ 1');
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new InvalidOptionError('maxKeys', 'must be a positive integer');
  const buckets = new Map<string, Bucket>(); // insertion order = least recently seen first

  const take = (key: string, cost = 1): number => {
    const now = clock.now();
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
      bucket = { tokens: burst, at: now };
    } else {
      buckets.delete(key);
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
      bucket.at = now;
    }
    buckets.set(key, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 0;
    }
    return Math.ceil(((cost - bucket.tokens) / rate) * 1000);
  };

  return {
    take,
    check(key, what, cost = 1) {
      const waitMs = take(key, cost);
      if (waitMs === 0) return;
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new HttpError('KERNEL_RATE_LIMITED', 429, `Too many ${what}; retry in ${retryAfterSeconds} s.`, {
        detail: { retryAfterSeconds },
      });
    },
    available(key) {
      const bucket = buckets.get(key);
      if (bucket === undefined) return burst;
      return Math.min(burst, bucket.tokens + ((clock.now() - bucket.at) / 1000) * rate);
    },
    get size() {
      return buckets.size;
    },
  };
}
