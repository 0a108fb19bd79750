/**
 * `workerThreads`: the app loads and its invocations run on worker threads while triggers,
 * bindings and ports stay on the host's thread — the same behaviour as on one thread, across the
 * thread boundary: trigger metadata, outputs, settlement, errors, hooks and HTTP functions; a
 * worker that stops fails its invocations with FUNCTIONS_WORKER_FAILED and is replaced.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { waitFor } from '@hubbub/kernel';
import { createFunctionsHost } from '../src/index.ts';
import { MemoryBus } from '../src/testing/index.ts';
import { processFlag } from '../src/worker-heap.ts';
import { fixture, serve } from './support.ts';

describe('invocations on worker threads', () => {
  it('runs the app on another thread: metadata, outputs and settlement as on one thread', async () => {
    const bus = new MemoryBus({ maxDeliveryCount: 3, topics: { events: ['audit'] } });
    await using app = await serve({ app: 'bus-app', bus, workerThreads: 1 });
    bus.enqueue('orders', {
      body: { id: 7 },
      messageId: '123',
      subject: 'new-order',
      applicationProperties: { Priority: 'high' },
    });
    await waitFor(() => bus.deliveries[0]?.settled === 'completed');
    assert.deepEqual(bus.take('notifications'), [
      { body: { orderId: 7, status: 'accepted' }, contentType: 'application/json' },
      { body: 'plain text note', contentType: 'text/plain' },
    ]);
    // The app's state lives on the worker; its HTTP function runs there too.
    const state = (await (await fetch(`${app.base}/api/state`)).json()) as {
      orders: { message: unknown; metadata: Record<string, unknown> }[];
    };
    const [order] = state.orders;
    assert.deepEqual(order?.message, { id: 7 });
    assert.equal(order?.metadata.messageId, '123');
    assert.equal(order?.metadata.label, 'new-order');
    assert.equal(order?.metadata.deliveryCount, 1);
    assert.deepEqual(order?.metadata.applicationProperties, { priority: 'high' });
  });

  it('runs many invocations sent in the same turn (one message to the worker for all)', async () => {
    const bus = new MemoryBus({ maxDeliveryCount: 3, topics: { events: ['audit'] } });
    await using _app = await serve({ app: 'bus-app', bus, workerThreads: 2 });
    for (let id = 0; id < 40; id++) bus.enqueue('orders', { body: { id } });
    await waitFor(() => bus.deliveries.filter((d) => d.settled === 'completed').length === 40);
    const sent = bus.take('notifications').filter((n) => typeof n.body === 'object');
    assert.deepEqual(
      sent.map((n) => (n.body as { orderId: number }).orderId).sort((a, b) => a - b),
      Array.from({ length: 40 }, (_, i) => i),
    );
  });

  it('abandons on a thrown error, whose message crosses the thread', async () => {
    const bus = new MemoryBus({ maxDeliveryCount: 2 });
    await using app = await serve({ app: 'bus-app', bus, workerThreads: 2 });
    const failed: { code: string; cause: string }[] = [];
    app.host.on('invocation:failed', (err) => failed.push({ code: err.code, cause: (err.cause as Error).message }));
    bus.enqueue('orders', { body: { id: 9, fail: true } });
    await waitFor(() => bus.deadLettered.length === 1);
    assert.deepEqual(
      failed,
      Array(2).fill({ code: 'FUNCTIONS_INVOCATION_FAILED', cause: 'order 9 cannot be processed' }),
    );
    assert.deepEqual(bus.take('notifications'), []);
  });

  it('runs the app-level and invocation hooks on the worker', async () => {
    await using app = await serve({ app: 'http-app', workerThreads: 1 });
    const res = await fetch(`${app.base}/api/hooked`);
    assert.equal(res.headers.get('x-wrapped'), 'yes');
    assert.deepEqual(await res.json(), { fromHandler: true, hookData: 'pre', app: 'boot' });
  });

  it('replaces a worker that stops; its invocation fails with FUNCTIONS_WORKER_FAILED and runs again', async () => {
    const bus = new MemoryBus({ maxDeliveryCount: 3 });
    await using app = await serve({ app: 'worker-app', bus, workerThreads: 1 });
    const where = async () =>
      (await (await fetch(`${app.base}/api/where`)).json()) as {
        isMainThread: boolean;
        threadId: number;
        appStarted: boolean;
      };
    const before = await where();
    assert.equal(before.isMainThread, false);
    assert.notEqual(before.threadId, threadId);
    assert.equal(before.appStarted, true);

    const failed: string[] = [];
    app.host.on('invocation:failed', (err) => failed.push(err.code));
    bus.enqueue('work', { body: { id: 1, exit: true } });
    await waitFor(() => bus.deliveries.some((d) => d.settled === 'completed'));
    assert.deepEqual(failed, ['FUNCTIONS_WORKER_FAILED']);
    const [done] = bus.take('done') as {
      body: { id: number; isMainThread: boolean; threadId: number; deliveryCount: number };
    }[];
    assert.equal(done?.body.id, 1);
    assert.equal(done?.body.deliveryCount, 2);
    assert.equal(done?.body.isMainThread, false);
    assert.notEqual(done?.body.threadId, before.threadId, 'a new worker ran it');
    const after = await where();
    assert.equal(after.threadId, done?.body.threadId);
    assert.equal(after.appStarted, true, "the replacement ran the app's appStart hooks, as a restarted worker does");
  });

  it('loads an ES module app on the worker', async () => {
    await using app = await serve({ app: 'esm-app', workerThreads: 1 });
    assert.deepEqual(app.host.functions.map((f) => f.name).sort(), ['extra', 'greet']);
    assert.equal(await (await fetch(`${app.base}/api/greet/Lin`)).text(), 'Hi Lin from ESM');
  });

  it('runs an app that streams HTTP on the host thread, where the library serves its streams', async () => {
    await using app = await serve({ app: 'http-stream', workerThreads: 1 });
    const item = await fetch(`${app.base}/api/items/42?q=blue`);
    assert.deepEqual(await item.json(), { id: '42', q: 'blue' });
  });

  it("gives each worker thread the heap sizes asked for, and leaves later threads the process's", async () => {
    const heapAtWork = async (base: string) =>
      (await (await fetch(`${base}/api/heap`)).json()) as { markCompacts: number; newSpaceMb: number };
    const bus = new MemoryBus();
    await using sized = await serve({
      app: 'worker-app',
      bus,
      workerThreads: 1,
      workerHeap: { initialOldSpaceMb: 512, maxSemiSpaceMb: 1 },
    });
    // Started once the first thread is up: V8's sizing (or the test process's flags) again.
    await using plain = await serve({ app: 'worker-app', bus, workerThreads: 1 });
    const small = await heapAtWork(sized.base);
    const usual = await heapAtWork(plain.base);
    // 96 MB held in the old generation: under a 512 MB initial old space no mark-compact runs.
    assert.equal(small.markCompacts, 0);
    assert.ok(usual.markCompacts >= 1, 'the later thread got the larger old space too');
    // Two semi-spaces of at most 1 MB each, however much survives.
    assert.ok(small.newSpaceMb <= 2, `the young generation grew to ${small.newSpaceMb} MB`);
    assert.ok(usual.newSpaceMb > 2, 'the later thread got the small semi-space too');
  });

  it('reads the V8 flags the process was started with', () => {
    assert.equal(processFlag('max-semi-space-size', ['--max-semi-space-size=8', '--expose-gc']), 8);
    assert.equal(processFlag('max-semi-space-size', ['--max_semi_space_size', '16']), 16);
    assert.equal(processFlag('initial-old-space-size', ['--max-semi-space-size=8']), 0);
    assert.equal(processFlag('initial-old-space-size', ['--initial-old-space-size=x']), 0);
  });

  it('refuses a bad workerThreads or workerHeap with FUNCTIONS_INVALID_SETTING', () => {
    for (const [key, value] of [
      ['initialOldSpaceMb', -1],
      ['initialOldSpaceMb', 1.5],
      ['initialOldSpaceMb', 4097],
      ['maxSemiSpaceMb', Number.NaN],
      ['maxSemiSpaceMb', 257],
    ] as const) {
      assert.throws(
        () => createFunctionsHost({ appDir: fixture('worker-app'), workerThreads: 1, workerHeap: { [key]: value } }),
        (err: { code?: string; detail?: { option?: string } }) =>
          err.code === 'FUNCTIONS_INVALID_SETTING' && err.detail?.option === `workerHeap.${key}`,
      );
    }

    for (const workerThreads of [-1, 1.5, 65]) {
      assert.throws(
        () => createFunctionsHost({ appDir: fixture('worker-app'), workerThreads }),
        (err: { code?: string }) => err.code === 'FUNCTIONS_INVALID_SETTING',
      );
    }
  });
});
