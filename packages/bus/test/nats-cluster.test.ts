/**
 * The JetStream bus on a three-server NATS cluster with replicated streams: one server is killed
 * (kill -9, the stream's leader) while one node sends and another receives. Every message whose
 * send was acknowledged is delivered at least once; a send retried with its messageId after a
 * failure is not stored twice (duplicate detection by the stream's window), so no messageId is
 * ever delivered for the first time twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { type Bus, openBus } from '../src/index.ts';
import type { NatsBroker } from '../src/nats/index.ts';
import { type NatsCluster, natsUnavailable, startNats } from '../src/nats/testing.ts';

const unavailable = natsUnavailable();
const TOTAL = 600;

describe('JetStream bus on a three-server cluster', { skip: unavailable }, () => {
  let nats: NatsCluster;
  before(async () => {
    nats = await startNats(3);
  });
  after(() => nats?.stop());

  it('loses no acknowledged message and stores none twice when a server is killed mid-flow', async (t) => {
    const url = `${nats.url}?namespace=kill`; // replicas: 3, from the cluster's size
    let sender: Bus | undefined;
    let receiver: Bus | undefined;
    try {
      sender = await openBus({ url });
      await sender.admin.createQueue('orders', {
        requiresDuplicateDetection: true,
        duplicateDetectionHistoryTimeWindow: 600_000,
        lockDuration: 5_000,
      });
      const streamInfo = await (sender.broker as NatsBroker).jsm.streams.info(
        (sender.broker as NatsBroker).names('orders').stream,
      );
      assert.equal(streamInfo.config.num_replicas, 3, 'streams are replicated on a three-server cluster');
      receiver = await openBus({ url });
      await waitFor(() => receiver!.admin.queueExists('orders'), { timeoutMs: 20_000 });

      const acked = new Set<string>();
      const firstDeliveries = new Map<string, number>();
      const deliveries = new Map<string, number>();
      let retries = 0;
      let stopReceiving = false;
      const receiving = (async () => {
        const r = receiver!.createReceiver('orders');
        while (!stopReceiving) {
          let ms: Awaited<ReturnType<typeof r.receiveMessages>> = [];
          try {
            ms = await r.receiveMessages(50, { maxWaitTimeMs: 500 });
          } catch {
            await new Promise((res) => setTimeout(res, 200)); // the cluster is electing a leader
            continue;
          }
          for (const m of ms) {
            const id = m.messageId!;
            deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
            if (m.deliveryCount === 0) firstDeliveries.set(id, (firstDeliveries.get(id) ?? 0) + 1);
            await m.complete().catch(() => {}); // a lost complete only redelivers (at least once)
          }
        }
      })();

      const send = async (i: number): Promise<void> => {
        const id = `order-${i}`;
        for (let attempt = 0; ; attempt++) {
          try {
            await sender!.createSender('orders').send({ body: { i }, messageId: id });
            acked.add(id);
            return;
          } catch (err) {
            if (attempt > 60) throw err;
            retries++;
            await new Promise((res) => setTimeout(res, 250));
          }
        }
      };

      let killed: string | undefined;
      for (let i = 0; i < TOTAL; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => send(i + j)));
        if (killed === undefined && acked.size >= TOTAL / 3) {
          const broker = sender.broker as NatsBroker;
          const info = await broker.jsm.streams.info(broker.names('orders').stream);
          const leader = nats.nodes.find((n) => n.name === info.cluster?.leader) ?? nats.nodes[0]!;
          killed = leader.name;
          leader.kill();
        }
      }
      assert.ok(killed !== undefined);
      assert.equal(acked.size, TOTAL);
      await waitFor(() => [...acked].every((id) => deliveries.has(id)), { timeoutMs: 90_000, intervalMs: 200 });
      stopReceiving = true;
      await receiving;
      const doubled = [...firstDeliveries].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(doubled, [], 'a messageId stored twice');
      t.diagnostic(
        JSON.stringify({
          killed,
          acked: acked.size,
          retries,
          redelivered: [...deliveries.values()].filter((n) => n > 1).length,
        }),
      );
    } finally {
      await Promise.allSettled([sender?.close(), receiver?.close()]);
    }
  });
});
