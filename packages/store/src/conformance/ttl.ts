/**
 * Conformance: time to live, on the injected clock.
 * @module
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { rejectsWith, SUITE_SWEEP_INTERVAL_MS, type TestFn } from './context.ts';

export function ttlTests(test: TestFn): void {
  describe('time to live', () => {
    test('expired items vanish from reads, queries and the feed, and the sweep deletes them', async ({
      store,
      clock,
    }) => {
      const { container } = await store
        .database('shop')
        .containers.create({ id: 'sessions', partitionKey: '/user', defaultTtl: 60 });
      await container.items.create({ id: 's1', user: 'u1' });
      clock.advance(30_000);
      await container.items.create({ id: 's2', user: 'u1' });
      await container.items.create({ id: 'forever', user: 'u1', ttl: -1 });
      await container.items.create({ id: 'short', user: 'u1', ttl: 5 });
      clock.advance(10_000);
      const visible = async (): Promise<string[]> =>
        ((await container.items.query('SELECT VALUE c.id FROM c').fetchAll()).resources as string[]).sort();
      assert.deepEqual(await visible(), ['forever', 's1', 's2']);
      clock.advance(20_000);
      assert.deepEqual(await visible(), ['forever', 's2']);
      assert.equal((await container.item('s1', 'u1').read()).statusCode, 404);
      assert.deepEqual(
        (await container.changeFeed({}).readNext()).items.map((i) => i.id),
        ['s2', 'forever'],
      );
      assert.deepEqual((await container.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll()).resources, [2]);
      await rejectsWith(container.item('s1', 'u1').replace({ id: 's1', user: 'u1' }), 'STORE_NOT_FOUND');
      const swept: number[] = [];
      store.on('swept', (info) => swept.push(info.removed));
      assert.equal(await store.sweep(), 2);
      assert.deepEqual(swept, [2]);
      assert.equal(await store.sweep(), 0);
      await container.items.create({ id: 's1', user: 'u1' });
      assert.deepEqual(await visible(), ['forever', 's1', 's2']);
    });

    test('an expired id can be created again before the sweep', async ({ store, clock }) => {
      const { container } = await store
        .database('shop')
        .containers.create({ id: 'sessions', partitionKey: '/user', defaultTtl: -1 });
      await container.items.create({ id: 's1', user: 'u1', ttl: 1, v: 1 });
      clock.advance(1_000);
      const again = await container.items.create({ id: 's1', user: 'u1', v: 2 });
      assert.equal(again.statusCode, 201);
      clock.advance(86_400_000);
      assert.equal((await container.item('s1', 'u1').read()).resource?.v, 2, 'default -1: no expiry');
      assert.equal(await store.sweep(), 0);
    });

    test('item ttl is ignored while the container has TTL off', async ({ orders, clock }) => {
      await orders.items.create({ id: 'o1', customerId: 'c1', ttl: 1 });
      clock.advance(3_600_000);
      assert.equal((await orders.item('o1', 'c1').read()).statusCode, 200);
      await rejectsWith(orders.items.create({ id: 'o2', customerId: 'c1', ttl: 0 }), 'STORE_INVALID_ITEM');
      await rejectsWith(orders.items.create({ id: 'o2', customerId: 'c1', ttl: 1.5 }), 'STORE_INVALID_ITEM');
    });

    test('a patch that sets ttl moves the expiry', async ({ store, clock }) => {
      const { container } = await store
        .database('shop')
        .containers.create({ id: 'sessions', partitionKey: '/user', defaultTtl: 10 });
      await container.items.create({ id: 's1', user: 'u1' });
      clock.advance(5_000);
      await container.item('s1', 'u1').patch([{ op: 'set', path: '/ttl', value: 100 }]);
      clock.advance(50_000);
      assert.equal((await container.item('s1', 'u1').read()).statusCode, 200);
      await rejectsWith(
        container.item('s1', 'u1').patch([{ op: 'set', path: '/ttl', value: 'x' }]),
        'STORE_INVALID_ITEM',
      );
    });

    test('the background sweep runs on the clock and reports through events', async ({ store, clock }) => {
      const { container } = await store
        .database('shop')
        .containers.create({ id: 'sessions', partitionKey: '/user', defaultTtl: 1 });
      await container.items.create({ id: 's1', user: 'u1' });
      const swept = new Promise<number>((resolve) => store.on('swept', (info) => resolve(info.removed)));
      clock.advance(SUITE_SWEEP_INTERVAL_MS);
      assert.equal(await swept, 1);
    });
  });
}
