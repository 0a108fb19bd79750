/**
 * Conformance: databases, containers, point operations, optimistic concurrency, bad items.
 * @module
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { rejectsWith, SUITE_MAX_ITEM_BYTES, type TestFn } from './context.ts';

export function crudTests(test: TestFn): void {
  describe('databases and containers', () => {
    test('creates, lists, reads and deletes databases and containers', async ({ store }) => {
      await rejectsWith(store.databases.create({ id: 'shop' }), 'STORE_CONFLICT');
      assert.equal((await store.databases.createIfNotExists({ id: 'shop' })).statusCode, 200);
      await store.databases.create({ id: 'other' });
      assert.deepEqual(
        (await store.databases.readAll()).resources.map((d) => d.id),
        ['other', 'shop'],
      );
      const db = store.database('shop');
      const { resource } = await db.containers.create({
        id: 'events',
        partitionKey: { paths: ['/a/b'] },
        defaultTtl: 60,
      });
      assert.deepEqual(resource.partitionKey.paths, ['/a/b']);
      assert.equal(resource.defaultTtl, 60);
      await rejectsWith(db.containers.create({ id: 'events', partitionKey: '/x' }), 'STORE_CONFLICT');
      const again = await db.containers.createIfNotExists({ id: 'events', partitionKey: '/x' });
      assert.equal(again.statusCode, 200);
      assert.deepEqual(again.resource.partitionKey.paths, ['/a/b']);
      assert.deepEqual(
        (await db.containers.readAll()).resources.map((c) => c.id),
        ['events', 'orders'],
      );
      await db.container('events').delete();
      await rejectsWith(db.container('events').read(), 'STORE_NOT_FOUND');
      await rejectsWith(db.container('events').delete(), 'STORE_NOT_FOUND');
      await rejectsWith(store.database('nope').containers.create({ id: 'x', partitionKey: '/x' }), 'STORE_NOT_FOUND');
      await store.database('other').delete();
      await rejectsWith(store.database('other').read(), 'STORE_NOT_FOUND');
    });

    test('refuses bad names and container definitions', async ({ store }) => {
      await rejectsWith(store.databases.create({ id: 'a/b' }), 'STORE_INVALID_NAME');
      await rejectsWith(store.databases.create({ id: '' }), 'STORE_INVALID_NAME');
      const db = store.database('shop');
      await rejectsWith(db.containers.create({ id: 'x?', partitionKey: '/x' }), 'STORE_INVALID_NAME');
      await rejectsWith(db.containers.create({ id: 'x', partitionKey: 'x' }), 'STORE_INVALID_REQUEST');
      await rejectsWith(
        db.containers.create({ id: 'x', partitionKey: { paths: ['/a', '/b'] } }),
        'STORE_INVALID_REQUEST',
      );
      await rejectsWith(db.containers.create({ id: 'x', partitionKey: '/x', defaultTtl: 0 }), 'STORE_INVALID_REQUEST');
      await rejectsWith(db.containers.create({ id: 'x', partitionKey: '/x', feedRanges: 0 }), 'STORE_INVALID_REQUEST');
    });

    test('deleting a container deletes its items; a new one of that name starts empty', async ({ store, orders }) => {
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      await orders.delete();
      await rejectsWith(orders.item('o1', 'c1').read(), 'STORE_NOT_FOUND');
      await store.database('shop').containers.create({ id: 'orders', partitionKey: '/customerId' });
      assert.equal((await orders.item('o1', 'c1').read()).statusCode, 404);
      assert.deepEqual((await orders.items.readAll().fetchAll()).resources, []);
    });
  });

  describe('items', () => {
    test('creates and reads an item with its system properties', async ({ orders, clock }) => {
      const created = await orders.items.create({ id: 'o1', customerId: 'c1', total: 12.5, lines: [{ sku: 'a' }] });
      assert.equal(created.statusCode, 201);
      const resource = created.resource!;
      assert.equal(resource.id, 'o1');
      assert.equal(resource._ts, Math.floor(clock.now() / 1000));
      assert.equal(typeof resource._etag, 'string');
      assert.equal(created.etag, resource._etag);
      const read = await orders.item('o1', 'c1').read();
      assert.equal(read.statusCode, 200);
      assert.deepEqual(read.resource, resource);
      assert.equal(read.etag, resource._etag);
    });

    test('an id is unique within its partition only', async ({ orders }) => {
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      const err = await rejectsWith(orders.items.create({ id: 'o1', customerId: 'c1', x: 1 }), 'STORE_CONFLICT');
      assert.equal(err.status, 409);
      await orders.items.create({ id: 'o1', customerId: 'c2' });
      assert.equal((await orders.item('o1', 'c1').read()).resource?.x, undefined);
    });

    test('reading a missing item is a 404 response, not an error', async ({ orders }) => {
      const read = await orders.item('none', 'c1').read();
      assert.equal(read.statusCode, 404);
      assert.equal(read.resource, undefined);
    });

    test('replace and upsert change the etag; a stale ifMatch is a precondition failure', async ({ orders }) => {
      const v1 = (await orders.items.create({ id: 'o1', customerId: 'c1', n: 1 })).etag!;
      const v2 = (await orders.item('o1', 'c1').replace({ id: 'o1', customerId: 'c1', n: 2 }, { ifMatch: v1 })).etag!;
      assert.notEqual(v2, v1);
      const err = await rejectsWith(
        orders.item('o1', 'c1').replace({ id: 'o1', customerId: 'c1', n: 3 }, { ifMatch: v1 }),
        'STORE_PRECONDITION_FAILED',
      );
      assert.equal(err.status, 412);
      await rejectsWith(
        orders.items.upsert(
          { id: 'o1', customerId: 'c1', n: 3 },
          { accessCondition: { type: 'IfMatch', condition: v1 } },
        ),
        'STORE_PRECONDITION_FAILED',
      );
      await rejectsWith(orders.item('o1', 'c1').delete({ ifMatch: v1 }), 'STORE_PRECONDITION_FAILED');
      assert.equal((await orders.item('o1', 'c1').read()).resource?.n, 2);
      const v3 = await orders.items.upsert({ id: 'o1', customerId: 'c1', n: 3 }, { ifMatch: v2 });
      assert.equal(v3.statusCode, 200);
      assert.equal((await orders.item('o1', 'c1').read()).resource?.n, 3);
    });

    test('upsert creates, then replaces', async ({ orders }) => {
      assert.equal((await orders.items.upsert({ id: 'o1', customerId: 'c1', n: 1 })).statusCode, 201);
      const second = await orders.items.upsert({ id: 'o1', customerId: 'c1', n: 2 });
      assert.equal(second.statusCode, 200);
      assert.equal(second.resource?.n, 2);
      await rejectsWith(
        orders.items.upsert({ id: 'o2', customerId: 'c1' }, { ifMatch: '"nope"' }),
        'STORE_PRECONDITION_FAILED',
      );
    });

    test('replace and delete of a missing item are not found', async ({ orders }) => {
      await rejectsWith(orders.item('o1', 'c1').replace({ id: 'o1', customerId: 'c1' }), 'STORE_NOT_FOUND');
      await rejectsWith(orders.item('o1', 'c1').delete(), 'STORE_NOT_FOUND');
      await rejectsWith(orders.item('o1', 'c1').patch([{ op: 'set', path: '/a', value: 1 }]), 'STORE_NOT_FOUND');
    });

    test('deletes an item', async ({ orders }) => {
      const { etag } = await orders.items.create({ id: 'o1', customerId: 'c1' });
      const deleted = await orders.item('o1', 'c1').delete({ ifMatch: etag! });
      assert.equal(deleted.statusCode, 204);
      assert.equal((await orders.item('o1', 'c1').read()).statusCode, 404);
      await orders.items.create({ id: 'o1', customerId: 'c1' });
    });

    test('a wrong partition key is refused', async ({ orders }) => {
      const err = await rejectsWith(
        orders.items.create({ id: 'o1', customerId: 'c1' }, { partitionKey: 'c2' }),
        'STORE_PARTITION_KEY_MISMATCH',
      );
      assert.equal(err.status, 400);
      await orders.items.create({ id: 'o1', customerId: 'c1' });
      await rejectsWith(
        orders.item('o1', 'c2').replace({ id: 'o1', customerId: 'c1' }),
        'STORE_PARTITION_KEY_MISMATCH',
      );
      await rejectsWith(orders.item('o1', 'c1').replace({ id: 'o2', customerId: 'c1' }), 'STORE_INVALID_ITEM');
      assert.equal((await orders.item('o1', 'c2').read()).statusCode, 404);
    });

    test('partition keys may be numbers, booleans or null, and nested', async ({ store }) => {
      const db = store.database('shop');
      const { container } = await db.containers.create({ id: 'nested', partitionKey: '/owner/id' });
      for (const key of [7, true, null, 'x']) await container.items.create({ id: 'i', owner: { id: key } });
      for (const key of [7, true, null, 'x']) assert.equal((await container.item('i', key).read()).statusCode, 200);
      assert.equal((await container.item('i', '7').read()).statusCode, 404);
      await rejectsWith(container.items.create({ id: 'j', owner: {} }), 'STORE_INVALID_ITEM');
      await rejectsWith(container.items.create({ id: 'j', owner: { id: { a: 1 } } }), 'STORE_INVALID_ITEM');
    });

    test('system properties set by the caller are refused', async ({ orders }) => {
      for (const property of ['_etag', '_ts', '_rid', '_self']) {
        const err = await rejectsWith(
          orders.items.create({ id: 'o1', customerId: 'c1', [property]: 'x' }),
          'STORE_RESERVED_PROPERTY',
        );
        assert.equal(err.detail?.property, property);
      }
      const { resource } = await orders.items.create({ id: 'o1', customerId: 'c1' });
      await rejectsWith(orders.item('o1', 'c1').replace({ ...resource! }), 'STORE_RESERVED_PROPERTY');
    });

    test('malformed items are refused with the field named', async ({ orders }) => {
      const bad: Array<[unknown, string]> = [
        [[1, 2], ''],
        [null, ''],
        [{ customerId: 'c1' }, 'id'],
        [{ id: '', customerId: 'c1' }, 'id'],
        [{ id: 'a/b', customerId: 'c1' }, 'id'],
        [{ id: 'x'.repeat(256), customerId: 'c1' }, 'id'],
        [{ id: 7, customerId: 'c1' }, 'id'],
        [{ id: 'o1' }, '/customerId'],
        [{ id: 'o1', customerId: 'c1', note: 'nul \u0000 inside' }, ''],
        [{ id: 'o1', customerId: 'c1', note: 'lone \ud800' }, ''],
        [{ id: 'o1', customerId: 'c1', ttl: 'soon' }, 'ttl'],
      ];
      for (const [body, field] of bad) {
        const err = await rejectsWith(orders.items.create(body as object), 'STORE_INVALID_ITEM');
        assert.equal(err.detail?.field, field, JSON.stringify(body)?.slice(0, 40));
      }
      const cyclic: Record<string, unknown> = { id: 'o1', customerId: 'c1' };
      cyclic.self = cyclic;
      await rejectsWith(orders.items.create(cyclic), 'STORE_INVALID_ITEM');
      assert.deepEqual((await orders.items.readAll().fetchAll()).resources, []);
    });

    test('items over the size limit are refused; at the limit they are kept', async ({ orders }) => {
      const base = { id: 'o1', customerId: 'c1', pad: '' };
      const overhead =
        Buffer.byteLength(JSON.stringify(base)) + Buffer.byteLength(',"_etag":"\\"e-1\\"","_ts":1700000000');
      const err = await rejectsWith(
        orders.items.create({ ...base, pad: 'x'.repeat(SUITE_MAX_ITEM_BYTES) }),
        'STORE_TOO_LARGE',
      );
      assert.equal(err.status, 413);
      assert.equal(err.detail?.limit, SUITE_MAX_ITEM_BYTES);
      const fits = await orders.items.create({
        ...base,
        pad: 'é'.repeat(Math.floor((SUITE_MAX_ITEM_BYTES - overhead - 64) / 2)),
      });
      assert.equal(fits.statusCode, 201);
      await rejectsWith(
        orders.item('o1', 'c1').patch([{ op: 'set', path: '/more', value: 'x'.repeat(SUITE_MAX_ITEM_BYTES) }]),
        'STORE_TOO_LARGE',
      );
    });

    test('state survives a restart [restart]', async (ctx) => {
      await ctx.orders.items.create({ id: 'o1', customerId: 'c1', n: 1 });
      await ctx.restart();
      assert.equal((await ctx.orders.item('o1', 'c1').read()).resource?.n, 1);
    });
  });
}
