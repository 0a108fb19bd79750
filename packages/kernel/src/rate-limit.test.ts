import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from './clock.ts';
import { HttpError } from './http.ts';
import { createRateLimiter } from './rate-limit.ts';

describe('createRateLimiter', () => {
  it('allows a burst, then one token per 1/rate seconds', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 3, clock });
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.take('a')),
      [0, 0, 0],
    );
    assert.equal(limiter.take('a'), 100);
    clock.advance(100);
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('b'), 0, 'keys have their own buckets');
    assert.equal(limiter.available('a'), 0);
    clock.advance(50);
    assert.equal(limiter.available('a'), 0.5);
    assert.equal(limiter.available('never-seen'), 3);
  });

  it('check() throws KERNEL_RATE_LIMITED with a whole number of seconds to wait', () => {
    const limiter = createRateLimiter({ ratePerSecond: 0.5, burst: 1, clock: new ManualClock() });
    limiter.check('ip', 'negotiates');
    assert.throws(
      () => limiter.check('ip', 'negotiates'),
      (err: unknown) =>
        err instanceof HttpError &&
        err.code === 'KERNEL_RATE_LIMITED' &&
        err.status === 429 &&
        err.detail?.retryAfterSeconds === 2,
    );
  });

  it('forgets the least recently seen key past maxKeys, so a flood of keys stays bounded', () => {
    const clock = new ManualClock();
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100, clock });
    limiter.take('old');
    for (let i = 0; i < 10_000; i++) limiter.take(`k${i}`);
    assert.equal(limiter.size, 100);
    assert.equal(limiter.take('old'), 0, 'the forgotten key starts with a full bucket');
  });

  it('validates its options', () => {
    assert.throws(() => createRateLimiter({ ratePerSecond: 0 }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createRateLimiter({ ratePerSecond: 1, burst: 0.5 }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createRateLimiter({ ratePerSecond: 1, maxKeys: 0 }), { code: 'KERNEL_INVALID_OPTION' });
  });
});
