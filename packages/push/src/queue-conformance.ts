/**
 * The conformance suite every {@link PushQueue} runs (the memory queue here; the composition
 * root's queue on Hubbub's bus). Run it from a five-line file:
 *
 * ```ts
 * import { describePushQueue } from '@hubbub/push/conformance';
 * import { createMemoryPushQueue } from '@hubbub/push';
 * describePushQueue({ name: 'memory', time: 'manual', create: (clock) => createMemoryPushQueue({ clock }) });
 * ```
 *
 * A queue that keeps time on a server (`time: 'server'`) has its scheduled jobs awaited in real
 * time, a few hundred milliseconds each.
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import type { LockedJob, PushQueue } from './queue.ts';

export interface PushQueueSuiteOptions {
  name: string;
  /** A fresh, empty, unopened queue per test; a queue that schedules on a clock reads `clock`. */
  create: (clock: ManualClock) => PushQueue | Promise<PushQueue>;
  /** `manual`: scheduled jobs follow the clock given; `server`: the queue's own (real) time. */
  time: 'manual' | 'server';
  /** When set, every case is skipped with this reason (the queue's server is not reachable). */
  unavailable?: string;
  /** Runs once after the suite. */
  cleanup?: () => Promise<void>;
}

interface Ctx {
  queue: PushQueue;
  clock: ManualClock;
  /** The next job handed out, or undefined when none comes within `withinMs` (real time). */
  next(withinMs?: number): Promise<LockedJob | undefined>;
  /** Lets `ms` of queue time pass. */
  elapse(ms: number): Promise<void>;
}

export function describePushQueue(options: PushQueueSuiteOptions): void {
  const { name, create, time, unavailable, cleanup } = options;
  const test = (title: string, body: (ctx: Ctx) => Promise<void>): void => {
    const run = async () => {
      const clock = new ManualClock();
      const queue = await create(clock);
      await queue.open();
      const abort = new AbortController();
      const iterator = queue.receive(abort.signal)[Symbol.asyncIterator]();
      let pending: Promise<IteratorResult<LockedJob>> | undefined;
      const ctx: Ctx = {
        queue,
        clock,
        async next(withinMs = 300) {
          pending ??= iterator.next();
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), withinMs);
          });
          const result = await Promise.race([pending, timeout]);
          clearTimeout(timer);
          if (result === 'timeout') return undefined;
          pending = undefined;
          return result.done === true ? undefined : result.value;
        },
        async elapse(ms) {
          if (time === 'manual') clock.advance(ms);
          else await new Promise((resolve) => setTimeout(resolve, ms));
        },
      };
      try {
        await body(ctx);
      } finally {
        abort.abort();
        await queue.close();
      }
    };
    if (unavailable !== undefined) it(title, { skip: unavailable }, run);
    else it(title, run);
  };

  describe(`PushQueue conformance: ${name}`, () => {
    if (cleanup !== undefined && unavailable === undefined) after(cleanup);

    test('hands out a job once, as JSON, and complete removes it', async ({ queue, next }) => {
      const body = { type: 'deliver', n: 1, nested: { list: [1, 'two', null], ok: true } };
      const id = await queue.enqueue(body);
      assert.equal(typeof id, 'string');
      const job = await next();
      assert.ok(job);
      assert.deepEqual(job.body, body);
      assert.equal(job.deliveryCount, 1);
      await job.complete();
      assert.equal(await next(), undefined);
    });

    test('hands out due jobs in the order they were enqueued', async ({ queue, next }) => {
      for (const n of [1, 2, 3]) await queue.enqueue({ n });
      const seen: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const job = await next();
        seen.push(job?.body.n);
        await job?.complete();
      }
      assert.deepEqual(seen, [1, 2, 3]);
    });

    test('an abandoned job is handed out again with a higher delivery count', async ({ queue, next }) => {
      await queue.enqueue({ n: 1 });
      const first = await next();
      await first?.abandon();
      const again = await next();
      assert.deepEqual(again?.body, { n: 1 });
      assert.equal(again?.deliveryCount, 2);
      await again?.complete();
    });

    test('a scheduled job is not handed out before its time', async ({ queue, clock, next, elapse }) => {
      const start = time === 'manual' ? clock.now() : Date.now();
      await queue.enqueue({ n: 'later' }, { scheduledAt: start + 400 });
      await queue.enqueue({ n: 'now' });
      const now = await next();
      assert.deepEqual(now?.body, { n: 'now' });
      await now?.complete();
      assert.equal(await next(50), undefined);
      await elapse(450);
      const later = await next(time === 'manual' ? 300 : 2_000);
      assert.deepEqual(later?.body, { n: 'later' });
      await later?.complete();
    });

    test('cancel removes a scheduled job; an unknown id is false', async ({ queue, clock, next, elapse }) => {
      const start = time === 'manual' ? clock.now() : Date.now();
      const id = await queue.enqueue({ n: 'cancelled' }, { scheduledAt: start + 300 });
      assert.equal(await queue.cancel(id), true);
      assert.equal(await queue.cancel(id), false);
      assert.equal(await queue.cancel('no-such-job'), false);
      await elapse(350);
      assert.equal(await next(time === 'manual' ? 100 : 500), undefined);
    });

    test('a job whose key the queue took before is not added again', async ({ queue, next }) => {
      const first = await queue.enqueue({ n: 1 }, { key: 'notification-1/1/1' });
      const job = await next();
      await job?.complete();
      assert.equal(await queue.enqueue({ n: 1 }, { key: 'notification-1/1/1' }), first);
      await queue.enqueue({ n: 2 }, { key: 'notification-1/2/1' });
      await queue.enqueue({ n: 3 });
      await queue.enqueue({ n: 4 });
      const seen: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const j = await next();
        seen.push(j?.body.n);
        await j?.complete();
      }
      assert.deepEqual(seen, [2, 3, 4], 'jobs without a key are never dropped');
      assert.equal(await next(100), undefined);
    });

    test('a receive that stops leaves no job locked: the rest go to the next receive at once', async ({ queue }) => {
      for (const n of [1, 2, 3, 4]) await queue.enqueue({ n });
      const first = new AbortController();
      for await (const job of queue.receive(first.signal)) {
        assert.equal(job.body.n, 1);
        await job.complete();
        break; // a queue that took more than one job in hand must give the others back
      }
      const second = new AbortController();
      const seen: unknown[] = [];
      const timer = setTimeout(() => second.abort(), 5_000);
      for await (const job of queue.receive(second.signal)) {
        seen.push(job.body.n);
        await job.complete();
        if (seen.length === 3) break;
      }
      clearTimeout(timer);
      assert.deepEqual(seen, [2, 3, 4], 'handed out again well within their lock');
    });

    test('receive ends when its signal aborts', async ({ queue }) => {
      const abort = new AbortController();
      const seen: unknown[] = [];
      const reading = (async () => {
        for await (const job of queue.receive(abort.signal)) {
          seen.push(job.body.n);
          await job.complete();
        }
      })();
      await queue.enqueue({ n: 1 });
      await waitFor(() => seen.length === 1);
      abort.abort();
      await reading;
      assert.deepEqual(seen, [1]);
    });
  });
}
