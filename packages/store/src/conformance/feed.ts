/**
 * Conformance: the change feed (order, resume, ranges, waking) and the processor's leases.
 * @module
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { ChangeBatch, ChangeFeedProcessor } from '../client/processor.ts';
import type { JsonObject } from '../json.ts';
import { rejectsWith, type TestFn } from './context.ts';

const ids = (items: readonly JsonObject[]): string[] => items.map((i) => i.id as string);

/** Runs a processor's loop in the background, completing every batch; returns what it saw. */
function consume(processor: ChangeFeedProcessor): { seen: string[]; done: Promise<void> } {
  const seen: string[] = [];
  const done = (async () => {
    for await (const batch of processor) {
      seen.push(...ids(batch.items));
      await batch.complete();
    }
  })();
  return { seen, done };
}

export function feedTests(test: TestFn): void {
  describe('change feed', () => {
    test('reads changes in order and resumes from a continuation', async ({ orders }) => {
      for (const id of ['o1', 'o2', 'o3']) await orders.items.create({ id, customerId: 'c1' });
      const feed = orders.changeFeed({ maxItemCount: 2 });
      const first = await feed.readNext();
      assert.equal(first.statusCode, 200);
      assert.deepEqual(ids(first.items), ['o1', 'o2']);
      assert.equal(typeof first.items[0]!._etag, 'string');
      const second = await feed.readNext();
      assert.deepEqual(ids(second.items), ['o3']);
      const empty = await feed.readNext();
      assert.equal(empty.statusCode, 304);
      assert.deepEqual(empty.items, []);
      await orders.items.create({ id: 'o4', customerId: 'c2' });
      const resumed = orders.changeFeed({ startFrom: { continuation: second.continuation } });
      assert.deepEqual(ids((await resumed.readNext()).items), ['o4']);
      const again = orders.changeFeed({ startFrom: { continuation: first.continuation } });
      assert.deepEqual(ids((await again.readNext()).items), ['o3', 'o4']);
    });

    test('an update moves an item to the end; deletes and expired items do not appear', async ({ orders }) => {
      for (const id of ['o1', 'o2', 'o3']) await orders.items.create({ id, customerId: 'c1', v: 1 });
      const feed = orders.changeFeed({});
      assert.deepEqual(ids((await feed.readNext()).items), ['o1', 'o2', 'o3']);
      await orders.item('o1', 'c1').patch([{ op: 'set', path: '/v', value: 2 }]);
      await orders.item('o2', 'c1').delete();
      await orders.items.upsert({ id: 'o3', customerId: 'c1', v: 3 });
      const page = await feed.readNext();
      assert.deepEqual(
        page.items.map((i) => [i.id, i.v]),
        [
          ['o1', 2],
          ['o3', 3],
        ],
      );
      const fromStart = await orders.changeFeed({ startFrom: 'beginning' }).readNext();
      assert.deepEqual(ids(fromStart.items), ['o1', 'o3']);
    });

    test('starts from now, and filters by partition key or range', async ({ store, orders }) => {
      await orders.items.create({ id: 'old', customerId: 'c1' });
      const now = orders.changeFeed({ startFrom: 'now' });
      assert.deepEqual((await now.readNext()).items, []);
      const db = store.database('shop');
      const { container } = await db.containers.create({ id: 'ranged', partitionKey: '/k', feedRanges: 4 });
      const byRange = new Map<number, string[]>();
      for (let i = 0; i < 40; i++) {
        await container.items.create({ id: `i${i}`, k: `key-${i % 10}` });
        if (i < 2) await orders.items.create({ id: `new${i}`, customerId: i === 0 ? 'c1' : 'c2' });
      }
      assert.deepEqual(ids((await now.readNext()).items), ['new0', 'new1']);
      const c2 = await orders.changeFeed({ partitionKey: 'c2' }).readNext();
      assert.deepEqual(ids(c2.items), ['new1']);
      let total = 0;
      for (let range = 0; range < 4; range++) {
        const page = await container.changeFeed({ range, maxItemCount: 100 }).readNext();
        byRange.set(range, ids(page.items));
        total += page.items.length;
        const keys = new Set(page.items.map((i) => i.k));
        for (const other of byRange.keys()) {
          if (other === range) continue;
          const otherKeys = new Set((await container.changeFeed({ range: other }).readNext()).items.map((i) => i.k));
          for (const k of keys) assert.ok(!otherKeys.has(k), `partition ${String(k)} is in two ranges`);
        }
        const order = page.items.map((i) => Number((i.id as string).slice(1)));
        assert.deepEqual(
          order,
          [...order].sort((a, b) => a - b),
          'a range keeps change order',
        );
      }
      assert.equal(total, 40);
      assert.ok([...byRange.values()].filter((v) => v.length > 0).length > 1, 'partitions spread over ranges');
      await rejectsWith(container.changeFeed({ range: 4 }).readNext(), 'STORE_INVALID_REQUEST');
    });

    test('refuses a continuation of another container, range or a malformed one', async ({ store, orders }) => {
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      const feed = orders.changeFeed({});
      const { continuation } = await feed.readNext();
      const { container } = await store.database('shop').containers.create({ id: 'other', partitionKey: '/k' });
      await rejectsWith(container.changeFeed({ startFrom: { continuation } }).readNext(), 'STORE_INVALID_CONTINUATION');
      await rejectsWith(
        orders.changeFeed({ startFrom: { continuation }, range: 1 }).readNext(),
        'STORE_INVALID_CONTINUATION',
      );
      for (const bad of ['nope', '', Buffer.from('{"v":1,"c":"x"}').toString('base64url')]) {
        await rejectsWith(
          orders.changeFeed({ startFrom: { continuation: bad } }).readNext(),
          'STORE_INVALID_CONTINUATION',
        );
      }
      const token = JSON.parse(Buffer.from(continuation, 'base64url').toString());
      token.p = 'garbage';
      await rejectsWith(
        orders
          .changeFeed({ startFrom: { continuation: Buffer.from(JSON.stringify(token)).toString('base64url') } })
          .readNext(),
        'STORE_INVALID_CONTINUATION',
      );
    });

    test('for await wakes on a write through the store', async ({ orders }) => {
      const feed = orders.changeFeed({ startFrom: 'now', pollIntervalMs: 3_600_000 });
      assert.equal((await feed.readNext()).statusCode, 304, "pins 'now' before anything is written");
      const seen: string[] = [];
      const loop = (async () => {
        for await (const page of feed) seen.push(...ids(page.items));
      })();
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      await waitFor(() => seen.length === 1, { what: 'the first change' });
      await orders.items.batch([{ operationType: 'Create', resourceBody: { id: 'o2', customerId: 'c1' } }], 'c1');
      await waitFor(() => seen.length === 2, { what: 'the batch' });
      feed.close();
      await loop;
      assert.deepEqual(seen, ['o1', 'o2']);
    });
  });

  describe('change feed processor', () => {
    test('two instances split the ranges and see every change once', async ({ store, orders }) => {
      const db = store.database('shop');
      const { container: leases } = await db.containers.create({ id: 'leases', partitionKey: '/id' });
      const options = {
        processorName: 'p',
        leaseContainer: leases,
        startFrom: 'beginning' as const,
        leaseAcquireIntervalMs: 1_000,
      };
      const a = orders.changeFeedProcessor({ ...options, instanceName: 'a' });
      const b = orders.changeFeedProcessor({ ...options, instanceName: 'b' });
      await a.start();
      assert.deepEqual(a.ranges, [0, 1, 2, 3]);
      await b.start();
      await b.balance();
      await b.balance();
      await a.renew();
      assert.deepEqual(b.ranges.length, 2);
      assert.deepEqual([...a.ranges, ...b.ranges].sort(), [0, 1, 2, 3]);
      const ca = consume(a);
      const cb = consume(b);
      const expected: string[] = [];
      for (let i = 0; i < 30; i++) {
        await orders.items.create({ id: `o${i}`, customerId: `c${i % 7}` });
        expected.push(`o${i}`);
      }
      await waitFor(() => ca.seen.length + cb.seen.length === 30, { what: 'every change' });
      assert.deepEqual([...ca.seen, ...cb.seen].sort(), expected.sort());
      assert.ok(ca.seen.length > 0 && cb.seen.length > 0);
      await a.close();
      await b.close();
      await Promise.all([ca.done, cb.done]);
    });

    test('a closed instance hands its ranges over, checkpoints kept', async ({ store, orders }) => {
      const { container: leases } = await store
        .database('shop')
        .containers.create({ id: 'leases', partitionKey: '/id' });
      const options = { processorName: 'p', leaseContainer: leases, startFrom: 'beginning' as const };
      const a = orders.changeFeedProcessor({ ...options, instanceName: 'a' });
      const ca = consume(a);
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      await orders.items.create({ id: 'o2', customerId: 'c2' });
      await waitFor(() => ca.seen.length === 2, { what: 'a to see both' });
      await a.close();
      await ca.done;
      await orders.items.create({ id: 'o3', customerId: 'c3' });
      const b = orders.changeFeedProcessor({ ...options, instanceName: 'b' });
      const cb = consume(b);
      await waitFor(() => cb.seen.length === 1, { what: 'b to see the new change' });
      assert.deepEqual(cb.seen, ['o3']);
      await b.close();
      await cb.done;
    });

    test("a crashed instance's leases expire on the clock and are taken over", async ({ store, orders, clock }) => {
      const { container: leases } = await store
        .database('shop')
        .containers.create({ id: 'leases', partitionKey: '/id' });
      const common = {
        processorName: 'p',
        leaseContainer: leases,
        startFrom: 'beginning' as const,
        leaseExpirationMs: 10_000,
      };
      // `a` never renews in this test (its timers are far off): it stands for a process that died.
      const a = orders.changeFeedProcessor({
        ...common,
        instanceName: 'a',
        leaseRenewIntervalMs: 1e9,
        leaseAcquireIntervalMs: 1e9,
      });
      await a.start();
      const b = orders.changeFeedProcessor({
        ...common,
        instanceName: 'b',
        leaseRenewIntervalMs: 3_000,
        leaseAcquireIntervalMs: 2_000,
      });
      const taken: number[] = [];
      b.on('leaseAcquired', (range) => taken.push(range));
      await b.start();
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      clock.advance(9_000);
      await b.balance();
      assert.ok(b.ranges.length < 4, 'before the leases expire, b only steals its share, one per round');
      clock.advance(2_000);
      await b.balance();
      assert.deepEqual(b.ranges, [0, 1, 2, 3]);
      assert.deepEqual(taken.sort(), [0, 1, 2, 3]);
      const cb = consume(b);
      await waitFor(() => cb.seen.length === 1, { what: 'b to read the crashed range' });
      const lost: number[] = [];
      a.on('leaseLost', (range) => lost.push(range));
      await a.renew();
      assert.deepEqual(lost.sort(), [0, 1, 2, 3]);
      assert.deepEqual(a.ranges, []);
      await a.close();
      await b.close();
      await cb.done;
    });

    test('an uncompleted batch is delivered again; completing a lost lease fails', async ({ store, orders, clock }) => {
      const { container: leases } = await store
        .database('shop')
        .containers.create({ id: 'leases', partitionKey: '/id' });
      const common = {
        processorName: 'p',
        leaseContainer: leases,
        startFrom: 'beginning' as const,
        leaseExpirationMs: 5_000,
      };
      const a = orders.changeFeedProcessor({
        ...common,
        instanceName: 'a',
        leaseRenewIntervalMs: 1e9,
        leaseAcquireIntervalMs: 1e9,
      });
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      const it = a[Symbol.asyncIterator]();
      const first = (await it.next()).value as ChangeBatch;
      assert.deepEqual(ids(first.items), ['o1']);
      const again = (await it.next()).value as ChangeBatch;
      assert.deepEqual(ids(again.items), ['o1'], 'not completed: delivered again');
      await rejectsWith(first.complete(), 'STORE_LEASE_LOST');
      clock.advance(6_000);
      const b = orders.changeFeedProcessor({
        ...common,
        instanceName: 'b',
        leaseRenewIntervalMs: 1e9,
        leaseAcquireIntervalMs: 1e9,
      });
      await b.start();
      assert.deepEqual(b.ranges, [0, 1, 2, 3]);
      await rejectsWith(again.complete(), 'STORE_LEASE_LOST');
      await it.return?.();
      await a.close();
      await b.close();
    });

    test('refuses a lease container not partitioned by /id', async ({ orders }) => {
      await rejectsWith(
        orders.changeFeedProcessor({ processorName: 'p', leaseContainer: orders }).start(),
        'STORE_INVALID_REQUEST',
      );
    });
  });
}
