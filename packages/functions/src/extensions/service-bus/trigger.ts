/**
 * The Service Bus trigger: per function, pumps that receive from its queue or subscription (one,
 * or `maxConcurrentSessions` for a session-enabled one) and run each delivery — a message, or a
 * batch for `cardinality: 'many'` — as one invocation with the input and metadata the Azure
 * extension produces. Every message is completed once the function and its outputs succeeded,
 * and abandoned otherwise; its lock is renewed while the function runs.
 * @module
 */
import type { FunctionEntry } from '../../bindings.ts';
import type { ResolvePort } from '../../connections.ts';
import type { RpcTypedData } from '../../core-types.ts';
import { invocationError } from '../../errors.ts';
import type { ExecuteRequest } from '../../executor.ts';
import type { ExtensionContext, Invoke, Trigger } from '../../extension.ts';
import { busSettingOf, serviceBusTriggerBinding, sourceOf } from './bindings.ts';
import { type BusListener, startListener } from './listener.ts';
import { LockRenewer } from './lock-renewer.ts';
import { batchData, bodyData, metadataFieldsOf, payloadOf, toRpcMetadata, triggerMetadataOf } from './messages.ts';
import type { BusPort, BusReceivedMessage } from './port.ts';

/** host.json `extensions.serviceBus`. */
export interface ServiceBusConfig {
  /** Concurrent invocations per function (sessions: per session, 1; batches: 1). @default 16 */
  readonly maxConcurrentCalls: number;
  /** Sessions handled at once per session-enabled function. @default 8 */
  readonly maxConcurrentSessions: number;
  /** Largest batch for `cardinality: 'many'`. @default 1000 */
  readonly maxMessageBatchSize: number;
  /** How long a message's lock is renewed while its function runs, in ms. @default 300_000 */
  readonly maxAutoLockRenewalMs: number;
  /**
   * Messages received ahead (and held locked) while the function's calls are busy, so one receive
   * from the bus can bring several; sessions receive one at a time. @default 0
   */
  readonly prefetchCount: number;
}

export function serviceBusTrigger(
  context: ExtensionContext,
  config: ServiceBusConfig,
  bus: ResolvePort<BusPort>,
): Trigger {
  return {
    binding: serviceBusTriggerBinding(context.settings),
    async start(functions, invoke) {
      // Every bus is resolved before any function starts: a missing one fails the start.
      const ports: BusPort[] = [];
      for (const entry of functions) {
        ports.push(
          await bus(busSettingOf(entry.trigger.info), { functionName: entry.name, binding: entry.trigger.name }),
        );
      }
      const listeners = functions.map((entry, i) => listen(context, config, entry, ports[i]!, invoke));
      return {
        async close() {
          await Promise.all(listeners.map((l) => l.close()));
        },
      };
    },
  };
}

/** Starts the pumps of one function; closing them stops its lock renewals too. */
function listen(
  context: ExtensionContext,
  config: ServiceBusConfig,
  entry: FunctionEntry,
  bus: BusPort,
  invoke: Invoke,
): Pick<BusListener, 'close'> {
  const { events, logger } = context;
  const info = entry.trigger.info;
  const sessions = info.isSessionsEnabled === true;
  const source = sourceOf(info, { functionName: entry.name, binding: entry.trigger.name });
  const what = JSON.stringify(source);
  const many = info.cardinality === 'many';
  const receive = (signal: AbortSignal): AsyncIterable<readonly BusReceivedMessage[]> =>
    many && bus.receiveBatches !== undefined
      ? bus.receiveBatches(source, { sessions, signal, maxMessages: config.maxMessageBatchSize })
      : singles(
          bus.receive(source, {
            sessions,
            signal,
            ...(config.prefetchCount > 0 ? { prefetch: config.prefetchCount } : {}),
          }),
        );
  const locks = new LockRenewer({
    clock: context.clock,
    maxAutoLockRenewalMs: config.maxAutoLockRenewalMs,
    lost(message, err) {
      events.emit('lock:lost', err, { function: entry.name, messageId: message.messageId });
      logger.warn({ err, function: entry.name, messageId: message.messageId }, 'Lock renewal failed.');
    },
  });
  const handle = deliveryHandler(context, entry, locks, invoke);
  const options = {
    // A batch function takes one batch at a time, as on Azure (maxConcurrentCalls is for single
    // messages): what arrives while it runs is the next batch, so batches grow with the backlog.
    maxConcurrentCalls: sessions || many ? 1 : config.maxConcurrentCalls,
    clock: context.clock,
    receiveFailed(err: unknown, retryInMs: number) {
      events.emit('receive:failed', err, { function: entry.name, source: what, retryInMs });
      logger.error({ err, function: entry.name, source: what, retryInMs }, 'Service Bus receive failed; retrying.');
    },
    handleFailed(err: unknown) {
      const error = invocationError(err, entry.name);
      events.emit('invocation:failed', error, { function: entry.name, trigger: String(info.type) });
      logger.error({ err, function: entry.name }, 'Service Bus delivery handler failed.');
    },
  };
  // Sessions: maxConcurrentSessions pumps, each holding one session and handling its messages in order.
  const pumps = sessions ? config.maxConcurrentSessions : 1;
  const listeners = Array.from({ length: pumps }, () => startListener(receive, options, handle));
  return {
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      locks.close();
    },
  };
}

