/**
 * The Service Bus extension on its port, with an in-memory bus: what it asks the port for, how it
 * settles, and the events it emits for every failure. The same app on Hubbub's real bus, through
 * the bridge, is tested in packages/system/test/functions-bus.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import type { BusPort } from '../src/index.ts';
import { codedError, MemoryBus } from '../src/testing/index.ts';
import { serve } from './support.ts';

type State = {
  orders: { message: Record<string, unknown>; metadata: Record<string, unknown> }[];
  audits: { message: unknown; subject: string }[];
  retries: { attempt: number; retryCount: number; deliveryCount: number }[];
  sessions: { session: string; n: number }[];
  batches: { messages: unknown[]; messageIds: string[] }[];
  long: { message: unknown; deliveryCount: number }[];
};

const newBus = (clock?: ManualClock) =>
  new MemoryBus({ maxDeliveryCount: 3, topics: { events: ['audit'] }, ...(clock === undefined ? {} : { clock }) });

const stateOf = async (base: string) => (await (await fetch(`${base}/api/state`)).json()) as State;

describe('Service Bus trigger and output on the bus port', () => {
  it('delivers with Azure-shaped metadata, completes after the outputs were sent', async () => {
    const bus = newBus();
    await using app = await serve({ app: 'bus-app', bus });
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
    const [order] = (await stateOf(app.base)).orders;
    assert.deepEqual(order?.message, { id: 7 });
    assert.equal(order?.metadata.messageId, '123');
    assert.equal(order?.metadata.label, 'new-order');
    assert.equal(order?.metadata.deliveryCount, 1);
    assert.deepEqual(order?.metadata.applicationProperties, { priority: 'high' });
    assert.deepEqual(
      bus.receives.find((r) => 'queue' in r.source && r.source.queue === 'orders'),
      { source: { queue: 'orders' }, sessions: false },
    );
  });

  it('a function on a worker thread sees the trigger metadata one on the host thread sees (the worker builds it)', async () => {
    const seen: Record<string, unknown>[] = [];
    for (const workerThreads of [0, 1]) {
      const bus = newBus();
      await using app = await serve({ app: 'bus-app', bus, workerThreads });
      bus.enqueue('orders', {
        body: { id: 8 },
        messageId: '0123',
        correlationId: 'c-"1"',
        contentType: 'application/json',
        subject: 'new-order',
        to: 'kitchen',
        replyTo: 'replies',
        replyToSessionId: 'rs',
        partitionKey: 'p',
        expiresAt: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)),
        deadLetterSource: 'dl',
        applicationProperties: { Priority: 'high', n: 5, at: new Date(Date.UTC(2026, 11, 5)) },
      });
      await waitFor(() => bus.deliveries[0]?.settled === 'completed');
      const metadata = (await stateOf(app.base)).orders[0]!.metadata;
      // Times and lock tokens of the two runs differ; their presence and shape must not.
      for (const key of ['enqueuedTimeUtc', 'lockedUntilUtc', 'lockToken']) {
        assert.equal(typeof metadata[key], 'string', key);
        metadata[key] = typeof metadata[key];
      }
      seen.push(metadata);
    }
    assert.equal(seen[1]!.expiresAtUtc, '2030-01-02T03:04:05.678Z');
    assert.equal(seen[1]!.messageId, '0123');
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual(Object.keys(seen[1]!), Object.keys(seen[0]!));
  });

  it("asks the port to receive ahead as host.json's prefetchCount says (none by default)", async () => {
    const bus = newBus();
    await using _app = await serve({ app: 'prefetch-app', bus });
    assert.deepEqual(bus.receives, [{ source: { queue: 'work' }, sessions: false, prefetch: 8 }]);
  });

  it('abandons when the function throws, emitting invocation:failed each time', async () => {
    const bus = newBus();
    await using app = await serve({ app: 'bus-app', bus });
    const failed: { code: string; cause: string; function: string; trigger: string }[] = [];
    app.host.on('invocation:failed', (err, info) =>
      failed.push({
        code: err.code,
        cause: (err.cause as Error).message,
        function: info.function,
        trigger: info.trigger,
      }),
    );
    bus.enqueue('orders', { body: { id: 9, fail: true } });
    await waitFor(() => bus.deadLettered.length === 1);
    assert.deepEqual(
      failed,
      Array(3).fill({
        code: 'FUNCTIONS_INVOCATION_FAILED',
        cause: 'order 9 cannot be processed',
        function: 'processOrder',
        trigger: 'serviceBusTrigger',
      }),
    );
    assert.deepEqual(bus.take('notifications'), [], 'no output of a failed invocation');
  });

  it('retries in process under the retry options, emitting invocation:retrying', async () => {
    const bus = newBus();
    await using app = await serve({ app: 'bus-app', bus });
    const retrying: number[] = [];
    app.host.on('invocation:retrying', (_err, info) => retrying.push(info.retryCount));
    bus.enqueue('retry-q', { body: 'again' });
    await waitFor(() => bus.deliveries[0]?.settled === 'completed');
    assert.deepEqual(
      (await stateOf(app.base)).retries.map((r) => r.retryCount),
      [0, 1, 2],
    );
    assert.deepEqual(retrying, [1, 2]);
  });

  it('triggers on a topic subscription and sends the return value', async () => {
    const bus = newBus();
    await using _app = await serve({ app: 'bus-app', bus });
    bus.enqueue('events', { body: 'order-shipped', subject: 'shipping' });
    await waitFor(() => bus.queued('audit-log').length === 1);
    assert.deepEqual(bus.take('audit-log'), [{ body: { audited: 'order-shipped' }, contentType: 'application/json' }]);
  });

  it('asks for sessions with maxConcurrentSessions receivers, each handling its session in order', async () => {
    const bus = newBus();
    await using app = await serve({ app: 'bus-app', bus });
    for (let n = 1; n <= 3; n++) {
      for (const sessionId of ['a', 'b', 'c']) bus.enqueue('session-q', { body: { n }, sessionId });
    }
    const state = await waitFor(async () => {
      const s = await stateOf(app.base);
      return s.sessions.length === 9 ? s : undefined;
    });
    for (const session of ['a', 'b', 'c']) {
      assert.deepEqual(
        state.sessions.filter((x) => x.session === session).map((x) => x.n),
        [1, 2, 3],
      );
    }
    const sessionReceives = bus.receives.filter((r) => 'queue' in r.source && r.source.queue === 'session-q');
    assert.equal(sessionReceives.length, 2, 'host.json maxConcurrentSessions');
    assert.ok(sessionReceives.every((r) => r.sessions));
  });

  it('hands batches to cardinality many functions, and single messages when the port has no batches', async () => {
    const bus = newBus();
    bus.enqueue('batch-q', { body: { n: 1 }, messageId: 'a' });
    bus.enqueue('batch-q', { body: 'two', messageId: 'b' });
    await using app = await serve({ app: 'bus-app', bus });
    await waitFor(async () => (await stateOf(app.base)).batches.length === 1);
    assert.deepEqual((await stateOf(app.base)).batches, [{ messages: [{ n: 1 }, 'two'], messageIds: ['a', 'b'] }]);
    assert.equal(bus.receives.find((r) => r.maxMessages !== undefined)?.maxMessages, 1000);

    const plain = newBus();
    const port: BusPort = { send: (e, m) => plain.send(e, m), receive: (s, o) => plain.receive(s, o) };
    plain.enqueue('batch-q', { body: 'one', messageId: 'x' });
    plain.enqueue('batch-q', { body: 'two', messageId: 'y' });
    await using single = await serve({ app: 'bus-app', bus: port });
    await waitFor(async () => (await stateOf(single.base)).batches.length === 2);
    assert.deepEqual((await stateOf(single.base)).batches, [
      { messages: ['one'], messageIds: ['x'] },
      { messages: ['two'], messageIds: ['y'] },
    ]);
  });

  it('renews the lock while a long function runs, so it completes with its lock held', async () => {
    const clock = new ManualClock();
    const bus = new MemoryBus({ clock, lockDurationMs: 10_000 });
    await using app = await serve({ app: 'bus-app', bus, clock });
    bus.enqueue('long-q', { body: 'slow work' });
    await waitFor(async () => (await stateOf(app.base)).long.length === 1);
    for (let elapsed = 0; elapsed < 40_000; elapsed += 1_000) {
      clock.advance(1_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok((bus.deliveries[0]?.renewals ?? 0) >= 4, `renewed ${bus.deliveries[0]?.renewals} times`);
    await fetch(`${app.base}/api/releaseLong`, { method: 'POST' });
    await waitFor(() => bus.deliveries[0]?.settled === 'completed');
    assert.equal(bus.deliveries.length, 1);
  });

  it('emits lock:lost when a renewal fails, and settle:failed when the lock is gone at completion', async () => {
    const clock = new ManualClock();
    const bus = new MemoryBus({ clock, lockDurationMs: 10_000 });
    bus.fail.renew = codedError('LOCK_LOST');
    await using app = await serve({ app: 'bus-app', bus, clock });
    const events: unknown[] = [];
    app.host.on('lock:lost', (err, info) => events.push(['lock:lost', (err as { code?: unknown }).code, info]));
    app.host.on('settle:failed', (err, info) => events.push(['settle:failed', (err as { code?: unknown }).code, info]));
    bus.enqueue('long-q', { body: 'slow work', messageId: 'long-1' });
    await waitFor(async () => (await stateOf(app.base)).long.length === 1);
    await waitFor(() => {
      clock.advance(1_000);
      return events.length === 1;
    });
    clock.advance(10_000);
    await fetch(`${app.base}/api/releaseLong`, { method: 'POST' });
    await waitFor(() => events.length === 2);
    assert.deepEqual(events, [
      ['lock:lost', 'LOCK_LOST', { function: 'longRunning', messageId: 'long-1' }],
      ['settle:failed', 'LOCK_LOST', { function: 'longRunning', messageId: 'long-1', action: 'complete' }],
    ]);
  });

  it('emits settle:failed when a message cannot be completed or abandoned', async () => {
    const bus = newBus();
    bus.fail.complete = codedError('LOCK_LOST', 'complete refused');
    bus.fail.abandon = codedError('LOCK_LOST', 'abandon refused');
    await using app = await serve({ app: 'bus-app', bus });
    const settles: { action: string; function: string; messageId: string | undefined }[] = [];
    app.host.on('settle:failed', (_err, info) => settles.push({ ...info }));
    bus.enqueue('orders', { body: { id: 1 }, messageId: 'ok' });
    await waitFor(() => settles.length === 1);
    bus.enqueue('orders', { body: { id: 2, fail: true }, messageId: 'bad' });
    await waitFor(() => settles.length === 2);
    assert.deepEqual(settles, [
      { function: 'processOrder', messageId: 'ok', action: 'complete' },
      { function: 'processOrder', messageId: 'bad', action: 'abandon' },
    ]);
  });

  it('emits receive:failed and receives again after its back-off', async () => {
    const clock = new ManualClock();
    const bus = newBus(clock);
    await using app = await serve({ app: 'bus-app', bus, clock });
    const failures: { code: unknown; function: string; source: string; retryInMs: number }[] = [];
    app.host.on('receive:failed', (err, info) => failures.push({ code: (err as { code?: unknown }).code, ...info }));
    bus.interrupt(codedError('GONE', 'the bus went away'));
    await waitFor(() => failures.some((f) => f.function === 'processOrder'));
    assert.deepEqual(
      failures.find((f) => f.function === 'processOrder'),
      { code: 'GONE', function: 'processOrder', source: '{"queue":"orders"}', retryInMs: 1_000 },
    );
    bus.enqueue('orders', { body: { id: 1 } });
    await waitFor(() => {
      clock.advance(1_000);
      return bus.deliveries[0]?.settled === 'completed';
    });
  });

  it('sends from an HTTP function through a serviceBus output', async () => {
    const bus = newBus();
    await using app = await serve({ app: 'bus-app', bus });
    const res = await fetch(`${app.base}/api/enqueue`, { method: 'POST', body: JSON.stringify({ id: 42 }) });
    assert.equal(res.status, 202);
    await waitFor(() => bus.queued('notifications').length === 2);
    assert.deepEqual(bus.take('notifications')[0]?.body, { orderId: 42, status: 'accepted' });
  });

  it('fails the start with FUNCTIONS_BINDING_UNAVAILABLE when a resolver names no bus, passing it the setting', async () => {
    const seen: { name: string; value: string }[] = [];
    await assert.rejects(
      serve({
        app: 'bus-app',
        bus: (connection) => {
          seen.push(connection);
          return undefined;
        },
      }),
      { code: 'FUNCTIONS_BINDING_UNAVAILABLE' },
    );
    assert.equal(seen[0]?.name, 'ServiceBusConnection');
    assert.match(seen[0]?.value ?? '', /^Endpoint=sb:\/\//);
    assert.equal(seen.length, 1, 'one call per connection setting');
  });
});
