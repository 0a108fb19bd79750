import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { MemoryDriver } from '../drivers/memory/driver.ts';
import type { StoreError } from '../errors.ts';
import { createStore } from './store.ts';

async function withOrders(options: Parameters<typeof createStore>[0] = {}) {
  const store = createStore(options);
  const db = (await store.databases.create({ id: 'shop' })).database;
  const { container } = await db.containers.create({ id: 'orders', partitionKey: '/customerId', defaultTtl: 60 });
  return { store, orders: container };
}

describe('store lifecycle', () => {
  it('the factory starts nothing: no driver opened, no timer', async () => {
    const clock = new ManualClock();
    let opened = 0;
    const driver = new MemoryDriver();
    driver.open = async () => {
      opened++;
    };
    const store = createStore({ driver, clock });
    assert.equal(opened, 0);
    assert.equal(clock.pending, 0);
    await store.start();
    await store.start();
    assert.equal(opened, 1);
    assert.equal(clock.pending, 1, 'the sweep is scheduled');
    await store.close();
    assert.equal(clock.pending, 0);
  });

  it('the first operation starts the store; after close every operation is STORE_CLOSED', async () => {
    const { store, orders } = await withOrders();
    assert.equal(store.driverKind, 'memory');
    await orders.items.create({ id: 'o1', customerId: 'c1' });
    await store[Symbol.asyncDispose]();
    await store.close();
    await assert.rejects(orders.item('o1', 'c1').read(), { code: 'STORE_CLOSED', status: 503 });
    await assert.rejects(store.start(), { code: 'STORE_CLOSED' });
  });

  it('close waits for operations in flight', async () => {
    const { store, orders } = await withOrders();
    const writes = Array.from({ length: 20 }, (_, i) => orders.items.create({ id: `o${i}`, customerId: 'c1' }));
    await store.close();
    const settled = await Promise.allSettled(writes);
    assert.ok(settled.every((s) => s.status === 'fulfilled'));
  });

  it('validates options at construction', () => {
    for (const options of [
      { url: 'mysql://x' },
      { url: 'memory://', driver: new MemoryDriver() },
      { maxItemBytes: 0 },
      { sweepIntervalMs: -1 },
      { systemProperties: 'keep' as never },
    ]) {
      assert.throws(() => createStore(options), { code: 'KERNEL_INVALID_OPTION' }, JSON.stringify(options));
    }
  });

  it("systemProperties: 'ignore' drops them, as Cosmos DB does", async () => {
    const { store, orders } = await withOrders({ systemProperties: 'ignore' });
    const { resource } = await orders.items.create({ id: 'o1', customerId: 'c1', n: 1 });
    const { resource: again } = await orders.item('o1', 'c1').replace({ ...resource!, n: 2, _rid: 'x' });
    assert.notEqual(again!._etag, resource!._etag);
    assert.equal((again as unknown as { _rid?: string })._rid, undefined);
    await store.close();
  });

  it('the default item limit is 2 MiB', async () => {
    const { store, orders } = await withOrders();
    await orders.items.create({ id: 'fits', customerId: 'c1', pad: 'x'.repeat(2 * 1_048_576 - 200) });
    await assert.rejects(orders.items.create({ id: 'big', customerId: 'c1', pad: 'x'.repeat(2 * 1_048_576) }), {
      code: 'STORE_TOO_LARGE',
    });
    await store.close();
  });

  it('a driver failure is STORE_DRIVER_FAILURE with its cause; a failed sweep is an error event', async () => {
    const clock = new ManualClock();
    const driver = new MemoryDriver();
    const { store, orders } = await withOrders({ driver, clock, sweepIntervalMs: 1_000 });
    const boom = new Error('disk on fire');
    driver.read = async () => {
      throw boom;
    };
    const err = await orders
      .item('o1', 'c1')
      .read()
      .catch((e: StoreError) => e);
    assert.equal((err as StoreError).code, 'STORE_DRIVER_FAILURE');
    assert.equal((err as StoreError).cause, boom);
    driver.sweep = async () => {
      throw boom;
    };
    const errors: string[] = [];
    store.on('error', (e, context) => errors.push(`${e.code} ${context.operation}`));
    clock.advance(1_000);
    await waitFor(() => errors.length > 0, { what: 'the sweep to fail' });
    assert.deepEqual(errors, ['STORE_DRIVER_FAILURE sweep']);
    await waitFor(() => clock.pending === 1, { what: 'the sweep to be scheduled again' });
    await orders.items.create({ id: 'o1', customerId: 'c1' });
    await store.close();
  });
});

describe('change-feed processor leases', () => {
  it('may keep its leases in another store (a leaseConnection), checked there for the /id key', async () => {
    await using store = createStore({ url: 'memory://' });
    await using other = createStore({ url: 'memory://' });
    const { database } = await store.databases.createIfNotExists({ id: 'shop' });
    const { container: orders } = await database.containers.create({ id: 'orders', partitionKey: '/customerId' });
    const { database: leaseDb } = await other.databases.createIfNotExists({ id: 'ops' });
    const { container: wrong } = await leaseDb.containers.create({ id: 'wrong', partitionKey: '/owner' });
    await assert.rejects(orders.changeFeedProcessor({ processorName: 'p', leaseContainer: wrong }).start(), {
      code: 'STORE_INVALID_REQUEST',
    });
    const { container: leases } = await leaseDb.containers.create({ id: 'leases', partitionKey: '/id' });
    await using processor = orders.changeFeedProcessor({
      processorName: 'p',
      leaseContainer: leases,
      startFrom: 'beginning',
    });
    await orders.items.create({ id: 'o1', customerId: 'c1' });
    for await (const batch of processor) {
      assert.deepEqual(
        batch.items.map((i) => i.id),
        ['o1'],
      );
      await batch.complete();
      break;
    }
    const { resources } = await leases.items.query<{ continuation: unknown }>('SELECT * FROM c').fetchAll();
    assert.equal(
      resources.filter((l) => typeof l.continuation === 'string').length,
      1,
      'the checkpoint is in the other store',
    );
  });
});