/** Runs one delivery and settles its messages: completed on success, abandoned on any failure. */
function deliveryHandler(context: ExtensionContext, entry: FunctionEntry, locks: LockRenewer, invoke: Invoke) {
  const { events, logger } = context;
  const settleOne = (m: BusReceivedMessage, action: 'complete' | 'abandon'): Promise<void> =>
    m[action]().catch((err: unknown) => {
      events.emit('settle:failed', err, { function: entry.name, messageId: m.messageId, action });
      logger.error(
        { err, function: entry.name, messageId: m.messageId },
        action === 'complete' ? 'Complete failed.' : 'Abandon failed.',
      );
    });
  const allSettled = (): void => undefined;
  // Not async: one message (the usual delivery) settles with its own promise, no frame around it.
  const settle = (messages: readonly BusReceivedMessage[], action: 'complete' | 'abandon'): Promise<void> =>
    messages.length === 1
      ? settleOne(messages[0]!, action)
      : Promise.all(messages.map((m) => settleOne(m, action))).then(allSettled);
  return async (messages: readonly BusReceivedMessage[]): Promise<void> => {
    const invocationId = context.ids.uuid();
    locks.hold(messages);
    try {
      await invoke(entry, requestOf(entry, messages, invocationId, context.signal));
    } catch (err) {
      locks.release(messages);
      const error = invocationError(err, entry.name, invocationId);
      events.emit('invocation:failed', error, {
        function: entry.name,
        trigger: String(entry.trigger.info.type),
        invocationId,
      });
      logger.warn(
        { err, function: entry.name, messageIds: messages.map((m) => m.messageId), invocationId },
        'Function failed; abandoning its message(s).',
      );
      await settle(messages, 'abandon');
      return;
    }
    locks.release(messages);
    await settle(messages, 'complete');
  };
}

/**
 * What binding expressions ({orderid}, {MessageId}) of a one-message invocation read: the payload
 * and the metadata. Most functions have none, so the body is parsed and the plain metadata made only
 * when an expression asks (one object per invocation, its getter on the prototype).
 */
class SingleExpressions {
  readonly #message: BusReceivedMessage;
  readonly #body: RpcTypedData;
  #values: Record<string, unknown> | undefined;

  constructor(message: BusReceivedMessage, body: RpcTypedData) {
    this.#message = message;
    this.#body = body;
  }

  get values(): Record<string, unknown> {
    if (this.#values === undefined) {
      const payload = payloadOf(this.#body);
      this.#values = {
        ...(typeof payload === 'object' && payload !== null ? payload : {}),
        ...triggerMetadataOf(this.#message),
      };
    }
    return this.#values;
  }
}

/** The invocation of one delivery. */
function requestOf(
  entry: FunctionEntry,
  messages: readonly BusReceivedMessage[],
  invocationId: string,
  signal: AbortSignal,
): ExecuteRequest {
  const info = entry.trigger.info;
  const binary = info.dataType === 'binary';
  if (info.cardinality === 'many') {
    const metas = messages.map(triggerMetadataOf);
    const triggerData = batchData(messages.map((m) => bodyData(m, binary)));
    const keys = [...new Set(metas.flatMap((m) => Object.keys(m)))];
    const arrays = Object.fromEntries(keys.map((k) => [`${k}Array`, metas.map((m) => m[k] ?? null)]));
    // A batch binds its metadata arrays ({MessageIdArray}, {CorrelationIdArray}…), as on Azure.
    const expressions = { values: arrays };
    return {
      invocationId,
      triggerData,
      triggerMetadata: toRpcMetadata(arrays),
      data: { invocationId, expressions },
      signal,
    };
  }
  const message = messages[0]!;
  const triggerData = bodyData(message, binary);
  return {
    invocationId,
    triggerData,
    // The message's fields, not its RPC metadata: the thread that runs the invocation builds that
    // (a worker thread's, when there is one).
    deferredMetadata: { serviceBusFields: metadataFieldsOf(message) },
    data: { invocationId, expressions: new SingleExpressions(message, triggerData) },
    signal,
  };
}

/** Each item as a delivery of one: a plain iterator (an async generator per message costs more). */
function singles<T>(items: AsyncIterable<T>): AsyncIterable<readonly T[]> {
  return {
    [Symbol.asyncIterator]() {
      const inner = items[Symbol.asyncIterator]();
      const one = (r: IteratorResult<T>): IteratorResult<readonly T[]> =>
        r.done === true ? { done: true, value: undefined } : { done: false, value: [r.value] };
      return {
        next: () => inner.next().then(one),
        return: async () => {
          await inner.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
