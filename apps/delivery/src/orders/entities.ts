/**
 * The bus entities of order processing, created when missing: topic `orders` with duplicate
 * detection (a day's window: a create retried with the same Idempotency-Key within it is dropped
 * by the bus; after it, the processor finds the order written and writes nothing), and its
 * subscriptions — `processing` takes the submissions (subject `submitted`), `notifications` every
 * status event (subject = the status; the processor's first event carries its status in the body only).
 * @module
 */
import type { Bus } from '@hubbub/bus';
import type { Logger } from '@hubbub/kernel';

export const SUBMITTED = 'submitted';
export const PROCESSING = 'processing';
export const NOTIFICATIONS = 'notifications';

const DAY_MS = 86_400_000;

export async function ensureEntities(bus: Bus, topic: string, logger: Logger): Promise<void> {
  if (await bus.admin.topicExists(topic)) {
    const existing = await bus.admin.getTopic(topic);
    if (!existing.requiresDuplicateDetection) {
      logger.warn(
        { topic },
        'The orders topic exists without duplicate detection (it cannot be turned on later): a retried create is then deduplicated by the processor alone. Delete the topic to have it created with it.',
      );
    }
  } else {
    await bus.admin.createTopic(topic, {
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindow: DAY_MS,
    });
  }
  const subscriptions = new Set(
    (await bus.admin.listSubscriptions(topic)).map((s) => s.subscriptionName.toLowerCase()),
  );
  if (!subscriptions.has(PROCESSING)) {
    await bus.admin.createSubscription(topic, PROCESSING, {
      maxDeliveryCount: 10,
      rules: [{ name: 'submitted', filter: { kind: 'correlation', subject: SUBMITTED } }],
    });
  }
  if (!subscriptions.has(NOTIFICATIONS)) {
    await bus.admin.createSubscription(topic, NOTIFICATIONS, {
      maxDeliveryCount: 10,
      rules: [
        { name: 'status', filter: { kind: 'sql', expression: `sys.Label IS NULL OR sys.Label <> '${SUBMITTED}'` } },
      ],
    });
  }
}
