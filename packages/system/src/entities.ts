/**
 * The bus as the functions host sees it, creating the queue or subscription a trigger receives
 * from when it is missing (as `func start` against a fresh emulator namespace would need by hand).
 * @module
 */
import type { Bus } from '@hubbub/bus';
import { type BusSource, type FunctionsBus, fromHubbubBus } from '@hubbub/functions';

/** `ready` collects one promise per trigger source: await them to know the entities exist. */
export function creatingEntities(bus: Bus, ready: Promise<unknown>[]): FunctionsBus {
  const inner = fromHubbubBus(bus);
  const ensure = async (source: BusSource) => {
    if ('queue' in source) {
      if (!(await bus.admin.queueExists(source.queue))) await bus.admin.createQueue(source.queue);
      return;
    }
    if (!(await bus.admin.topicExists(source.topic))) await bus.admin.createTopic(source.topic);
    const subscriptions = await bus.admin.listSubscriptions(source.topic);
    if (!subscriptions.some((s) => s.subscriptionName === source.subscription)) {
      await bus.admin.createSubscription(source.topic, source.subscription);
    }
  };
  const after = <T>(source: BusSource, items: () => AsyncIterable<T>): AsyncIterable<T> => {
    const done = ensure(source);
    ready.push(done);
    return (async function* () {
      await done;
      yield* items();
    })();
  };
  const batches = inner.receiveBatches;
  return {
    send: (entity, messages) => inner.send(entity, messages),
    receive: (source, options) => after(source, () => inner.receive(source, options)),
    ...(batches === undefined
      ? {}
      : { receiveBatches: (source, options) => after(source, () => batches.call(inner, source, options)) }),
  };
}
