/**
 * A function that fails without an error — `throw undefined`, a promise rejected with null — has
 * failed: its message is abandoned (never completed, so never lost) and its HTTP request is a 500
 * FUNCTIONS_INVOCATION_FAILED, on the host's thread and on invocation worker threads alike.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { MemoryBus } from '../src/testing/index.ts';
import { serve } from './support.ts';

for (const workerThreads of [0, 1]) {
  describe(`a function that throws nothing (workerThreads ${workerThreads})`, () => {
    it('abandons its message until it is dead-lettered; none is completed', async () => {
      const bus = new MemoryBus({ maxDeliveryCount: 2 });
      await using app = await serve({ app: 'throws-nothing', bus, workerThreads });
      const failed: string[] = [];
      app.host.on('invocation:failed', (err) => failed.push(err.code));
      bus.enqueue('work', { body: { id: 1 } });
      bus.enqueue('work', { body: { id: 2, reject: true } });
      await waitFor(() => bus.deadLettered.length === 2);
      assert.ok(!bus.deliveries.some((d) => d.settled === 'completed'));
      assert.deepEqual(failed, Array(4).fill('FUNCTIONS_INVOCATION_FAILED'));
    });

    it('answers its HTTP request 500 FUNCTIONS_INVOCATION_FAILED', async () => {
      await using app = await serve({ app: 'throws-nothing', bus: new MemoryBus(), workerThreads });
      for (const query of ['', '?reject']) {
        const res = await fetch(`${app.base}/api/nothing${query}`);
        assert.equal(res.status, 500, query);
        assert.equal(((await res.json()) as { code: string }).code, 'FUNCTIONS_INVOCATION_FAILED');
      }
    });
  });
}
