/**
 * The conformance suite every {@link OutcomeStore} runs. Run it from a five-line file:
 *
 * ```ts
 * import { describeOutcomeStore } from '@hubbub/push/conformance';
 * import { createMemoryOutcomeStore } from '@hubbub/push';
 * describeOutcomeStore({ name: 'memory', create: () => createMemoryOutcomeStore() });
 * ```
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { OutcomeRecord, OutcomeStore } from './outcomes.ts';

export interface OutcomeStoreSuiteOptions {
  name: string;
  /** A fresh, empty store per test. */
  create: () => OutcomeStore | Promise<OutcomeStore>;
  /**
   * Two stores over the same records, as two processes sharing a database see them; without it
   * the cases about another writer are skipped (a store of one process has none).
   */
  createPair?: () => Promise<readonly [OutcomeStore, OutcomeStore]>;
  /** When set, every case is skipped with this reason (the store's server is not reachable). */
  unavailable?: string;
  cleanup?: () => Promise<void>;
}

const record = (id: string, overrides: Partial<OutcomeRecord> = {}): OutcomeRecord => ({
  notificationId: id,
  state: 'Enqueued',
  format: 'template',
  target: 'a || b',
  enqueueTime: 1_700_000_000_000,
  deliveries: 0,
  pending: 0,
  fannedOut: false,
  counts: {},
  ...overrides,
});

