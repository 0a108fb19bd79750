// Sender.sendReportingDuplicates: which messages an entity's duplicate detection dropped.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createBus } from '../src/index.ts';

it('answers false for a message id sent within the window, true otherwise and without detection', async () => {
  await using bus = createBus();
  await bus.start();
  await bus.admin.createTopic('t', { requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindow: 60_000 });
  await bus.admin.createSubscription('t', 's');
  await bus.admin.createQueue('plain');
  const topic = bus.createSender('t');
  assert.deepEqual(await topic.sendReportingDuplicates({ messageId: 'a', body: 1 }), [true]);
  assert.deepEqual(
    await topic.sendReportingDuplicates([
      { messageId: 'a', body: 2 },
      { messageId: 'b', body: 3 },
      { messageId: 'b', body: 4 },
    ]),
    [false, true, false],
  );
  const plain = bus.createSender('plain');
  assert.deepEqual(
    await plain.sendReportingDuplicates([
      { messageId: 'a', body: 1 },
      { messageId: 'a', body: 1 },
    ]),
    [true, true],
  );
  const receiver = bus.createReceiver({ topic: 't', subscription: 's' }, { receiveMode: 'receiveAndDelete' });
  const got = await receiver.receiveMessages(10, { maxWaitTimeMs: 200 });
  assert.deepEqual(
    got.map((m) => m.body),
    [1, 3],
  );
  await topic.close();
  await assert.rejects(topic.sendReportingDuplicates({ body: 1 }), { code: 'BUS_CLOSED' });
});
