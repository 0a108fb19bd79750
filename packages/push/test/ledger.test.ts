/**
 * What a notification costs the outcome store, and what holds when the process dies: an immediate
 * send is written once (held from the send to its fan-out's end), a held record is readable, is
 * written when its fan-out is late or the service closes, and a fan-out that finds no record (the
 * process died holding it) writes it from its job; a job's tally counts once however often it runs.
 * The store is the reference memory store, counting the operations that reach it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock, sequentialIds, waitFor } from '@hubbub/kernel';
import { MemoryOutcomeStore, OutcomeLedger, type OutcomeRecord, Tally } from '../src/outcomes.ts';
import type { DeliveryOutcome } from '../src/providers/provider.ts';
import { sampleInstallation } from '../src/repository-conformance.ts';
import { createPushService, type PushService } from '../src/service.ts';
import { RecordingProvider } from './recording-provider.ts';

/** The memory store, counting the operations that reach it. */
class CountingStore extends MemoryOutcomeStore {
  readonly ops = { create: 0, get: 0, update: 0 };
  override async create(record: OutcomeRecord): Promise<void> {
    this.ops.create++;
    return super.create(record);
  }
  override async get(id: string) {
    this.ops.get++;
    return super.get(id);
  }
  override async update(id: string, change: (r: OutcomeRecord) => OutcomeRecord) {
    this.ops.update++;
    return super.update(id, change);
  }
}

describe('outcome ledger: store operations per notification', () => {
  let clock: ManualClock;
  let fcm: RecordingProvider;
  let store: CountingStore;
  let push: PushService;
  let release: (() => void) | undefined;

  beforeEach(async () => {
    clock = new ManualClock(1_700_000_000_000);
    fcm = new RecordingProvider('fcmv1');
    store = new CountingStore();
    push = createPushService({ providers: [fcm], outcomes: store, clock, ids: sequentialIds('n') });
    await push.start();
    for (const n of [1, 2, 3]) await push.upsertInstallation(sampleInstallation(`i-${n}`, { tags: ['t'] }));
  });

  afterEach(async () => {
    release?.();
    await push.close();
  });

  /** Makes deliveries wait until `release()`. */
  const hold = () => {
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    fcm.script = async (): Promise<DeliveryOutcome> => {
      await gate;
      return { kind: 'delivered', status: 200 };
    };
  };

  it('an immediate send reaches the store once, with its counts, and nothing reads before writing', async () => {
    const completed = new Promise((resolve) => push.on('notification:completed', resolve));
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{"message":{}}' },
      { kind: 'tags', expression: 't' },
    );
    await completed;
    assert.deepEqual(store.ops, { create: 1, get: 0, update: 0 });
    const stored = await store.get(notificationId);
    assert.equal(stored?.state, 'Completed');
    assert.deepEqual(stored?.counts.fcmv1, { success: 3, gone: 0, invalid: 0, throttled: 0, expired: 0, failed: 0 });
    assert.equal(stored?.enqueueTime, 1_700_000_000_000);
    assert.equal(stored?.target, 't');
  });

  it('a held record is readable before it is written, and written when its fan-out is late', async () => {
    hold();
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'i-1' },
    );
    await waitFor(() => fcm.deliveries.length === 1, { what: 'the delivery to start' });
    assert.equal((await push.getNotificationOutcome(notificationId))?.state, 'Enqueued');
    assert.equal(await store.get(notificationId), undefined, 'held, not yet written');
    clock.advance(10_000); // the hold ends: written as it is
    await waitFor(async () => (await store.get(notificationId)) !== undefined, { what: 'the held record written' });
    release?.();
    const outcome = await waitFor(
      async () => {
        const o = await push.getNotificationOutcome(notificationId);
        return o?.state === 'Completed' ? o : undefined;
      },
      { what: 'the send to complete' },
    );
    assert.equal(outcome.counts.fcmv1?.success, 1);
    assert.deepEqual([store.ops.create, store.ops.update], [1, 1]);
  });

  it('records still held are written when the service closes', async () => {
    hold();
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'i-1' },
    );
    await waitFor(() => fcm.deliveries.length === 1, { what: 'the delivery to start' });
    const closing = push.close();
    release?.();
    await closing;
    const stored = await store.get(notificationId);
    assert.equal(stored?.state, 'Completed');
  });

  it('a scheduled send is written when accepted, with its job id, and stays cancellable', async () => {
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: '{}' },
      { kind: 'installation', installationId: 'i-1' },
      { scheduledAt: clock.now() + 60_000 },
    );
    const stored = await store.get(notificationId);
    assert.equal(stored?.state, 'Enqueued');
    assert.ok(stored?.jobId);
    assert.equal(await push.cancelScheduled(notificationId), true);
    assert.equal((await push.getNotificationOutcome(notificationId))?.state, 'Cancelled');
  });
});

