import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ServiceBusClient as Client,
  isServiceBusError,
  ServiceBusClient,
  type ServiceBusReceivedMessage,
} from '@azure/service-bus';
import { waitFor } from '@hubbub/kernel';
import { type Harness, startHarness } from './harness.ts';

// The official SDK, unchanged, through senders and receivers against both embedded engines.

const entities = {
  queues: [
    { name: 'props' },
    { name: 'batches' },
    { name: 'settle', lockDuration: 'PT30S', maxDeliveryCount: 5 },
    { name: 'scheduled' },
    { name: 'rnd' },
    { name: 'stream' },
    { name: 'peeks' },
    { name: 'small', maxMessageSizeInKilobytes: 1 },
    { name: 'full', maxSizeInMegabytes: 1 },
  ],
};

async function drain(client: Client, queue: string, n: number): Promise<ServiceBusReceivedMessage[]> {
  const receiver = client.createReceiver(queue);
  const out: ServiceBusReceivedMessage[] = [];
  while (out.length < n) {
    const got = await receiver.receiveMessages(n - out.length, { maxWaitTimeInMs: 5000 });
    assert.ok(got.length > 0, `timed out with ${out.length} of ${n}`);
    for (const m of got) {
      await receiver.completeMessage(m);
      out.push(m);
    }
  }
  await receiver.close();
  return out;
}

