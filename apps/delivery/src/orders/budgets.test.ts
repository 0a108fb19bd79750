import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCache } from '@hubbub/cache';
import { ManualClock } from '@hubbub/kernel';
import { createBudget } from './budgets.ts';

const limited = { code: 'KERNEL_RATE_LIMITED', status: 429 };

describe('request budgets', () => {
  it('in this process: each node keeps its own bucket', async () => {
    const clock = new ManualClock(0);
    const [a, b] = [1, 2].map(() => createBudget({ name: 'x', ratePerSecond: 1, burst: 2, clock }));
    await a!.check('k', 'tries');
    await a!.check('k', 'tries');
    await assert.rejects(a!.check('k', 'tries'), limited);
    await b!.check('k', 'tries'); // another node: a budget of its own
  });

  it('shared through the cache: two nodes spend one budget, which comes back after its window', async () => {
    const clock = new ManualClock(0);
    await using cache = createCache({ url: 'memory://', clock });
    await cache.start();
    const [a, b] = [1, 2].map(() => createBudget({ name: 'x', ratePerSecond: 1 / 10, burst: 3, clock, cache }));
    await a!.spend('k');
    await b!.spend('k');
    await a!.ensure('k', 'tries');
    await b!.check('k', 'tries');
    await assert.rejects(a!.ensure('k', 'tries'), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'KERNEL_RATE_LIMITED');
      assert.equal((err as { detail?: { retryAfterSeconds?: number } }).detail?.retryAfterSeconds, 30);
      return true;
    });
    await assert.rejects(b!.check('k', 'tries'), limited);
    await a!.ensure('other', 'tries'); // keys are apart
    clock.advance(30_000);
    await a!.check('k', 'tries');
  });

  it('lets requests through and tells onError when the shared count cannot be reached', async () => {
    const clock = new ManualClock(0);
    const cache = createCache({ url: 'memory://', clock }); // never started: every call fails
    const errors: unknown[] = [];
    const budget = createBudget({
      name: 'x',
      ratePerSecond: 1,
      burst: 1,
      clock,
      cache,
      onError: (e) => errors.push(e),
    });
    await budget.check('k', 'tries');
    await budget.check('k', 'tries');
    await budget.ensure('k', 'tries');
    assert.equal(errors.length, 3);
    assert.equal((errors[0] as { code?: string }).code, 'CACHE_CLOSED');
  });
});
