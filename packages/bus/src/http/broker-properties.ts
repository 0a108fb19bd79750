/**
 * The `BrokerProperties` header of the Service Bus REST API: one table between its names and the
 * message fields, read and written both ways — by the bus's HTTP API (it reads what senders send
 * and writes what receivers get) and by HTTP clients such as the CLI (the other way round).
 * @module
 */
import { BusError } from '../errors.ts';
import type { MessageState, ReceivedMessage, SenderFields, ServiceBusMessage } from '../message.ts';

type StringField =
  | 'messageId'
  | 'correlationId'
  | 'subject'
  | 'sessionId'
  | 'replyTo'
  | 'replyToSessionId'
  | 'to'
  | 'partitionKey'
  | 'contentType';

/** The string properties and the fields they carry, in the order they are written. */
const STRINGS: ReadonlyArray<readonly [string, StringField]> = [
  ['MessageId', 'messageId'],
  ['CorrelationId', 'correlationId'],
  ['Label', 'subject'],
  ['SessionId', 'sessionId'],
  ['ReplyTo', 'replyTo'],
  ['ReplyToSessionId', 'replyToSessionId'],
  ['To', 'to'],
  ['PartitionKey', 'partitionKey'],
  ['ContentType', 'contentType'],
];
/** What is read: the same, and `Subject` as another name of `Label` (the later one wins). */
const STRINGS_READ: ReadonlyArray<readonly [string, StringField]> = [
  ...STRINGS.slice(0, 3),
  ['Subject', 'subject'],
  ...STRINGS.slice(3),
];

const invalid = (message: string, detail: Record<string, unknown>): BusError =>
  new BusError('BUS_INVALID_MESSAGE', message, { detail });

type SystemFields = Omit<ServiceBusMessage, 'body' | 'applicationProperties'>;

/** Parses a BrokerProperties object a sender gave (header JSON or a batch entry); BUS_INVALID_MESSAGE names the field. */
export function brokerPropertiesToMessage(value: unknown, where: string): SystemFields {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid(`${where} must be a JSON object`, { field: where });
  const bp = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, field] of STRINGS_READ) {
    const v = bp[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw invalid(`${where}.${name} must be a string`, { field: `${where}.${name}` });
    out[field] = v;
  }
  if (bp.TimeToLive !== undefined && bp.TimeToLive !== null) {
    const ttl = bp.TimeToLive;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
      throw invalid(`${where}.TimeToLive must be a positive number of seconds`, { field: `${where}.TimeToLive` });
    }
    out.timeToLive = Math.round(ttl * 1000);
  }
  if (bp.ScheduledEnqueueTimeUtc !== undefined && bp.ScheduledEnqueueTimeUtc !== null) {
    const when = typeof bp.ScheduledEnqueueTimeUtc === 'string' ? new Date(bp.ScheduledEnqueueTimeUtc) : undefined;
    if (when === undefined || Number.isNaN(when.getTime())) {
      throw invalid(`${where}.ScheduledEnqueueTimeUtc must be a date (RFC 1123 or ISO 8601)`, {
        field: `${where}.ScheduledEnqueueTimeUtc`,
      });
    }
    out.scheduledEnqueueTime = when;
  }
  return out as SystemFields;
}

export function parseBrokerPropertiesHeader(header: string | string[] | undefined): SystemFields {
  if (header === undefined) return {};
  const text = Array.isArray(header) ? header.join(',') : header;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('BrokerProperties header is not valid JSON', { field: 'BrokerProperties' });
  }
  return brokerPropertiesToMessage(value, 'BrokerProperties');
}

/**
 * The BrokerProperties of a message's sender fields (`TimeToLive` in seconds, dates in RFC 1123):
 * what a client sends with `POST …/messages`.
 */
