/**
 * One Service Bus delivery (a message, or a batch for `cardinality: 'many'`): the trigger input
 * and metadata the Azure extension produces; every message is completed when the function and its
 * outputs succeeded, and abandoned otherwise.
 * @module
 */
import type { Clock, IdSource, Logger, TimerHandle } from '@hubbub/kernel';
import type { FunctionEntry } from './bindings.ts';
import type { RpcTypedData } from './core-types.ts';
import type { Executor } from './executor.ts';
import { type BusReceivedMessage, bodyData, toRpcMetadata, triggerMetadataOf } from './service-bus.ts';

export interface BusTriggerDeps {
  readonly ids: IdSource;
  readonly clock: Clock;
  /** Locks are renewed while the function runs, for at most this long. */
  readonly maxAutoLockRenewalMs: number;
  readonly logger: Logger;
  readonly executor: Executor;
  readonly track: <T>(work: Promise<T>) => Promise<T>;
  /** Aborts retry waits when the host closes. */
  readonly signal: AbortSignal;
}

/** Text of a body as the library will parse it (JSON text stays JSON text). */
function textOf(data: RpcTypedData): string | undefined {
  if (data.string != null) return data.string;
  if (data.json != null) return data.json;
  return undefined;
}

/** The batch input: strings (each JSON-parsed by the library when it is JSON) or, if any body is binary, bytes. */
function batchData(bodies: RpcTypedData[]): RpcTypedData {
  const texts = bodies.map(textOf);
  if (texts.every((t) => t !== undefined)) return { collectionString: { string: texts as string[] } };
  return { collectionBytes: { bytes: bodies.map((b) => b.bytes ?? Buffer.from(textOf(b) ?? '')) } };
}

function payloadOf(data: RpcTypedData): unknown {
  const text = textOf(data);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Renews each message's lock at half its remaining time until `stop()` or the renewal budget ends,
 * as the Azure extension does with maxAutoLockRenewalDuration.
 */
function keepLocked(deps: BusTriggerDeps, messages: readonly BusReceivedMessage[]): () => void {
  const started = deps.clock.now();
  const timers = new Set<TimerHandle>();
  let stopped = false;
  const schedule = (message: BusReceivedMessage, lockedUntil: Date | undefined) => {
    if (stopped || message.renewLock === undefined || lockedUntil === undefined) return;
    const now = deps.clock.now();
    if (now - started >= deps.maxAutoLockRenewalMs) return;
    const timer = deps.clock.setTimeout(
      () => {
        timers.delete(timer);
        if (stopped) return;
        message.renewLock!().then(
          (until) => schedule(message, until),
          (err: unknown) => deps.logger.warn({ err, messageId: message.messageId }, 'Lock renewal failed.'),
        );
      },
      Math.max(0, (lockedUntil.getTime() - now) / 2),
    );
    timers.add(timer);
  };
  for (const message of messages) schedule(message, message.lockedUntil);
  return () => {
    stopped = true;
    for (const timer of timers) timer.cancel();
  };
}

export async function handleBusMessages(
  deps: BusTriggerDeps,
  entry: FunctionEntry,
  messages: readonly BusReceivedMessage[],
): Promise<void> {
  const info = entry.trigger.info;
  const binary = info.dataType === 'binary';
  const invocationId = deps.ids.uuid();
  const metas = messages.map(triggerMetadataOf);
  const bodies = messages.map((m) => bodyData(m, binary));
  let triggerData: RpcTypedData;
  let metadata: Record<string, unknown>;
  // Binding expressions ({orderid}, {MessageId}) read the payload and metadata; most functions have
  // none, so the body is parsed for them only when an expression asks.
  let values: Record<string, unknown> | undefined;
  let valuesOf: () => Record<string, unknown> = () => ({});
  if (info.cardinality === 'many') {
    triggerData = batchData(bodies);
    const keys = [...new Set(metas.flatMap((m) => Object.keys(m)))];
    metadata = Object.fromEntries(keys.map((k) => [`${k}Array`, metas.map((m) => m[k] ?? null)]));
  } else {
    const single = bodies[0]!;
    const meta = metas[0]!;
    triggerData = single;
    metadata = meta;
    valuesOf = () => {
      const payload = payloadOf(single);
      return { ...(typeof payload === 'object' && payload !== null ? payload : {}), ...meta };
    };
  }
  const expressions = {
    get values() {
      values ??= valuesOf();
      return values;
    },
  };
  const stopRenewing = keepLocked(deps, messages);
  try {
    await deps.track(
      deps.executor.execute(entry, {
        invocationId,
        triggerData,
        triggerMetadata: toRpcMetadata(metadata),
        data: { invocationId, expressions },
        signal: deps.signal,
      }),
    );
  } catch (err) {
    stopRenewing();
    deps.logger.warn(
      { err, function: entry.name, messageIds: messages.map((m) => m.messageId), invocationId },
      'Function failed; abandoning its message(s).',
    );
    await Promise.all(
      messages.map((m) => m.abandon().catch((e: unknown) => deps.logger.error({ err: e }, 'Abandon failed.'))),
    );
    return;
  }
  stopRenewing();
  await Promise.all(
    messages.map((m) =>
      m.complete().catch((e: unknown) => deps.logger.error({ err: e, function: entry.name }, 'Complete failed.')),
    ),
  );
}
