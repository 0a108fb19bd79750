/**
 * Service Bus messages as the Azure extension hands them to Node: the body as text (which the
 * library JSON-parses) or bytes, the trigger metadata with the extension's key names, and for
 * `cardinality: 'many'` the batch input.
 * @module
 */
import type { RpcTypedData } from '../../core-types.ts';
import type { BusReceivedMessage } from './port.ts';

const bigintAsNumber = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

/** JSON typed data; bigints become numbers (a replacer only when one is there: it slows every key). */
function json(value: unknown): RpcTypedData {
  try {
    return { json: JSON.stringify(value) };
  } catch {
    return { json: JSON.stringify(value, bigintAsNumber) };
  }
}

/** The message body as the Azure extension hands it to Node: text (JSON-parsed by the library) or bytes. */
export function bodyData(message: BusReceivedMessage, binary: boolean): RpcTypedData {
  const stored = message.bodyBytes;
  if (stored !== undefined && !binary && (message.bodyType === 'json' || message.bodyType === 'string')) {
    // A Buffer (as the bus stores bodies) decodes itself; another view gets a Buffer over its bytes first.
    const text = Buffer.isBuffer(stored)
      ? stored.toString('utf8')
      : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString('utf8');
    if (message.bodyType === 'string') return { string: text };
    return text === '' ? { string: '' } : { json: text }; // the JSON text as sent
  }
  const body = message.body;
  if (body instanceof Uint8Array) {
    if (binary) return { bytes: body };
    try {
      return { string: new TextDecoder('utf-8', { fatal: true }).decode(body) };
    } catch {
      return { bytes: body };
    }
  }
  if (typeof body === 'string') return binary ? { bytes: Buffer.from(body) } : { string: body };
  if (body === undefined || body === null) return { string: '' };
  return json(body);
}