export function writeBrokerProperties(fields: SenderFields): Record<string, unknown> {
  const bp: Record<string, unknown> = {};
  for (const [name, field] of STRINGS) {
    const v = fields[field];
    if (v !== undefined) bp[name] = v;
  }
  if (fields.timeToLive !== undefined) bp.TimeToLive = fields.timeToLive / 1000;
  if (fields.scheduledEnqueueTime !== undefined) bp.ScheduledEnqueueTimeUtc = fields.scheduledEnqueueTime.toUTCString();
  return bp;
}

/**
 * The BrokerProperties object of a message. `DeliveryCount` is the broker's count, which includes
 * the delivery being answered (1 on the first receive, as Service Bus's REST API and .NET SDK report
 * it); a peek is no delivery and shows the earlier ones. (`ReceivedMessage.deliveryCount` follows
 * `@azure/service-bus`, 0 on the first delivery.)
 */
export function messageToBrokerProperties(
  m: ReceivedMessage,
  delivery: 'received' | 'peeked',
): Record<string, unknown> {
  const bp: Record<string, unknown> = {
    DeliveryCount: delivery === 'received' ? m.deliveryCount + 1 : m.deliveryCount,
    EnqueuedSequenceNumber: Number(m.sequenceNumber),
    EnqueuedTimeUtc: m.enqueuedTime.toUTCString(),
    SequenceNumber: Number(m.sequenceNumber),
    State: m.state === 'active' ? 'Active' : m.state === 'deferred' ? 'Deferred' : 'Scheduled',
    ...writeBrokerProperties(m),
  };
  if (m.lockToken !== undefined) bp.LockToken = m.lockToken;
  if (m.lockedUntil !== undefined) bp.LockedUntilUtc = m.lockedUntil.toUTCString();
  if (m.deadLetterReason !== undefined) bp.DeadLetterReason = m.deadLetterReason;
  if (m.deadLetterErrorDescription !== undefined) bp.DeadLetterErrorDescription = m.deadLetterErrorDescription;
  if (m.deadLetterSource !== undefined) bp.DeadLetterSource = m.deadLetterSource;
  return bp;
}

/** What a client reads from a received or peeked message's BrokerProperties. */
export type BrokerPropertiesFields = { -readonly [K in StringField]?: string } & {
  sequenceNumber?: bigint;
  /** The library's count (0 on the first delivery), whichever way the message came. */
  deliveryCount: number;
  enqueuedTime?: Date;
  state?: MessageState;
  lockToken?: string;
  lockedUntil?: Date;
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
  deadLetterSource?: string;
};

/**
 * Reads the BrokerProperties the HTTP API answered with (leniently: a property of the wrong type
 * is left out). `delivery` says how the message came: a received message's `DeliveryCount`
 * includes that delivery, a peeked one's does not; either way `deliveryCount` is the library's.
 */
export function readBrokerProperties(value: unknown, delivery: 'received' | 'peeked'): BrokerPropertiesFields {
  const bp = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const count = Number(bp.DeliveryCount ?? 0);
  const out: BrokerPropertiesFields = {
    deliveryCount: delivery === 'received' ? Math.max(0, count - 1) : count,
  };
  const seq = Number(bp.SequenceNumber);
  if (Number.isSafeInteger(seq)) out.sequenceNumber = BigInt(seq);
  for (const [name, field] of STRINGS_READ) {
    const v = str(bp[name]);
    if (v !== undefined) out[field] = v;
  }
  const enqueued = str(bp.EnqueuedTimeUtc);
  if (enqueued !== undefined) out.enqueuedTime = new Date(enqueued);
  const state = str(bp.State)?.toLowerCase();
  if (state !== undefined) out.state = state as MessageState;
  const lockToken = str(bp.LockToken);
  if (lockToken !== undefined) out.lockToken = lockToken;
  const lockedUntil = str(bp.LockedUntilUtc);
  if (lockedUntil !== undefined) out.lockedUntil = new Date(lockedUntil);
  for (const k of ['deadLetterReason', 'deadLetterErrorDescription', 'deadLetterSource'] as const) {
    const v = str(bp[k.charAt(0).toUpperCase() + k.slice(1)]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
