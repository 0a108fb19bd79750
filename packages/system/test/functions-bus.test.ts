/**
 * The functions host's Service Bus trigger and output on Hubbub's bus, through the bus bridge:
 * settlement, dead-lettering, retries, topics, sessions, bytes, concurrency, batches, lock renewal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Bus, openBus } from '@hubbub/bus';
import { createFunctionsHost } from '@hubbub/functions';
import { type Logger, ManualClock, silentLogger, waitFor } from '@hubbub/kernel';
import { bridgeBus, busConnections } from '../src/index.ts';
import { fixture, serve } from './function-apps.ts';

type State = {
  orders: { message: Record<string, unknown>; metadata: Record<string, unknown> }[];
  audits: { message: unknown; subject: string }[];
  retries: { attempt: number; retryCount: number; deliveryCount: number }[];
  sessions: { session: string; n: number }[];
  bytes: { hex?: string; value?: unknown }[];
  batches: { messages: unknown[]; messageIds: string[] }[];
  long: { message: unknown; deliveryCount: number }[];
  maxConcurrent: number;
};

async function newBus(clock?: ManualClock): Promise<Bus> {
  return openBus({
    url: 'memory://',
    ...(clock === undefined ? {} : { clock }),
    entities: {
      queues: [
        { name: 'orders', maxDeliveryCount: 3 },
        { name: 'notifications' },
        { name: 'audit-log' },
        { name: 'retry-q', maxDeliveryCount: 5 },
        { name: 'session-q', requiresSession: true },
        { name: 'bytes-q' },
        { name: 'batch-q' },
        { name: 'long-q', lockDuration: 10_000, maxDeliveryCount: 2 },
      ],
      topics: [{ name: 'events', subscriptions: [{ name: 'audit' }] }],
    },
  });
}

async function drain(bus: Bus, queue: string, count: number) {
  const receiver = bus.createReceiver({ queue }, { receiveMode: 'receiveAndDelete' });
  const got: unknown[] = [];
  while (got.length < count) {
    const batch = await receiver.receiveMessages(count - got.length, { maxWaitTimeMs: 5_000 });
    if (batch.length === 0) break;
    got.push(...batch.map((m) => ({ body: m.body, contentType: m.contentType })));
  }
  await receiver.close();
  return got;
}

describe('Service Bus trigger and output on the Hubbub bus', () => {
  it('delivers a queue message with Azure-shaped triggerMetadata, completes it, and sends outputs', async () => {
    await using bus = await newBus();
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    await bus.createSender('orders').send({
      body: { id: 7 },
      messageId: '123',
      correlationId: 'corr-1',
      subject: 'new-order',
      applicationProperties: { Priority: 'high', attempt: 1 },
    });
    const notes = await drain(bus, 'notifications', 2);
    assert.deepEqual(notes, [
      { body: { orderId: 7, status: 'accepted' }, contentType: 'application/json' },
      { body: 'plain text note', contentType: 'text/plain' },
    ]);
    const state = (await (await fetch(`${app.base}/api/state`)).json()) as State;
    const [order] = state.orders;
    assert.deepEqual(order?.message, { id: 7 });
    const meta = order!.metadata;
    assert.equal(meta.messageId, '123');
    assert.equal(meta.correlationId, 'corr-1');
    assert.equal(meta.label, 'new-order');
    assert.equal(meta.subject, 'new-order');
    assert.equal(meta.deliveryCount, 1);
    assert.equal(typeof meta.sequenceNumber, 'number');
    assert.match(String(meta.enqueuedTimeUtc), /^\d{4}-\d{2}-\d{2}T/);
    assert.deepEqual(meta.applicationProperties, { priority: 'high', attempt: 1 });
    const props = await bus.admin.getRuntimeProperties({ queue: 'orders' });
    assert.equal(props.activeMessageCount, 0);
  });

  it('abandons when the function throws and the bus dead-letters at maxDeliveryCount', async () => {
    await using bus = await newBus();
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    const failed: { code: string; function: string }[] = [];
    app.host.on('invocation:failed', (err, info) => failed.push({ code: err.code, function: info.function }));
    await bus.createSender('orders').send({ body: { id: 9, fail: true } });
    const dlq = bus.createReceiver({ queue: 'orders', subQueue: 'deadLetter' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeMs: 5_000 });
    assert.ok(dead, 'dead-lettered');
    assert.equal(dead.deadLetterReason, 'MaxDeliveryCountExceeded');
    assert.deepEqual(dead.body, { id: 9, fail: true });
    await dead.complete();
    await dlq.close();
    const state = (await (await fetch(`${app.base}/api/state`)).json()) as State;
    assert.deepEqual(
      state.orders.map((o) => o.metadata.deliveryCount),
      [1, 2, 3],
    );
    assert.deepEqual(failed, Array(3).fill({ code: 'FUNCTIONS_INVOCATION_FAILED', function: 'processOrder' }));
    // The host survived: the next message is processed.
    await bus.createSender('orders').send({ body: { id: 10 } });
    assert.equal((await drain(bus, 'notifications', 2)).length, 2);
  });

  it('retries in process under the retry options before settling', async () => {
    await using bus = await newBus();
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    await bus.createSender('retry-q').send({ body: 'again' });
    const state = await waitFor(async () => {
      const s = (await (await fetch(`${app.base}/api/state`)).json()) as State;
      return s.retries.length === 3 ? s : undefined;
    });
    assert.deepEqual(state.retries, [
      { attempt: 1, retryCount: 0, deliveryCount: 1 },
      { attempt: 2, retryCount: 1, deliveryCount: 1 },
      { attempt: 3, retryCount: 2, deliveryCount: 1 },
    ]);
    await waitFor(async () => (await bus.admin.getRuntimeProperties({ queue: 'retry-q' })).activeMessageCount === 0);
  });

  it('triggers on a topic subscription and sends the return value to a queue', async () => {
    await using bus = await newBus();
    await using _app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    await bus.createSender('events').send({ body: 'order-shipped', subject: 'shipping' });
    assert.deepEqual(await drain(bus, 'audit-log', 1), [
      { body: { audited: 'order-shipped' }, contentType: 'application/json' },
    ]);
  });

  it('keeps each session in order', async () => {
    await using bus = await newBus();
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    const sender = bus.createSender('session-q');
    for (let n = 1; n <= 4; n++) {
      await sender.send([
        { body: { n }, sessionId: 'a' },
        { body: { n }, sessionId: 'b' },
      ]);
    }
    const state = await waitFor(async () => {
      const s = (await (await fetch(`${app.base}/api/state`)).json()) as State;
      return s.sessions.length === 8 ? s : undefined;
    });
    for (const session of ['a', 'b']) {
      assert.deepEqual(
        state.sessions.filter((x) => x.session === session).map((x) => x.n),
        [1, 2, 3, 4],
      );
    }
  });

  it('hands binary bodies over as bytes and honours maxConcurrentCalls', async () => {
    await using bus = await newBus();
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    await bus.createSender('bytes-q').send({ body: new Uint8Array([0xff, 0x00, 0xfe]) });
    const orders = Array.from({ length: 12 }, (_, i) => ({ body: { id: i, slow: true } }));
    await bus.createSender('orders').send(orders);
    const state = await waitFor(async () => {
      const s = (await (await fetch(`${app.base}/api/state`)).json()) as State;
      return s.orders.length === 12 && s.bytes.length === 1 ? s : undefined;
    });
    assert.deepEqual(state.bytes, [{ hex: 'ff00fe' }]);
    assert.ok(state.maxConcurrent <= 4, `at most 4 at once, saw ${state.maxConcurrent}`);
    assert.ok(state.maxConcurrent > 1, `ran concurrently, saw ${state.maxConcurrent}`);
  });

  it('delivers batches to cardinality many functions with array metadata', async () => {
    await using bus = await newBus();
    await bus.createSender('batch-q').send([
      { body: { n: 1 }, messageId: 'a' },
      { body: 'two', messageId: 'b' },
      { body: { n: 3 }, messageId: 'c' },
    ]);
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    const state = await waitFor(async () => {
      const s = (await (await fetch(`${app.base}/api/state`)).json()) as State;
      return s.batches.flatMap((b) => b.messages).length === 3 ? s : undefined;
    });
    assert.deepEqual(state.batches, [{ messages: [{ n: 1 }, 'two', { n: 3 }], messageIds: ['a', 'b', 'c'] }]);
    await waitFor(async () => (await bus.admin.getRuntimeProperties({ queue: 'batch-q' })).activeMessageCount === 0);
  });

  it('renews the lock while a long function runs, so the message is neither redelivered nor lost', async () => {
    const clock = new ManualClock();
    await using bus = await newBus(clock);
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus), clock });
    await bus.createSender('long-q').send({ body: 'slow work' });
    const state = async () => (await (await fetch(`${app.base}/api/state`)).json()) as State;
    await waitFor(async () => (await state()).long.length === 1);
    for (let elapsed = 0; elapsed < 40_000; elapsed += 1_000) {
      clock.advance(1_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await fetch(`${app.base}/api/releaseLong`, { method: 'POST' });
    await waitFor(async () => (await bus.admin.getRuntimeProperties({ queue: 'long-q' })).activeMessageCount === 0);
    const props = await bus.admin.getRuntimeProperties({ queue: 'long-q' });
    assert.equal(props.deadLetterMessageCount, 0);
    assert.deepEqual((await state()).long, [{ message: 'slow work', deliveryCount: 1 }]);
  });

  it('keeps retrying a listener whose queue does not exist yet, and delivers once it does', async () => {
    const clock = new ManualClock();
    await using bus = await openBus({ url: 'memory://', entities: { queues: [{ name: 'notifications' }] } });
    const errors: Record<string, unknown>[] = [];
    const logger: Logger = { ...silentLogger, error: (fields) => errors.push(fields), child: () => logger };
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus), clock, logger });
    const failures: { code: unknown; source: string }[] = [];
    app.host.on('receive:failed', (err, info) =>
      failures.push({ code: (err as { code?: unknown }).code, source: info.source }),
    );
    await waitFor(() => {
      clock.advance(1_000); // the listener fails again after its back-off
      return failures.some((f) => f.source === '{"queue":"orders"}');
    });
    assert.equal(failures[0]?.code, 'BUS_ENTITY_NOT_FOUND');
    assert.ok(
      errors.some((e) => e.source === '{"queue":"orders"}'),
      'and logs it',
    );
    await bus.admin.createQueue('orders');
    await bus.createSender('orders').send({ body: { id: 1 } });
    await waitFor(async () => {
      clock.advance(1_000); // the listener restarts after its back-off
      return (await bus.admin.getRuntimeProperties({ queue: 'notifications' })).activeMessageCount === 2;
    });
  });

  it('sends from an HTTP function through a serviceBus output', async () => {
    await using bus = await newBus();
    await using app = await serve({ app: 'bus-app', bus: bridgeBus(bus) });
    const res = await fetch(`${app.base}/api/enqueue`, { method: 'POST', body: JSON.stringify({ id: 42 }) });
    assert.equal(res.status, 202);
    const notes = await drain(bus, 'notifications', 2);
    assert.deepEqual((notes[0] as { body: unknown }).body, { orderId: 42, status: 'accepted' });
  });

  it('creates the queue and the subscription a trigger receives from, when asked', async () => {
    await using bus = await openBus({
      url: 'memory://',
      entities: { queues: [{ name: 'notifications' }, { name: 'audit-log' }] },
    });
    const port = bridgeBus(bus, { createEntities: true });
    await using app = await serve({ app: 'bus-app', bus: port });
    await port.ready();
    assert.ok(await bus.admin.queueExists('orders'));
    assert.ok(await bus.admin.queueExists('session-q'));
    assert.deepEqual(
      (await bus.admin.listSubscriptions('events')).map((s) => s.subscriptionName),
      ['audit'],
    );
    await bus.createSender('events').send({ body: 'created', subject: 'x' });
    await waitFor(async () => ((await (await fetch(`${app.base}/api/state`)).json()) as State).audits.length > 0);
  });
});

describe('busConnections', () => {
  it('opens a bus of its own for a memory:// connection, and the listener reports that it cannot receive', async () => {
    const connections = busConnections();
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (fields) => errors.push(fields), child: () => logger };
    const host = createFunctionsHost({
      appDir: fixture('broken-missing-setting'),
      settings: { OrdersQueue: 'orders', ServiceBusConnection: 'memory://' },
      bus: connections.resolve,
      logger,
    });
    const failures: { code: unknown; source: string }[] = [];
    host.on('receive:failed', (err, info) =>
      failures.push({ code: (err as { code?: unknown }).code, source: info.source }),
    );
    await host.start();
    try {
      await waitFor(() => failures.length > 0);
      assert.deepEqual(failures[0], { code: 'BUS_ENTITY_NOT_FOUND', source: '{"queue":"orders"}' });
      const [fields] = errors as { err: { code: string }; source: string }[];
      assert.equal(fields?.err.code, 'BUS_ENTITY_NOT_FOUND');
      assert.equal(fields?.source, '{"queue":"orders"}');
    } finally {
      await host.close();
      await connections.close();
    }
  });

  it('names no bus for any other connection string', async () => {
    const connections = busConnections();
    assert.equal(
      await connections.resolve({ name: 'S', value: 'Endpoint=sb://127.0.0.1;SharedAccessKey=x' }),
      undefined,
    );
    await connections.close();
  });
});