export function describeOutcomeStore(options: OutcomeStoreSuiteOptions): void {
  const { name, create, createPair, unavailable, cleanup } = options;
  const paired = (title: string, body: (a: OutcomeStore, b: OutcomeStore) => Promise<void>): void => {
    const run = async () => {
      const [a, b] = await createPair!();
      try {
        await body(a, b);
      } finally {
        await a.close();
        await b.close();
      }
    };
    const skip = unavailable ?? (createPair === undefined ? 'the store has no second writer (createPair)' : undefined);
    if (skip !== undefined) it(title, { skip }, run);
    else it(title, run);
  };
  const test = (title: string, body: (store: OutcomeStore) => Promise<void>): void => {
    const run = async () => {
      const store = await create();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    };
    if (unavailable !== undefined) it(title, { skip: unavailable }, run);
    else it(title, run);
  };

  describe(`OutcomeStore conformance: ${name}`, () => {
    if (cleanup !== undefined && unavailable === undefined) after(cleanup);

    test('round-trips a record; an unknown id is undefined', async (store) => {
      const full = record('n-1', {
        state: 'Completed',
        scheduledAt: 1_700_000_060_000,
        startTime: 1_700_000_060_001,
        endTime: 1_700_000_060_002,
        deliveries: 3,
        fannedOut: true,
        counts: { browser: { success: 2, gone: 1, invalid: 0, throttled: 4, expired: 0, failed: 0 } },
        jobId: 'job-9',
        applied: ['n-1/fanout', 'n-1/2/1'],
      });
      await store.create(full);
      assert.deepEqual(await store.get('n-1'), full);
      assert.equal(await store.get('n-2'), undefined);
    });

    test('create over an existing record replaces it', async (store) => {
      await store.create(record('n-1'));
      await store.update('n-1', (r) => ({ ...r, deliveries: 5 }));
      const again = record('n-1', { state: 'Completed', endTime: 9, deliveries: 2, fannedOut: true });
      await store.create(again);
      assert.deepEqual(await store.get('n-1'), again);
      const stored = await store.update('n-1', (r) => ({ ...r, pending: 1 }));
      assert.deepEqual(stored, { ...again, pending: 1 });
    });

    test('update replaces the record with what change returns, and answers it', async (store) => {
      await store.create(record('n-1'));
      const stored = await store.update('n-1', (r) => ({ ...r, state: 'Processing', startTime: 5 }));
      assert.equal(stored?.state, 'Processing');
      assert.deepEqual(await store.get('n-1'), stored);
      assert.equal(await store.update('missing', (r) => r), undefined);
    });

    test('concurrent updates of one record all apply', async (store) => {
      await store.create(record('n-1'));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          store.update('n-1', (r) => ({ ...r, deliveries: r.deliveries + 1, pending: r.pending + 1 })),
        ),
      );
      const r = await store.get('n-1');
      assert.deepEqual([r?.deliveries, r?.pending], [20, 20]);
    });

    test('many records written at once each land, and each update answers its own record', async (store) => {
      const ids = Array.from({ length: 60 }, (_, n) => `many-${n}`);
      await Promise.all(ids.map((id) => store.create(record(id))));
      const stored = await Promise.all(
        ids.map((id, n) => store.update(id, (r) => ({ ...r, state: 'Processing', deliveries: n }))),
      );
      assert.deepEqual(
        stored.map((r) => [r?.notificationId, r?.deliveries]),
        ids.map((id, n) => [id, n]),
      );
      // Again, with several updates of each record in flight together.
      await Promise.all(
        ids.flatMap((id) => [1, 2, 3].map(() => store.update(id, (r) => ({ ...r, pending: r.pending + 1 })))),
      );
      for (const [n, id] of ids.entries()) {
        const r = await store.get(id);
        assert.deepEqual([r?.state, r?.deliveries, r?.pending], ['Processing', n, 3], id);
      }
    });

    test('createMany (when the store has it) writes every record; one that exists is replaced', async (store) => {
      if (store.createMany === undefined) return;
      await store.create(record('g-0', { deliveries: 7 }));
      const group = Array.from({ length: 12 }, (_, n) =>
        record(`g-${n}`, { state: 'Completed', endTime: 5, deliveries: n, fannedOut: true }),
      );
      await store.createMany(group);
      for (const r of group) assert.deepEqual(await store.get(r.notificationId), r);
      // Each can be updated after (the store knows what it wrote).
      const stored = await store.update('g-3', (r) => ({ ...r, pending: 2 }));
      assert.deepEqual([stored?.deliveries, stored?.pending], [3, 2]);
      assert.equal(await store.sweep(10), 12);
    });

    paired('createMany over a record another writer changed replaces it', async (a, b) => {
      if (a.createMany === undefined) return;
      await b.create(record('p-1'));
      await b.update('p-1', (r) => ({ ...r, deliveries: 4 }));
      await a.createMany([record('p-1', { deliveries: 1 }), record('p-2', { deliveries: 2 })]);
      assert.equal((await b.get('p-1'))?.deliveries, 1);
      const stored = await a.update('p-1', (r) => ({ ...r, deliveries: r.deliveries + 10 }));
      assert.equal(stored?.deliveries, 11);
      assert.equal((await b.get('p-2'))?.deliveries, 2);
    });

    test('a record read is not changed by changing the object read', async (store) => {
      await store.create(
        record('n-1', { counts: { fcmv1: { success: 1, gone: 0, invalid: 0, throttled: 0, expired: 0, failed: 0 } } }),
      );
      const read = (await store.get('n-1')) as { counts: { fcmv1: { success: number } } };
      read.counts.fcmv1.success = 99;
      assert.equal((await store.get('n-1'))?.counts.fcmv1?.success, 1);
    });

    paired('an update after another writer changed the record applies to its version', async (a, b) => {
      await a.create(record('n-1'));
      await a.update('n-1', (r) => ({ ...r, deliveries: r.deliveries + 1 }));
      await b.update('n-1', (r) => ({ ...r, deliveries: r.deliveries + 10 }));
      const stored = await a.update('n-1', (r) => ({ ...r, deliveries: r.deliveries + 100 }));
      assert.equal(stored?.deliveries, 111);
      assert.equal((await b.get('n-1'))?.deliveries, 111);
    });

    paired('updates from two writers at once all apply, on one record and on many', async (a, b) => {
      const ids = Array.from({ length: 20 }, (_, n) => `pair-${n}`);
      await Promise.all(ids.map((id) => a.create(record(id))));
      await Promise.all(
        ids.flatMap((id) => [a, b, a, b].map((s) => s.update(id, (r) => ({ ...r, deliveries: r.deliveries + 1 })))),
      );
      for (const id of ids) assert.equal((await b.get(id))?.deliveries, 4, id);
    });

    test('sweep deletes records that finished before the horizon, and only those', async (store) => {
      await store.create(record('old', { state: 'Completed', endTime: 1_000 }));
      await store.create(record('recent', { state: 'Completed', endTime: 5_000 }));
      await store.create(record('running', { state: 'Processing' }));
      assert.equal(await store.sweep(2_000), 1);
      assert.equal(await store.get('old'), undefined);
      assert.ok(await store.get('recent'));
      assert.ok(await store.get('running'));
    });
  });
}