describe('outcome ledger: after a crash', () => {
  const init = { notificationId: 'n-1', format: 'fcmv1' as const, target: 't', enqueueTime: 1_000 };

  it('a fan-out that finds no record (the process died holding it) writes it from its job', async () => {
    const store = new MemoryOutcomeStore();
    const ledger = new OutcomeLedger(store, { retentionMs: 60_000, clock: new ManualClock(5_000) });
    const tally = new Tally();
    tally.plan('fcmv1', 2);
    tally.add('fcmv1', 'success', 2);
    const done = await ledger.record('n-1', tally, { key: 'n-1/fanout', fannedOut: true, init });
    assert.equal(done?.state, 'Completed');
    const stored = await store.get('n-1');
    assert.deepEqual(
      [stored?.state, stored?.enqueueTime, stored?.startTime, stored?.endTime, stored?.deliveries],
      ['Completed', 1_000, 5_000, 5_000, 2],
    );
  });

  it('a late held record does not overwrite the record another process wrote from the job', async () => {
    const store = new MemoryOutcomeStore();
    const clock = new ManualClock(5_000);
    const accepting = new OutcomeLedger(store, { retentionMs: 60_000, clock, holdMs: 1_000 });
    const running = new OutcomeLedger(store, { retentionMs: 60_000, clock });
    await accepting.create(init);
    const tally = new Tally();
    tally.plan('fcmv1');
    tally.add('fcmv1', 'success');
    assert.equal(
      (await running.record('n-1', tally, { key: 'n-1/fanout', fannedOut: true, init }))?.state,
      'Completed',
    );
    clock.advance(1_000); // the accepting process's hold ends
    await accepting.close();
    assert.equal((await store.get('n-1'))?.state, 'Completed');
  });

  it('a job run again after its write counts once', async () => {
    const store = new MemoryOutcomeStore();
    const ledger = new OutcomeLedger(store, { retentionMs: 60_000, clock: new ManualClock(5_000) });
    await store.create({ ...init, state: 'Processing', deliveries: 4, pending: 4, fannedOut: true, counts: {} });
    const tally = new Tally();
    tally.add('fcmv1', 'success', 2);
    await ledger.record('n-1', tally, { key: 'n-1/1/1' });
    assert.equal(await ledger.record('n-1', tally, { key: 'n-1/1/1' }), undefined);
    const stored = await store.get('n-1');
    assert.deepEqual([stored?.pending, stored?.counts.fcmv1?.success, stored?.state], [2, 2, 'Processing']);
    const done = await ledger.record('n-1', tally, { key: 'n-1/2/1' });
    assert.equal(done?.state, 'Completed');
  });
});

/** The memory store with `createMany`, which can be made to wait or to fail; it counts the calls. */
class GroupingStore extends MemoryOutcomeStore {
  readonly groups: string[][] = [];
  creates = 0;
  gate: Promise<void> | undefined;
  failNext = false;
  override async create(record: OutcomeRecord): Promise<void> {
    this.creates++;
    return super.create(record);
  }
  async createMany(records: readonly OutcomeRecord[]): Promise<void> {
    this.groups.push(records.map((r) => r.notificationId));
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('the store is down');
    }
    for (const r of records) await super.create(r);
  }
}