function setDefined(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

/** Trigger metadata with the Azure extension's key names (the library camel-cases them). */
export function triggerMetadataOf(message: BusReceivedMessage): Record<string, unknown> {
  // Only the keys with a value, added one by one: deleting keys would turn the object into a slow dictionary.
  const meta: Record<string, unknown> = {};
  setDefined(meta, 'MessageId', message.messageId);
  setDefined(meta, 'CorrelationId', message.correlationId);
  setDefined(meta, 'ContentType', message.contentType);
  setDefined(meta, 'Label', message.subject);
  setDefined(meta, 'Subject', message.subject);
  setDefined(meta, 'To', message.to);
  setDefined(meta, 'ReplyTo', message.replyTo);
  setDefined(meta, 'ReplyToSessionId', message.replyToSessionId);
  setDefined(meta, 'SessionId', message.sessionId);
  setDefined(meta, 'PartitionKey', message.partitionKey);
  // The Functions host (the .NET SDK) counts this delivery too: 1 on the first delivery.
  meta.DeliveryCount = message.deliveryCount + 1;
  meta.SequenceNumber = Number(message.sequenceNumber);
  meta.EnqueuedTimeUtc = message.enqueuedTime.toISOString();
  setDefined(meta, 'ExpiresAtUtc', message.expiresAt?.toISOString());
  setDefined(meta, 'LockedUntilUtc', message.lockedUntil?.toISOString());
  setDefined(meta, 'LockToken', message.lockToken);
  setDefined(meta, 'DeadLetterSource', message.deadLetterSource);
  meta.ApplicationProperties = { ...(message.applicationProperties ?? {}) };
  meta.UserProperties = { ...(message.applicationProperties ?? {}) };
  return meta;
}

/** A string as JSON text (the library gives back exactly the string: a message id "123" stays a string). */
const text = (value: string): RpcTypedData => ({ json: JSON.stringify(value) });

/**
 * The metadata fields of one message as they cross to the thread that runs the invocation: a flat
 * array of strings and numbers (and the application properties), so the host's thread neither
 * builds the ~20 RPC objects of {@link rpcMetadataOf} nor has them structured-cloned per message;
 * {@link rpcMetadataOfFields} makes the RPC form where the invocation runs. Times are epoch ms.
 */
export type ServiceBusMetadataFields = [
  messageId: string | undefined,
  correlationId: string | undefined,
  contentType: string | undefined,
  subject: string | undefined,
  to: string | undefined,
  replyTo: string | undefined,
  replyToSessionId: string | undefined,
  sessionId: string | undefined,
  partitionKey: string | undefined,
  deliveryCount: number,
  sequenceNumber: number,
  enqueuedTimeMs: number,
  expiresAtMs: number | undefined,
  lockedUntilMs: number | undefined,
  lockToken: string | undefined,
  deadLetterSource: string | undefined,
  applicationProperties: Readonly<Record<string, unknown>> | undefined,
];

/**
 * Trigger metadata handed over unbuilt (an invocation request's `deferredMetadata`): the thread
 * that runs the invocation builds the RPC form ({@link expandTriggerMetadata}).
 */
export interface DeferredTriggerMetadata {
  readonly serviceBusFields: ServiceBusMetadataFields;
}

/** The fields of `m` that its trigger metadata is made of. */
export function metadataFieldsOf(m: BusReceivedMessage): ServiceBusMetadataFields {
  return [
    m.messageId,
    m.correlationId,
    m.contentType,
    m.subject,
    m.to,
    m.replyTo,
    m.replyToSessionId,
    m.sessionId,
    m.partitionKey,
    m.deliveryCount,
    Number(m.sequenceNumber),
    m.enqueuedTime.getTime(),
    m.expiresAt?.getTime(),
    m.lockedUntil?.getTime(),
    m.lockToken,
    m.deadLetterSource,
    m.applicationProperties,
  ];
}

const isoJson = (ms: number): RpcTypedData => ({ json: `"${new Date(ms).toISOString()}"` });

/**
 * `toRpcMetadata(triggerMetadataOf(message))` in one pass from the message's fields, without the
 * plain object in between: what every single-message invocation gets. Each key is a named store of
 * its own (a helper storing `meta[key]` for every key would make one megamorphic keyed store, ~1 µs each).
 */
export function rpcMetadataOfFields(f: ServiceBusMetadataFields): Record<string, RpcTypedData> {
  const meta: Record<string, RpcTypedData> = {};
  const [messageId, correlationId, contentType, subject, to, replyTo, replyToSessionId, sessionId, partitionKey] = f;
  if (messageId !== undefined) meta.MessageId = text(messageId);
  if (correlationId !== undefined) meta.CorrelationId = text(correlationId);
  if (contentType !== undefined) meta.ContentType = text(contentType);
  if (subject !== undefined) {
    const typed = text(subject);
    meta.Label = typed;
    meta.Subject = typed;
  }
  if (to !== undefined) meta.To = text(to);
  if (replyTo !== undefined) meta.ReplyTo = text(replyTo);
  if (replyToSessionId !== undefined) meta.ReplyToSessionId = text(replyToSessionId);
  if (sessionId !== undefined) meta.SessionId = text(sessionId);
  if (partitionKey !== undefined) meta.PartitionKey = text(partitionKey);
  meta.DeliveryCount = { int: f[9] + 1 };
  meta.SequenceNumber = { int: f[10] };
  meta.EnqueuedTimeUtc = isoJson(f[11]);
  const expiresAt = f[12];
  if (expiresAt !== undefined) meta.ExpiresAtUtc = isoJson(expiresAt);
  const lockedUntil = f[13];
  if (lockedUntil !== undefined) meta.LockedUntilUtc = isoJson(lockedUntil);
  if (f[14] !== undefined) meta.LockToken = text(f[14]);
  if (f[15] !== undefined) meta.DeadLetterSource = text(f[15]);
  const properties = json(f[16] ?? {});
  meta.ApplicationProperties = properties;
  meta.UserProperties = properties;
  return meta;
}

/** The RPC trigger metadata of one message (`rpcMetadataOfFields(metadataFieldsOf(m))`). */
export function rpcMetadataOf(m: BusReceivedMessage): Record<string, RpcTypedData> {
  return rpcMetadataOfFields(metadataFieldsOf(m));
}

/** The RPC form of deferred trigger metadata. */
export function expandTriggerMetadata(meta: DeferredTriggerMetadata): Record<string, RpcTypedData> {
  return rpcMetadataOfFields(meta.serviceBusFields);
}

export function toRpcMetadata(meta: Record<string, unknown>): Record<string, RpcTypedData> {
  const out: Record<string, RpcTypedData> = {};
  // Strings travel as JSON so the library gives back exactly the string (a message id "123" stays a string).
  for (const key in meta) {
    const value = meta[key];
    out[key] = typeof value === 'number' ? { int: value } : json(value);
  }
  return out;
}

/** Text of a body as the library will parse it (JSON text stays JSON text). */
function textOf(data: RpcTypedData): string | undefined {
  if (data.string != null) return data.string;
  if (data.json != null) return data.json;
  return undefined;
}

/** The batch input: strings (each JSON-parsed by the library when it is JSON) or, if any body is binary, bytes. */
export function batchData(bodies: RpcTypedData[]): RpcTypedData {
  const texts = bodies.map(textOf);
  if (texts.every((t) => t !== undefined)) return { collectionString: { string: texts as string[] } };
  return { collectionBytes: { bytes: bodies.map((b) => b.bytes ?? Buffer.from(textOf(b) ?? '')) } };
}

/** A single message's payload for binding expressions: parsed JSON, else the text. */
export function payloadOf(data: RpcTypedData): unknown {
  const text = textOf(data);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
