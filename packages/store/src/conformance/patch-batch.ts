/**
 * Conformance: patch operations and transactional batches.
 * @module
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { rejectsWith, type TestFn } from './context.ts';

export function patchBatchTests(test: TestFn): void {
  describe('patch', () => {
    test('applies set, add, replace, remove, incr and move in order', async ({ orders }) => {
      await orders.items.create({
        id: 'o1',
        customerId: 'c1',
        status: 'new',
        n: 1,
        tags: ['a', 'c'],
        old: { x: 1 },
        gone: true,
      });
      const { resource, statusCode, etag } = await orders.item('o1', 'c1').patch([
        { op: 'set', path: '/status', value: 'paid' },
        { op: 'add', path: '/tags/1', value: 'b' },
        { op: 'add', path: '/tags/-', value: 'd' },
        { op: 'set', path: '/tags/0', value: 'A' },
        { op: 'incr', path: '/n', value: 2.5 },
        { op: 'incr', path: '/fresh', value: 3 },
        { op: 'replace', path: '/old/x', value: { deep: [1] } },
        { op: 'remove', path: '/gone' },
        { op: 'move', from: '/old', path: '/moved' },
        { op: 'add', path: '/a~1b', value: 'slash' },
      ]);
      assert.equal(statusCode, 200);
      const { _etag, _ts, ...body } = resource!;
      assert.equal(etag, _etag);
      assert.deepEqual(body, {
        id: 'o1',
        customerId: 'c1',
        status: 'paid',
        n: 3.5,
        tags: ['A', 'b', 'c', 'd'],
        fresh: 3,
        moved: { x: { deep: [1] } },
        'a/b': 'slash',
      });
      assert.deepEqual((await orders.item('o1', 'c1').read()).resource, resource);
    });

    test('a patch that cannot apply changes nothing and names the operation', async ({ orders }) => {
      const { resource } = await orders.items.create({ id: 'o1', customerId: 'c1', n: 'one', list: [1] });
      const cases: Array<[unknown[], number]> = [
        [
          [
            { op: 'set', path: '/a', value: 1 },
            { op: 'replace', path: '/missing', value: 1 },
          ],
          1,
        ],
        [[{ op: 'remove', path: '/missing' }], 0],
        [[{ op: 'incr', path: '/n', value: 1 }], 0],
        [[{ op: 'set', path: '/no/parent', value: 1 }], 0],
        [[{ op: 'add', path: '/list/5', value: 1 }], 0],
        [[{ op: 'set', path: '/customerId', value: 'c2' }], 0],
        [[{ op: 'set', path: '/id', value: 'o2' }], 0],
        [[{ op: 'set', path: '/_etag', value: 'x' }], 0],
        [[{ op: 'set', path: 'status', value: 1 }], 0],
        [[{ op: 'frobnicate', path: '/a' }], 0],
        [[{ op: 'set', path: '/a' }], 0],
        [[{ op: 'incr', path: '/a', value: '1' }], 0],
      ];
      for (const [ops, index] of cases) {
        const err = await rejectsWith(orders.item('o1', 'c1').patch(ops), 'STORE_INVALID_PATCH');
        assert.equal(err.detail?.index, index, JSON.stringify(ops));
      }
      await rejectsWith(orders.item('o1', 'c1').patch([]), 'STORE_INVALID_PATCH');
      await rejectsWith(
        orders.item('o1', 'c1').patch(Array.from({ length: 11 }, () => ({ op: 'set', path: '/a', value: 1 }))),
        'STORE_INVALID_PATCH',
      );
      assert.deepEqual((await orders.item('o1', 'c1').read()).resource, resource);
    });

    test('a patch honours ifMatch and a condition', async ({ orders }) => {
      const { etag } = await orders.items.create({ id: 'o1', customerId: 'c1', status: 'new' });
      await rejectsWith(
        orders.item('o1', 'c1').patch([{ op: 'set', path: '/a', value: 1 }], { ifMatch: '"stale"' }),
        'STORE_PRECONDITION_FAILED',
      );
      await rejectsWith(
        orders.item('o1', 'c1').patch({
          operations: [{ op: 'set', path: '/status', value: 'paid' }],
          condition: "FROM c WHERE c.status = 'paid'",
        }),
        'STORE_PRECONDITION_FAILED',
      );
      const err = await rejectsWith(
        orders
          .item('o1', 'c1')
          .patch({ operations: [{ op: 'set', path: '/a', value: 1 }], condition: 'FROM c WHERE c.status =' }),
        'STORE_INVALID_QUERY',
      );
      assert.equal(err.detail?.position, 24);
      const done = await orders
        .item('o1', 'c1')
        .patch(
          { operations: [{ op: 'set', path: '/status', value: 'paid' }], condition: "FROM c WHERE c.status = 'new'" },
          { ifMatch: etag! },
        );
      assert.equal(done.resource?.status, 'paid');
    });
  });

  describe('transactional batch', () => {
    test('applies every operation of a batch in order', async ({ orders }) => {
      await orders.items.create({ id: 'keep', customerId: 'c1', n: 1 });
      const drop = await orders.items.create({ id: 'drop', customerId: 'c1' });
      const { result } = await orders.items.batch(
        [
          { operationType: 'Create', resourceBody: { id: 'new', customerId: 'c1', n: 0 } },
          { operationType: 'Upsert', resourceBody: { id: 'up', customerId: 'c1' } },
          { operationType: 'Replace', id: 'keep', resourceBody: { id: 'keep', customerId: 'c1', n: 2 } },
          { operationType: 'Patch', id: 'new', resourceBody: { operations: [{ op: 'incr', path: '/n', value: 5 }] } },
          { operationType: 'Delete', id: 'drop', ifMatch: drop.etag! },
          { operationType: 'Read', id: 'new' },
        ],
        'c1',
      );
      assert.deepEqual(
        result.map((r) => r.statusCode),
        [201, 201, 200, 200, 204, 200],
      );
      assert.equal(result[5]!.resourceBody?.n, 5);
      assert.equal(result[5]!.eTag, result[3]!.eTag);
      const ids = (await orders.items.readAll({ partitionKey: 'c1' }).fetchAll()).resources.map(
        (r) => (r as { id: string }).id,
      );
      assert.deepEqual(ids, ['keep', 'new', 'up']);
    });

    test('a failing operation rolls the whole batch back and names its index', async ({ orders }) => {
      await orders.items.create({ id: 'exists', customerId: 'c1', n: 1 });
      const err = await rejectsWith(
        orders.items.batch(
          [
            { operationType: 'Create', resourceBody: { id: 'a', customerId: 'c1' } },
            { operationType: 'Replace', id: 'exists', resourceBody: { id: 'exists', customerId: 'c1', n: 2 } },
            { operationType: 'Create', resourceBody: { id: 'exists', customerId: 'c1' } },
          ],
          'c1',
        ),
        'STORE_CONFLICT',
      );
      assert.equal(err.detail?.index, 2);
      assert.equal((await orders.item('a', 'c1').read()).statusCode, 404);
      assert.equal((await orders.item('exists', 'c1').read()).resource?.n, 1);
      const mismatch = await rejectsWith(
        orders.items.batch([{ operationType: 'Create', resourceBody: { id: 'b', customerId: 'c2' } }], 'c1'),
        'STORE_PARTITION_KEY_MISMATCH',
      );
      assert.equal(mismatch.detail?.index, 0);
      const missing = await rejectsWith(
        orders.items.batch(
          [
            { operationType: 'Upsert', resourceBody: { id: 'b', customerId: 'c1' } },
            { operationType: 'Read', id: 'nope' },
          ],
          'c1',
        ),
        'STORE_NOT_FOUND',
      );
      assert.equal(missing.detail?.index, 1);
      assert.equal((await orders.item('b', 'c1').read()).statusCode, 404);
      await rejectsWith(orders.items.batch([], 'c1'), 'STORE_INVALID_BATCH');
      await rejectsWith(orders.items.batch([{ operationType: 'Bogus' } as never], 'c1'), 'STORE_INVALID_BATCH');
    });
  });
  describe('bulk', () => {
    test('creates across partitions, each answering for itself: a taken id 409, an expired one reused', async ({
      store,
      clock,
    }) => {
      const { container: orders } = await store
        .database('shop')
        .containers.create({ id: 'bulk', partitionKey: '/customerId', defaultTtl: -1 });
      await orders.items.create({ id: 'taken', customerId: 'c2', n: 0 });
      await orders.items.create({ id: 'old', customerId: 'c3', ttl: 1 });
      clock.advance(2_000); // 'old' has expired: a create may take its id
      const before = await orders.changeFeed({ startFrom: 'now' }).readNext();
      const result = await orders.items.bulk([
        { operationType: 'Create', resourceBody: { id: 'a', customerId: 'c1', n: 1 } },
        { operationType: 'Create', resourceBody: { id: 'taken', customerId: 'c2', n: 1 } },
        { operationType: 'Create', resourceBody: { id: 'b', customerId: 'c2', n: 2 } },
        { operationType: 'Create', resourceBody: { id: 'old', customerId: 'c3', n: 3 } },
        { operationType: 'Create', resourceBody: { id: 'a', customerId: 'c1', n: 9 } },
        { operationType: 'Create', resourceBody: { id: 'a', customerId: 'c4', n: 4 } },
      ]);
      assert.deepEqual(
        result.map((r) => r.statusCode),
        [201, 409, 201, 201, 409, 201],
      );
      assert.equal(result[0]!.resourceBody?.n, 1);
      assert.equal(typeof result[0]!.eTag, 'string');
      assert.equal((await orders.item('a', 'c1').read()).resource?.n, 1);
      assert.equal((await orders.item('a', 'c1').read()).etag, result[0]!.eTag);
      assert.equal((await orders.item('taken', 'c2').read()).resource?.n, 0);
      assert.equal((await orders.item('old', 'c3').read()).resource?.n, 3);
      // The feed has the created items in the order given.
      const feed = orders.changeFeed({ startFrom: { continuation: before.continuation } });
      assert.deepEqual(
        (await feed.readNext()).items.map((i) => `${i.customerId}/${i.id}`),
        ['c1/a', 'c2/b', 'c3/old', 'c4/a'],
      );
    });

    test('reads across partitions, each answering for itself: a missing or expired item 404', async ({
      store,
      clock,
    }) => {
      const { container: orders } = await store
        .database('shop')
        .containers.create({ id: 'bulk', partitionKey: '/customerId', defaultTtl: -1 });
      const a = await orders.items.create({ id: 'a', customerId: 'c1', n: 1 });
      await orders.items.create({ id: 'a', customerId: 'c2', n: 2 });
      await orders.items.create({ id: 'old', customerId: 'c3', ttl: 1 });
      clock.advance(2_000);
      const result = await orders.items.bulk([
        { operationType: 'Read', id: 'a', partitionKey: 'c2' },
        { operationType: 'Read', id: 'missing', partitionKey: 'c1' },
        { operationType: 'Read', id: 'a', partitionKey: 'c1' },
        { operationType: 'Read', id: 'old', partitionKey: 'c3' },
        { operationType: 'Read', id: 'a', partitionKey: 'c1' },
      ]);
      assert.deepEqual(
        result.map((r) => [r.statusCode, r.resourceBody?.n]),
        [
          [200, 2],
          [404, undefined],
          [200, 1],
          [404, undefined],
          [200, 1],
        ],
      );
      assert.equal(result[2]!.eTag, a.etag);
      assert.equal(result[2]!.resourceBody?._etag, a.etag);
    });

    test('a mixed request runs its operations in order', async ({ orders }) => {
      await orders.items.create({ id: 'gone', customerId: 'c1' });
      const result = await orders.items.bulk([
        { operationType: 'Create', resourceBody: { id: 'a', customerId: 'c1', n: 1 } },
        { operationType: 'Read', id: 'a', partitionKey: 'c1' },
        { operationType: 'Delete', id: 'gone', partitionKey: 'c1' },
        { operationType: 'Read', id: 'gone', partitionKey: 'c1' },
        { operationType: 'Delete', id: 'never', partitionKey: 'c1' },
        { operationType: 'Create', resourceBody: { id: 'a', customerId: 'c1', n: 2 } },
        { operationType: 'Upsert', resourceBody: { id: 'u', customerId: 'c5' }, partitionKey: 'c5' },
        { operationType: 'Patch', id: 'a', partitionKey: 'c1', resourceBody: [{ op: 'incr', path: '/n', value: 5 }] },
      ]);
      assert.deepEqual(
        result.map((r) => r.statusCode),
        [201, 200, 204, 404, 404, 409, 201, 200],
      );
      assert.equal(result[1]!.resourceBody?.n, 1);
      assert.equal((await orders.item('a', 'c1').read()).resource?.n, 6);
    });

    test('a malformed operation rejects the whole request before anything is written', async ({ orders }) => {
      await rejectsWith(orders.items.bulk([]), 'STORE_INVALID_BATCH');
      const err = await rejectsWith(
        orders.items.bulk([
          { operationType: 'Create', resourceBody: { id: 'ok', customerId: 'c1' } },
          { operationType: 'Read', id: 'ok' },
        ]),
        'STORE_INVALID_BATCH',
      );
      assert.equal(err.detail?.index, 1);
      const bad = await rejectsWith(
        orders.items.bulk([
          { operationType: 'Create', resourceBody: { id: 'ok', customerId: 'c1' } },
          { operationType: 'Create', resourceBody: { id: 'x/y', customerId: 'c1' } },
        ]),
        'STORE_INVALID_ITEM',
      );
      assert.equal(bad.detail?.index, 1);
      assert.equal((await orders.item('ok', 'c1').read()).statusCode, 404);
    });
  });
}
