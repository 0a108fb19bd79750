/**
 * `GET <basePath>` (`GET /bus`): every queue, topic and subscription with its message counts, so a
 * person (or `hubbub ls`) sees at a glance what the bus holds. Hubbub's own shape, in JSON; the
 * Service Bus listings stay at `/$Resources/Queues` and `/$Resources/Topics`.
 * @module
 */
import type { Bus } from '../client.ts';

/** The counts of a queue or a subscription. */
export interface EntityCounts {
  readonly active: number;
  readonly scheduled: number;
  readonly deferred: number;
  readonly locked: number;
  readonly deadLettered: number;
}

export interface BusOverview {
  readonly queues: readonly ({ readonly name: string } & EntityCounts)[];
  readonly topics: readonly {
    readonly name: string;
    readonly subscriptions: readonly ({ readonly name: string } & EntityCounts)[];
  }[];
}

export async function busOverview(bus: Bus): Promise<BusOverview> {
  const counts = async (address: Parameters<Bus['admin']['getRuntimeProperties']>[0]): Promise<EntityCounts> => {
    const p = await bus.admin.getRuntimeProperties(address);
    return {
      active: p.activeMessageCount,
      scheduled: p.scheduledMessageCount,
      deferred: p.deferredMessageCount,
      locked: p.lockedMessageCount,
      deadLettered: p.deadLetterMessageCount,
    };
  };
  const queues = [];
  for (const q of await bus.admin.listQueues()) queues.push({ name: q.name, ...(await counts({ queue: q.name })) });
  const topics = [];
  for (const t of await bus.admin.listTopics()) {
    const subscriptions = [];
    for (const s of await bus.admin.listSubscriptions(t.name)) {
      subscriptions.push({
        name: s.subscriptionName,
        ...(await counts({ topic: t.name, subscription: s.subscriptionName })),
      });
    }
    topics.push({ name: t.name, subscriptions });
  }
  return { queues, topics };
}