for (const engine of ['memory', 'file'] as const) {
  describe(`SDK senders and receivers (${engine} engine)`, () => {
    let h: Harness;
    let client: Client;
    before(async () => {
      h = await startHarness({ engine, entities });
      client = new ServiceBusClient(h.connectionString, { retryOptions: { maxRetries: 1, timeoutInMs: 10_000 } });
    });
    after(async () => {
      await client.close();
      await h.close();
    });

    it('carries every message and application property', async () => {
      const when = new Date('2026-01-02T03:04:05.678Z');
      await client.createSender('props').sendMessages({
        body: { order: 7, items: ['a', 'b'] },
        messageId: 'm-1',
        correlationId: 'c-1',
        subject: 'driveby',
        contentType: 'application/json',
        to: 'someone',
        replyTo: 'back',
        replyToSessionId: 'rs',
        partitionKey: 'pk',
        timeToLive: 3_600_000,
        applicationProperties: { s: 'x', n: 42, neg: -5, f: 1.5, b: true, d: when, big: 2 ** 40, nothing: null },
      });
      const [m] = await drain(client, 'props', 1);
      assert.ok(m);
      assert.deepEqual(m.body, { order: 7, items: ['a', 'b'] });
      assert.equal(m.messageId, 'm-1');
      assert.equal(m.correlationId, 'c-1');
      assert.equal(m.subject, 'driveby');
      assert.equal(m.contentType, 'application/json');
      assert.equal(m.to, 'someone');
      assert.equal(m.replyTo, 'back');
      assert.equal(m.replyToSessionId, 'rs');
      assert.equal(m.partitionKey, 'pk');
      assert.equal(m.timeToLive, 3_600_000);
      assert.equal(m.deliveryCount, 0);
      assert.equal(m.state, 'active');
      assert.equal(typeof m.sequenceNumber?.toNumber(), 'number');
      assert.ok(m.enqueuedTimeUtc instanceof Date);
      assert.ok(m.expiresAtUtc instanceof Date);
      const p = m.applicationProperties!;
      assert.equal(p.s, 'x');
      assert.equal(p.n, 42);
      assert.equal(p.neg, -5);
      assert.equal(p.f, 1.5);
      assert.equal(p.b, true);
      assert.equal(p.d, when.getTime(), 'the SDK turns timestamps into numbers on receive');
      assert.equal(Number(p.big), 2 ** 40);
      assert.equal(p.nothing, null);
    });

    it('sends singles, arrays and createMessageBatch; stamps a message id when none was sent', async () => {
      const sender = client.createSender('batches');
      await sender.sendMessages({ body: 'one' });
      await sender.sendMessages([{ body: 'two' }, { body: Buffer.from([1, 2, 3]) }]);
      const batch = await sender.createMessageBatch();
      assert.equal(batch.maxSizeInBytes, 262_144);
      for (const body of ['three', 'four', 'five']) assert.ok(batch.tryAddMessage({ body }));
      await sender.sendMessages(batch);
      const got = await drain(client, 'batches', 6);
      assert.deepEqual(
        got.map((m) => (Buffer.isBuffer(m.body) ? [...m.body] : m.body)),
        ['one', 'two', [1, 2, 3], 'three', 'four', 'five'],
      );
      for (const m of got) assert.equal(typeof m.messageId, 'string');
      const seqs = got.map((m) => m.sequenceNumber!.toNumber());
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
      );
    });

    it('refuses a message over the entity maximum with MessageSizeExceeded', async () => {
      const sender = client.createSender('small');
      await assert.rejects(sender.sendMessages({ body: 'x'.repeat(4096) }), (err) => {
        assert.ok(isServiceBusError(err));
        assert.equal(err.code, 'MessageSizeExceeded');
        return true;
      });
      await sender.sendMessages({ body: 'fits' });
    });

    it('refuses a send past the entity size (maxSizeInMegabytes) with QuotaExceeded until a message is settled', async () => {
      const sender = client.createSender('full');
      const big = 'x'.repeat(200 * 1024);
      for (let i = 0; i < 5; i++) await sender.sendMessages({ body: big });
      await assert.rejects(sender.sendMessages({ body: big }), (err) => {
        assert.ok(isServiceBusError(err));
        assert.equal(err.code, 'QuotaExceeded');
        return true;
      });
      await drain(client, 'full', 1);
      await sender.sendMessages({ body: big });
      await drain(client, 'full', 5);
    });

    it('schedules and cancels', async () => {
      const sender = client.createSender('scheduled');
      const later = new Date(Date.now() + 3_600_000);
      const [keep, cancel] = await sender.scheduleMessages([{ body: 'keep' }, { body: 'cancel' }], later);
      assert.ok(keep !== undefined && cancel !== undefined);
      await sender.cancelScheduledMessages(cancel);
      const receiver = client.createReceiver('scheduled');
      const peeked = await receiver.peekMessages(10);
      assert.deepEqual(
        peeked.map((m) => [m.body, m.state, m.sequenceNumber!.toNumber()]),
        [['keep', 'scheduled', keep.toNumber()]],
      );
      assert.equal(peeked[0]!.scheduledEnqueueTimeUtc?.getTime(), later.getTime());
      assert.equal((await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).length, 0);
      // A message sent with scheduledEnqueueTimeUtc through the link is scheduled too.
      await sender.sendMessages({ body: 'soon', scheduledEnqueueTimeUtc: new Date(Date.now() + 200) });
      const [soon] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      assert.equal(soon?.body, 'soon');
      await receiver.completeMessage(soon!);
      await receiver.close();
    });

    it('settles: complete, abandon with property changes, dead-letter with reason, defer and receive deferred', async () => {
      const sender = client.createSender('settle');
      await sender.sendMessages([{ body: 'abandon-me' }, { body: 'dead-letter-me' }, { body: 'defer-me' }]);
      const receiver = client.createReceiver('settle');
      const [a, d, f] = await receiver.receiveMessages(3, { maxWaitTimeInMs: 5000 });
      assert.ok(a && d && f, 'three messages');
      const until = a.lockedUntilUtc!.getTime();
      const renewed = await receiver.renewMessageLock(a);
      assert.ok(renewed.getTime() >= until);
      await receiver.abandonMessage(a, { reason: 'retry', attempt: 1 });
      await receiver.deadLetterMessage(d, { deadLetterReason: 'bad', deadLetterErrorDescription: 'it was bad' });
      await receiver.deferMessage(f);
      const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      assert.equal(again?.body, 'abandon-me');
      assert.equal(again?.deliveryCount, 1);
      assert.equal(again?.applicationProperties?.reason, 'retry');
      assert.equal(again?.applicationProperties?.attempt, 1);
      // Settled behind the SDK's back (here through the bus itself): the lock is gone.
      await h.bus.broker.settle('settle', again!.lockToken!, { kind: 'complete' });
      await assert.rejects(receiver.completeMessage(again!), (err) => {
        assert.ok(isServiceBusError(err));
        assert.equal(err.code, 'MessageLockLost');
        return true;
      });
      const [deferred] = await receiver.receiveDeferredMessages(f.sequenceNumber!);
      assert.equal(deferred?.body, 'defer-me');
      assert.equal(deferred?.state, 'deferred');
      await receiver.completeMessage(deferred!);
      const dlq = client.createReceiver('settle', { subQueueType: 'deadLetter' });
      const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      assert.equal(dead?.body, 'dead-letter-me');
      assert.equal(dead?.deadLetterReason, 'bad');
      assert.equal(dead?.deadLetterErrorDescription, 'it was bad');
      await dlq.completeMessage(dead!);
      assert.equal((await receiver.peekMessages(10)).length, 0);
      await dlq.close();
      await receiver.close();
    });

    it('receives and deletes', async () => {
      await client.createSender('rnd').sendMessages([{ body: 1 }, { body: 2 }]);
      const receiver = client.createReceiver('rnd', { receiveMode: 'receiveAndDelete' });
      const got: ServiceBusReceivedMessage[] = [];
      while (got.length < 2) got.push(...(await receiver.receiveMessages(2, { maxWaitTimeInMs: 5000 })));
      assert.deepEqual(
        got.map((m) => m.body),
        [1, 2],
      );
      assert.equal(got[0]!.lockToken, undefined);
      assert.equal((await receiver.peekMessages(5)).length, 0);
      await receiver.close();
    });

    it('streams with subscribe and getMessageIterator', async () => {
      const sender = client.createSender('stream');
      await sender.sendMessages(Array.from({ length: 20 }, (_, i) => ({ body: i })));
      const seen: number[] = [];
      const receiver = client.createReceiver('stream');
      const sub = receiver.subscribe(
        {
          processMessage: async (m) => {
            seen.push(m.body as number);
          },
          processError: async () => {},
        },
        { maxConcurrentCalls: 4 },
      );
      await waitFor(() => seen.length === 20, { timeoutMs: 10_000 });
      await sub.close();
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i),
      );
      await sender.sendMessages([{ body: 'i1' }, { body: 'i2' }]);
      const bodies: unknown[] = [];
      for await (const m of receiver.getMessageIterator()) {
        bodies.push(m.body);
        await receiver.completeMessage(m);
        if (bodies.length === 2) break;
      }
      assert.deepEqual(bodies, ['i1', 'i2']);
      await receiver.close();
    });

    it('peeks from a sequence number', async () => {
      await client.createSender('peeks').sendMessages(Array.from({ length: 5 }, (_, i) => ({ body: i })));
      const receiver = client.createReceiver('peeks');
      const all = await receiver.peekMessages(10, { fromSequenceNumber: undefined as never });
      assert.equal(all.length, 5);
      const third = all[2]!.sequenceNumber!;
      const rest = await receiver.peekMessages(10, { fromSequenceNumber: third });
      assert.deepEqual(
        rest.map((m) => m.body),
        [2, 3, 4],
      );
      assert.equal((await receiver.peekMessages(10)).length, 0, 'the SDK continues after the last peeked');
      await receiver.close();
    });

    it('reports a missing entity as MessagingEntityNotFound', async () => {
      await assert.rejects(client.createSender('nope').sendMessages({ body: 1 }), (err) => {
        assert.ok(isServiceBusError(err));
        assert.equal(err.code, 'MessagingEntityNotFound');
        return true;
      });
      await assert.rejects(client.createReceiver('nope').receiveMessages(1, { maxWaitTimeInMs: 500 }), (err) => {
        assert.ok(isServiceBusError(err));
        assert.equal(err.code, 'MessagingEntityNotFound');
        return true;
      });
    });
  });
}
