/**
 * The Service Bus REST message format: a body, a `BrokerProperties` JSON header for system
 * properties, and one header per application (custom) property.
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BusError } from '../errors.ts';
import type { PropertyValue, ReceivedMessage, ServiceBusMessage } from '../message.ts';

/** Headers that are HTTP plumbing, never custom properties. */
const plumbing = new Set([
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'authorization',
  'brokerproperties',
  'cache-control',
  'connection',
  'content-encoding',
  'content-length',
  'content-type',
  'cookie',
  'date',
  'expect',
  'forwarded',
  'host',
  'keep-alive',
  'origin',
  'pragma',
  'proxy-authorization',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'via',
]);

const isPlumbing = (name: string): boolean =>
  plumbing.has(name) || name.startsWith('x-forwarded-') || name.startsWith('x-ms-') || name.startsWith('sec-');

const invalid = (message: string, detail: Record<string, unknown>): BusError =>
  new BusError('BUS_INVALID_MESSAGE', message, { detail });

type SystemFields = Omit<ServiceBusMessage, 'body' | 'applicationProperties'>;

const stringFields: ReadonlyArray<[string, keyof SystemFields]> = [
  ['MessageId', 'messageId'],
  ['CorrelationId', 'correlationId'],
  ['Label', 'subject'],
  ['Subject', 'subject'],
  ['SessionId', 'sessionId'],
  ['ReplyTo', 'replyTo'],
  ['ReplyToSessionId', 'replyToSessionId'],
  ['To', 'to'],
  ['PartitionKey', 'partitionKey'],
  ['ContentType', 'contentType'],
];

/** Parses a BrokerProperties object (header JSON or a batch entry) into message fields. */
export function brokerPropertiesToMessage(value: unknown, where: string): SystemFields {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid(`${where} must be a JSON object`, { field: where });
  const bp = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, field] of stringFields) {
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

/** A custom-property header value: `"quoted"` is a string, numbers and true/false are typed, anything else a string. */
export function parsePropertyValue(raw: string): PropertyValue {
  const text = raw.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return text.slice(1, -1);
    }
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n) || !/^-?\d+$/.test(text)) return n;
    return BigInt(text);
  }
  return text;
}

export function customHeadersToProperties(headers: IncomingHttpHeaders): Record<string, PropertyValue> | undefined {
  let props: Record<string, PropertyValue> | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isPlumbing(name)) continue;
    props ??= {};
    props[name] = parsePropertyValue(Array.isArray(value) ? value.join(', ') : value);
  }
  return props;
}

/** Encodes a property value for a response header (strings and dates quoted, as Service Bus does). */
export function formatPropertyValue(value: PropertyValue): string {
  if (value === null) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toUTCString());
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Header-safe property name: only token characters survive as a header. */
export const isHeaderName = (name: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);

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
  };
  if (m.messageId !== undefined) bp.MessageId = m.messageId;
  if (m.correlationId !== undefined) bp.CorrelationId = m.correlationId;
  if (m.subject !== undefined) bp.Label = m.subject;
  if (m.sessionId !== undefined) bp.SessionId = m.sessionId;
  if (m.replyTo !== undefined) bp.ReplyTo = m.replyTo;
  if (m.replyToSessionId !== undefined) bp.ReplyToSessionId = m.replyToSessionId;
  if (m.to !== undefined) bp.To = m.to;
  if (m.partitionKey !== undefined) bp.PartitionKey = m.partitionKey;
  if (m.contentType !== undefined) bp.ContentType = m.contentType;
  if (m.timeToLive !== undefined) bp.TimeToLive = m.timeToLive / 1000;
  if (m.scheduledEnqueueTime !== undefined) bp.ScheduledEnqueueTimeUtc = m.scheduledEnqueueTime.toUTCString();
  if (m.lockToken !== undefined) bp.LockToken = m.lockToken;
  if (m.lockedUntil !== undefined) bp.LockedUntilUtc = m.lockedUntil.toUTCString();
  if (m.deadLetterReason !== undefined) bp.DeadLetterReason = m.deadLetterReason;
  if (m.deadLetterErrorDescription !== undefined) bp.DeadLetterErrorDescription = m.deadLetterErrorDescription;
  if (m.deadLetterSource !== undefined) bp.DeadLetterSource = m.deadLetterSource;
  return bp;
}

const isJsonType = (contentType: string): boolean => /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType);
const isTextType = (contentType: string): boolean => /^text\//i.test(contentType);

/**
 * The body a sender gave over HTTP: JSON content types that parse become JSON values, text
 * types strings, everything else bytes.
 */
export function decodeBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (contentType !== undefined && isJsonType(contentType) && bytes.length > 0) {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      return bytes;
    }
  }
  if (contentType !== undefined && isTextType(contentType)) return bytes.toString('utf8');
  return bytes;
}

/** The bytes a receiver gets: raw bytes as is, strings UTF-8, other values as JSON. */
export function encodeBody(body: unknown): Buffer {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}
