/**
 * The unmodified `@azure/service-bus` 7.9.x SDK against two bus nodes on NATS JetStream, each with
 * its AMQP front: what one SDK client sends through node A another receives through node B —
 * peek-lock (GUID lock tokens minted by the JetStream broker), abandon (redelivered with its
 * delivery count), dead-letter, complete. Needs /usr/sbin/nats-server (skipped without, failing
 * under CI).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ServiceBusClient } from '@azure/service-bus';
import { type Bus, openBus } from '@hubbub/bus';
import { type NatsCluster, natsUnavailable, startNats } from '@hubbub/bus/nats/testing';
import { waitFor } from '@hubbub/kernel';
import { type AmqpFront, createAmqpFront } from '../src/index.ts';
import { KEY } from './harness.ts';

const unavailable = natsUnavailable();

describe('the Service Bus SDK on two JetStream bus nodes', { skip: unavailable ?? false }, () => {
  let nats: NatsCluster;
  const buses: Bus[] = [];
  const fronts: AmqpFront[] = [];
  const clients: ServiceBusClient[] = [];
  before(async () => {
    nats = await startNats(1);
    const url = `${nats.url}?namespace=amqp`;
    for (let i = 0; i < 2; i++) {
      const bus = await openBus({ url, ...(i === 0 ? { entities: { queues: [{ name: 'orders' }] } } : {}) });
      buses.push(bus);
      await waitFor(() => bus.admin.queueExists('orders'), { timeoutMs: 10_000 });
      const front = createAmqpFront({ bus, keys: [KEY], port: 0 });
      await front.start();
      fronts.push(front);
      clients.push(
        new ServiceBusClient(front.connectionString(KEY), { retryOptions: { maxRetries: 1, timeoutInMs: 10_000 } }),
      );
    }
  });
  after(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(fronts.map((f) => f.close()));
    await Promise.allSettled(buses.map((b) => b.close()));
    await nats?.stop();
  });

  it('sends through one node and settles through the other', async () => {
    const [a, b] = clients as [ServiceBusClient, ServiceBusClient];
    const sender = a.createSender('orders');
    await sender.sendMessages([1, 2, 3].map((n) => ({ body: { n }, messageId: `o${n}` })));
    const receiver = b.createReceiver('orders');
    const got = await receiver.receiveMessages(3, { maxWaitTimeInMs: 5_000 });
    assert.deepEqual(got.map((m) => (m.body as { n: number }).n).sort(), [1, 2, 3]);
    const byN = new Map(got.map((m) => [(m.body as { n: number }).n, m]));
    assert.match(byN.get(1)!.lockToken!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await receiver.completeMessage(byN.get(1)!);
    await receiver.deadLetterMessage(byN.get(2)!, { deadLetterReason: 'bad', deadLetterErrorDescription: 'no n' });
    await receiver.abandonMessage(byN.get(3)!);
    const [again] = await a.createReceiver('orders').receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    assert.equal((again!.body as { n: number }).n, 3);
    assert.equal(again!.deliveryCount, 1);
    const dlq = a.createReceiver('orders', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    assert.equal(dead!.deadLetterReason, 'bad');
    assert.equal(dead!.messageId, 'o2');
    await receiver.close();
  });
});