describe('outcome ledger: finished records written in groups (a store with createMany)', () => {
  const init = (n: number) => ({ notificationId: `n-${n}`, format: 'fcmv1' as const, target: 't', enqueueTime: 1_000 });
  const finished = () => {
    const tally = new Tally();
    tally.plan('fcmv1');
    tally.add('fcmv1', 'success');
    return tally;
  };

  it('records that end together go in one write; each caller resolves once its record is stored', async () => {
    const store = new GroupingStore();
    const ledger = new OutcomeLedger(store, { retentionMs: 60_000, clock: new ManualClock(5_000), writeWindowMs: 20 });
    for (const n of [1, 2, 3, 4]) await ledger.create(init(n));
    const done = [1, 2, 3, 4].map((n) =>
      ledger.record(`n-${n}`, finished(), { key: `n-${n}/fanout`, fannedOut: true, init: init(n) }),
    );
    for (const outcome of await Promise.all(done)) assert.equal(outcome?.state, 'Completed');
    assert.deepEqual(store.groups, [['n-1', 'n-2', 'n-3', 'n-4']]);
    assert.equal(store.creates, 0, 'none written on its own');
    for (const n of [1, 2, 3, 4]) assert.equal((await store.get(`n-${n}`))?.state, 'Completed');
    await ledger.close();
  });

  it('those that end while a group is written go in the next; a lone one is a plain create', async () => {
    const store = new GroupingStore();
    const ledger = new OutcomeLedger(store, { retentionMs: 60_000, clock: new ManualClock(5_000), writeWindowMs: 1 });
    for (const n of [1, 2, 3, 4, 5]) await ledger.create(init(n));
    let open!: () => void;
    store.gate = new Promise((resolve) => {
      open = resolve;
    });
    const record = (n: number) =>
      ledger.record(`n-${n}`, finished(), { key: `n-${n}/fanout`, fannedOut: true, init: init(n) });
    const first = [record(1), record(2)];
    await waitFor(() => store.groups.length === 1, { what: 'the first group to be written' });
    let settled = false;
    void Promise.all(first).then(() => {
      settled = true;
    });
    const second = [record(3), record(4)];
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(settled, false, 'not resolved before the store answered');
    assert.equal(store.groups.length, 1, 'one group at a time');
    open();
    await Promise.all([...first, ...second]);
    assert.deepEqual(store.groups, [
      ['n-1', 'n-2'],
      ['n-3', 'n-4'],
    ]);
    const creates = store.creates;
    await record(5);
    assert.equal(store.groups.length, 2, 'a group of one is not a createMany');
    assert.equal(store.creates, creates + 1);
    await ledger.close();
  });

  it('a failed group rejects each of its callers, and the records are written when the jobs run again', async () => {
    const store = new GroupingStore();
    const ledger = new OutcomeLedger(store, { retentionMs: 60_000, clock: new ManualClock(5_000), writeWindowMs: 1 });
    for (const n of [1, 2]) await ledger.create(init(n));
    store.failNext = true;
    const record = (n: number) =>
      ledger.record(`n-${n}`, finished(), { key: `n-${n}/fanout`, fannedOut: true, init: init(n) });
    const results = await Promise.allSettled([record(1), record(2)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(await store.get('n-1'), undefined);
    assert.equal((await ledger.get('n-1'))?.state, 'Enqueued', 'still held, still readable');
    const again = await Promise.all([record(1), record(2)]);
    assert.deepEqual(
      again.map((o) => o?.state),
      ['Completed', 'Completed'],
    );
    assert.equal((await store.get('n-2'))?.counts.fcmv1?.success, 1);
    await ledger.close();
  });

  it('closing writes the records waiting for their group', async () => {
    const store = new GroupingStore();
    const ledger = new OutcomeLedger(store, {
      retentionMs: 60_000,
      clock: new ManualClock(5_000),
      writeWindowMs: 60_000,
    });
    for (const n of [1, 2]) await ledger.create(init(n));
    const done = [1, 2].map((n) =>
      ledger.record(`n-${n}`, finished(), { key: `n-${n}/fanout`, fannedOut: true, init: init(n) }),
    );
    await ledger.close();
    await Promise.all(done);
    assert.deepEqual(store.groups, [['n-1', 'n-2']]);
    assert.equal((await store.get('n-2'))?.state, 'Completed');
  });
});

describe('job runner: a job waiting for its outcome write does not hold a delivery slot', () => {
  it('with one slot, the next job delivers while the first one’s write waits; both complete', async () => {
    const fcm = new RecordingProvider('fcmv1');
    const store = new GroupingStore();
    let open!: () => void;
    store.gate = new Promise((resolve) => {
      open = resolve;
    });
    const push = createPushService({ providers: [fcm], outcomes: store, concurrency: 1, ids: sequentialIds('n') });
    await push.start();
    try {
      for (const n of [1, 2, 3]) await push.upsertInstallation(sampleInstallation(`i-${n}`));
      const completed: string[] = [];
      push.on('notification:completed', (o) => completed.push(o.notificationId));
      // The first write is a group of one: a plain create. Block the store's create too.
      const create = store.create.bind(store);
      store.create = async (record) => {
        await store.gate;
        return create(record);
      };
      for (const n of [1, 2, 3]) {
        await push.send({ format: 'fcmv1', body: '{}' }, { kind: 'installation', installationId: `i-${n}` });
      }
      await waitFor(() => fcm.deliveries.length === 3, { what: 'every job to deliver while the writes wait' });
      assert.deepEqual(completed, [], 'no outcome written yet');
      open();
      await waitFor(() => completed.length === 3, { what: 'the three notifications to complete' });
    } finally {
      open();
      await push.close();
    }
  });
});
