/**
 * The `cosmosDBTrigger`: per function, a subscription to its container's change feed (leases in
 * the lease container, so several hosts share the feed) whose batches — up to
 * `maxItemsPerInvocation` documents — each run as one invocation with the documents as an array.
 * A batch is checkpointed only after its invocation (and its outputs) succeeded; a failed one runs
 * again after a back-off (1 s doubling to 60 s) until it succeeds, so no change is skipped; a
 * subscription that fails (its container does not exist yet, the store went away) subscribes
 * again after a back-off. Every failure is a host event first and a log line second.
 * @module
 */
import { backoffDelay } from '@hubbub/kernel';
import type { FunctionEntry } from '../../bindings.ts';
import type { ResolvePort } from '../../connections.ts';
import { invocationError } from '../../errors.ts';
import type { ExtensionContext, Invoke, Trigger, TriggerListener } from '../../extension.ts';
import { toTypedData } from '../../typed-data.ts';
import { cosmosDBTriggerBinding, type TriggerOptions, triggerOptionsOf } from './bindings.ts';
import type { StoreChangeBatch, StorePort } from './port.ts';

interface Feed {
  readonly entry: FunctionEntry;
  readonly options: TriggerOptions;
  readonly port: StorePort;
  readonly leasePort: StorePort;
}

export function cosmosDBTrigger(context: ExtensionContext, store: ResolvePort<StorePort>): Trigger {
  return {
    binding: cosmosDBTriggerBinding(context.settings),
    async start(functions, invoke) {
      // Every store is resolved before any feed starts: a missing one fails the start.
      const feeds: Feed[] = [];
      for (const entry of functions) {
        const scope = { functionName: entry.name, binding: entry.trigger.name };
        const options = triggerOptionsOf(entry.trigger.info, scope);
        const port = await store(options.setting, scope);
        const leasePort = await store(options.leaseSetting, scope);
        feeds.push({ entry, options, port, leasePort });
      }
      const listeners = feeds.map((feed) => startFeed(context, feed, invoke));
      return {
        async close() {
          await Promise.all(listeners.map((l) => l.close()));
        },
        describe(name) {
          const feed = feeds.find((f) => f.entry.name === name);
          return feed === undefined ? undefined : { ...feed.options.target };
        },
      };
    },
  };
}

/** Subscribes one function to its feed, again after every failure, until closed. */
function startFeed(context: ExtensionContext, feed: Feed, invoke: Invoke): TriggerListener {
  const { events, logger, clock } = context;
  const { entry, options } = feed;
  const abort = new AbortController();
  const source = `${options.target.database}/${options.target.container}`;
  const log = { function: entry.name, source };

  /** Resolves after `ms` on the clock, or at once when the listener closes. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = clock.setTimeout(done, ms);
      function done() {
        timer.cancel();
        abort.signal.removeEventListener('abort', done);
        resolve();
      }
      abort.signal.addEventListener('abort', done, { once: true });
    });

  /** Runs the batch until an invocation succeeds; false when the listener closed first (the batch comes again). */
  const deliver = async (batch: StoreChangeBatch): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      const invocationId = context.ids.uuid();
      try {
        await invoke(entry, {
          invocationId,
          triggerData: toTypedData(batch.documents),
          triggerMetadata: {},
          data: { invocationId, expressions: {} },
          signal: context.signal,
        });
        return true;
      } catch (err) {
        const error = invocationError(err, entry.name, invocationId);
        events.emit('invocation:failed', error, { function: entry.name, trigger: 'cosmosDBTrigger', invocationId });
        const retryInMs = backoffDelay(attempt, { initialMs: 1_000, maxMs: 60_000, random: () => 1 });
        logger.warn(
          { err, ...log, invocationId, documents: batch.documents.length, retryInMs },
          'Function failed; its change-feed batch runs again.',
        );
        await pause(retryInMs);
        if (abort.signal.aborted) return false;
      }
    }
  };

  const subscribe = () =>
    feed.port.changes(options.target, {
      processorName: `${options.leasePrefix}${entry.name}`,
      leases: {
        port: feed.leasePort,
        database: options.leaseDatabase,
        container: options.leaseContainer,
        createIfNotExists: options.createLeaseContainer,
      },
      startFrom: options.startFrom,
      maxItems: options.maxItems,
      pollDelayMs: options.pollDelayMs,
      leaseExpirationMs: options.leaseExpirationMs,
      leaseRenewIntervalMs: options.leaseRenewIntervalMs,
      leaseAcquireIntervalMs: options.leaseAcquireIntervalMs,
      onLeaseError(err) {
        events.emit('feed:failed', err, { ...log, operation: 'lease' });
        logger.warn({ err, ...log }, 'A change-feed lease operation failed; it is tried again.');
      },
      signal: abort.signal,
    });

  const pump = (async () => {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        for await (const batch of subscribe()) {
          failures = 0;
          if (!(await deliver(batch))) break;
          await batch.complete().catch((err: unknown) => {
            events.emit('feed:failed', err, { ...log, operation: 'checkpoint' });
            logger.warn({ err, ...log }, 'Checkpointing a change-feed batch failed; the batch may come again.');
          });
          if (abort.signal.aborted) break;
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        failures++;
        const retryInMs = backoffDelay(failures, { initialMs: 1_000, maxMs: 30_000, random: () => 1 });
        events.emit('receive:failed', err, { ...log, retryInMs });
        logger.error({ err, ...log, retryInMs }, 'Reading the change feed failed; subscribing again.');
        await pause(retryInMs);
        continue;
      }
      // The port ended the subscription without being asked to: subscribe again shortly.
      if (!abort.signal.aborted) await pause(1_000);
    }
  })();

  return {
    async close() {
      abort.abort();
      await pump;
    },
  };
}
