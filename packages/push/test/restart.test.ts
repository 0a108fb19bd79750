import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, sequentialIds, waitFor } from '@hubbub/kernel';
import { createMemoryPushQueue, type MemoryPushQueue } from '../src/memory/queue.ts';
import { createMemoryInstallationRepository } from '../src/memory/repository.ts';
import { createMemoryOutcomeStore } from '../src/outcomes.ts';
import type { LockedJob, PushJobBody, PushQueue } from '../src/queue.ts';
import { createPushService, type PushService } from '../src/service.ts';
import { RecordingProvider } from './recording-provider.ts';

/** Stands for a durable queue (the bus): closing one service's handle keeps the jobs for the next. */
class SurvivingQueue implements PushQueue {
  readonly kind = 'surviving';
  readonly inner: MemoryPushQueue;
  constructor(inner: MemoryPushQueue) {
    this.inner = inner;
  }
  open = () => this.inner.open();
  enqueue = (body: PushJobBody, options?: { scheduledAt?: number }) => this.inner.enqueue(body, options);
  cancel = (id: string) => this.inner.cancel(id);
  receive = (signal: AbortSignal): AsyncIterable<LockedJob> => this.inner.receive(signal);
  async close() {}
}

describe('a restart', () => {
  it('delivers and counts, after a restart, what was sent before it; a scheduled send stays cancellable', async () => {
    const clock = new ManualClock(Date.parse('2026-12-04T12:00:00Z'));
    const queue = new SurvivingQueue(createMemoryPushQueue({ clock }));
    const repository = createMemoryInstallationRepository();
    const outcomes = createMemoryOutcomeStore();
    const open = async (provider: RecordingProvider): Promise<PushService> => {
      const push = createPushService({
        providers: [provider],
        clock,
        queue,
        repository,
        outcomes,
        ids: sequentialIds('n'),
      });
      await push.start();
      return push;
    };

    const before = new RecordingProvider('fcmv1');
    const first = await open(before);
    await first.upsertInstallation({ installationId: 'f1', platform: 'fcmv1', pushChannel: 'tok-1', tags: ['a'] });
    const at = clock.now() + 60_000;
    const kept = await first.send(
      { format: 'fcmv1', body: '{"n":1}' },
      { kind: 'tags', expression: 'a' },
      { scheduledAt: at },
    );
    const dropped = await first.send(
      { format: 'fcmv1', body: '{"n":2}' },
      { kind: 'tags', expression: 'a' },
      { scheduledAt: at },
    );
    await first.close();

    const after = new RecordingProvider('fcmv1');
    const second = await open(after);
    try {
      assert.equal((await second.getNotificationOutcome(kept.notificationId))?.state, 'Enqueued');
      assert.equal(await second.cancelScheduled(dropped.notificationId), true);
      clock.advance(60_000);
      const outcome = await waitFor(async () => {
        const o = await second.getNotificationOutcome(kept.notificationId);
        return o?.state === 'Completed' ? o : undefined;
      });
      assert.equal(outcome.counts.fcmv1?.success, 1);
      assert.deepEqual(
        after.deliveries.map((d) => d.body),
        ['{"n":1}'],
      );
      assert.equal(before.deliveries.length, 0);
      assert.equal((await second.getNotificationOutcome(dropped.notificationId))?.state, 'Cancelled');
    } finally {
      await second.close();
    }
  });
});
