/**
 * One Service Bus delivery: the message becomes the trigger input and metadata the Azure extension
 * produces; it is completed when the function and its outputs succeeded, abandoned otherwise.
 * @module
 */
import type { IdSource, Logger } from '@hubbub/kernel';
import type { FunctionEntry } from './bindings.ts';
import type { Executor } from './executor.ts';
import { type BusReceivedMessage, bodyData, toRpcMetadata, triggerMetadataOf } from './service-bus.ts';
import { toTypedData } from './typed-data.ts';

export interface BusTriggerDeps {
  readonly ids: IdSource;
  readonly logger: Logger;
  readonly executor: Executor;
  readonly track: <T>(work: Promise<T>) => Promise<T>;
  /** Aborts retry waits when the host closes. */
  readonly signal: AbortSignal;
}

export async function handleBusMessage(
  deps: BusTriggerDeps,
  entry: FunctionEntry,
  message: BusReceivedMessage,
  binary: boolean,
): Promise<void> {
  const info = entry.trigger.info;
  const invocationId = deps.ids.uuid();
  const meta = triggerMetadataOf(message);
  const many = info.cardinality === 'many';
  const body = bodyData(message, binary);
  const triggerData = many ? toTypedData([JSON.parse(JSON.stringify(fromBody(body)))]) : body;
  const triggerMetadata = toRpcMetadata(
    many ? Object.fromEntries(Object.entries(meta).map(([k, v]) => [`${k}Array`, [v]])) : meta,
  );
  const payload = fromBody(body);
  const values = { ...(typeof payload === 'object' && payload !== null ? payload : {}), ...meta };
  try {
    await deps.track(
      deps.executor.execute(entry, {
        invocationId,
        triggerData,
        triggerMetadata,
        data: { invocationId, expressions: { values } },
        signal: deps.signal,
      }),
    );
  } catch (err) {
    deps.logger.warn(
      { err, function: entry.name, messageId: message.messageId, deliveryCount: message.deliveryCount },
      'Function failed; abandoning the message.',
    );
    await message.abandon().catch((e: unknown) => deps.logger.error({ err: e }, 'Abandon failed.'));
    return;
  }
  await message
    .complete()
    .catch((e: unknown) => deps.logger.error({ err: e, function: entry.name }, 'Complete failed.'));
}

function fromBody(data: { string?: string | null; json?: string | null; bytes?: Uint8Array | null }): unknown {
  if (data.json != null) return JSON.parse(data.json);
  if (data.string != null) {
    try {
      return JSON.parse(data.string);
    } catch {
      return data.string;
    }
  }
  return data.bytes == null ? undefined : Buffer.from(data.bytes);
}
