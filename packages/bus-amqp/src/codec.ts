/**
 * Messages between AMQP 1.0 (as `@azure/service-bus` writes and reads them) and the bus: the
 * properties, header and annotation sections Service Bus uses, body sections, the batch envelope
 * (message format `0x80013700`), lock tokens as .NET-ordered delivery tags, and .NET ticks.
 *
 * Bodies keep the meaning the SDK gives them. A data section is what the SDK writes for a Buffer
 * and for any JSON value; it becomes a JSON body when it parses as JSON (the SDK's own reading of
 * it) and bytes otherwise. An `amqp-value` string stays a string; other values become JSON.
 * Going out, JSON and bytes are one data section and a string is an `amqp-value`, so every body
 * reads back through the SDK as it was sent.
 * @module
 */

import type { PropertyValue, ServiceBusMessage } from '@hubbub/bus';
import type { Delivery } from '@hubbub/bus/broker';
import { type AmqpMessage, amqpMessage, rhea, types } from './rhea.ts';

/** `message-format` of a batch: each data section of the envelope is one encoded message. */
export const BATCH_FORMAT = 0x80013700;

/** Why a transfer could not become bus messages; settled `rejected` with this condition. */
export class MessageDecodeError extends Error {
  readonly condition: string;
  constructor(condition: string, message: string) {
    super(message);
    this.condition = condition;
  }
}

const invalid = (message: string): MessageDecodeError => new MessageDecodeError('amqp:invalid-field', message);

interface Section {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

const isSection = (b: unknown): b is Section =>
  b !== null && typeof b === 'object' && typeof (b as Section).typecode === 'number' && 'content' in b;

/** The messages of one transfer: a plain message (format 0) or a batch envelope. */
export function decodeTransfer(payload: unknown, format: number | undefined): ServiceBusMessage[] {
  if (format === undefined || format === 0) return [toBusMessage(payload as AmqpMessage)];
  if (format !== BATCH_FORMAT)
    throw new MessageDecodeError('amqp:not-implemented', `message format ${format} is not supported`);
  if (!Buffer.isBuffer(payload)) throw invalid('batch payload is not bytes');
  const envelope = amqpMessage.decode(payload) as AmqpMessage;
  const body: unknown = envelope.body;
  if (!isSection(body) || body.typecode !== 0x75) throw invalid('a batch envelope must hold data sections');
  const parts = (body.multiple ? body.content : [body.content]) as unknown[];
  return parts.map((p) => {
    if (!Buffer.isBuffer(p)) throw invalid('a batch section must hold an encoded message');
    return toBusMessage(amqpMessage.decode(p) as AmqpMessage);
  });
}

function idString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.length === 16 ? rhea.uuid_to_string(v) : v.toString('hex');
  throw invalid(`${field} has an unsupported type`);
}

function text(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${field} must be a string`);
  return v;
}

/** An AMQP property value as the bus keeps it; an 8-byte Buffer is a long rhea could not fit in a number. */
function propertyIn(name: string, v: unknown): PropertyValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint' || v instanceof Date) return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalid(`application property '${name}' is not a finite number`);
    return v;
  }
  if (Buffer.isBuffer(v) && v.length === 8) return v.readBigInt64BE(0);
  throw invalid(`application property '${name}' has a type the bus does not keep (binary, list, map)`);
}

/** A value for rhea's encoder: bigints as longs. */
export function propertyOut(v: PropertyValue): unknown {
  if (typeof v !== 'bigint') return v;
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return types.wrap_long(b);
}

function bodyIn(body: unknown): unknown {
  if (isSection(body)) {
    if (body.typecode === 0x75) {
      const parts = (body.multiple ? body.content : [body.content]) as Buffer[];
      const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      try {
        const parsed: unknown = JSON.parse(bytes.toString('utf8'));
        return parsed;
      } catch {
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
    }
    if (body.typecode === 0x76) return jsonSafe(body.content);
  }
  if (body === undefined) return null;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return jsonSafe(body);
}

/** amqp-value / amqp-sequence content as JSON data: bigints and 8-byte longs as numbers, binaries as base64. */
function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return v;
}

/** One decoded AMQP message as a bus message. */
export function toBusMessage(m: AmqpMessage): ServiceBusMessage {
  if (m === null || typeof m !== 'object') throw invalid('not a message');
  const out: ServiceBusMessage = { body: bodyIn(m.body) };
  const set = (k: keyof ServiceBusMessage, v: unknown): void => {
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  };
  set('messageId', idString(m.message_id, 'message-id'));
  set('correlationId', idString(m.correlation_id, 'correlation-id'));
  set('subject', text(m.subject, 'subject'));
  set('contentType', text(m.content_type, 'content-type'));
  set('to', text(m.to, 'to'));
  set('replyTo', text(m.reply_to, 'reply-to'));
  set('sessionId', text(m.group_id, 'group-id'));
  set('replyToSessionId', text(m.reply_to_group_id, 'reply-to-group-id'));
  if (m.ttl !== undefined && m.ttl !== null) {
    if (typeof m.ttl !== 'number' || !(m.ttl > 0)) throw invalid('header ttl must be a positive number');
    out.timeToLive = m.ttl;
  }
  const ann = (m.message_annotations ?? {}) as Record<string, unknown>;
  set('partitionKey', text(ann['x-opt-partition-key'], 'x-opt-partition-key'));
  const when = ann['x-opt-scheduled-enqueue-time'];
  if (when !== undefined && when !== null) {
    if (!(when instanceof Date) || Number.isNaN(when.getTime()))
      throw invalid('x-opt-scheduled-enqueue-time must be a timestamp');
    out.scheduledEnqueueTime = when;
  }
  const props = m.application_properties as Record<string, unknown> | undefined;
  if (props !== undefined && props !== null) {
    if (typeof props !== 'object') throw invalid('application-properties must be a map');
    const copy: Record<string, PropertyValue> = {};
    for (const [k, v] of Object.entries(props)) copy[k] = propertyIn(k, v);
    out.applicationProperties = copy;
  }
  return out;
}

const long = (n: number | bigint): unknown => types.wrap_long(Number(n));

/**
 * A delivery, a peeked message or a message received by sequence number as rhea's message object.
 * The front writes these bytes with `encodeDelivery` (encode.ts); this is the reference its tests
 * hold it to.
 */
export function toAmqpMessage(d: Delivery): AmqpMessage {
  const s = d.msg;
  const ann: Record<string, unknown> = {
    'x-opt-sequence-number': long(s.seq),
    'x-opt-enqueue-sequence-number': long(s.seq),
    'x-opt-enqueued-time': new Date(s.enqueuedTime),
    'x-opt-message-state': types.wrap_int(s.state === 'active' ? 0 : s.state === 'deferred' ? 1 : 2),
  };
  if (d.lockedUntil !== undefined) ann['x-opt-locked-until'] = new Date(d.lockedUntil);
  if (s.partitionKey !== undefined) ann['x-opt-partition-key'] = s.partitionKey;
  if (s.scheduledEnqueueTime !== undefined) ann['x-opt-scheduled-enqueue-time'] = new Date(s.scheduledEnqueueTime);
  if (s.deadLetterSource !== undefined) ann['x-opt-deadletter-source'] = s.deadLetterSource;
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.applicationProperties ?? {})) props[k] = propertyOut(v);
  if (s.deadLetterReason !== undefined) props.DeadLetterReason = s.deadLetterReason;
  if (s.deadLetterErrorDescription !== undefined) props.DeadLetterErrorDescription = s.deadLetterErrorDescription;
  const body = Buffer.from(s.body.buffer, s.body.byteOffset, s.body.byteLength);
  const m: AmqpMessage = {
    body: s.bodyType === 'string' ? body.toString('utf8') : amqpMessage.data_section(body),
    delivery_count: s.deliveryCount,
    message_annotations: ann,
    application_properties: props,
  };
  if (s.messageId !== undefined) m.message_id = s.messageId;
  if (s.correlationId !== undefined) m.correlation_id = s.correlationId;
  if (s.subject !== undefined) m.subject = s.subject;
  if (s.contentType !== undefined) m.content_type = s.contentType;
  if (s.to !== undefined) m.to = s.to;
  if (s.replyTo !== undefined) m.reply_to = s.replyTo;
  if (s.sessionId !== undefined) m.group_id = s.sessionId;
  if (s.replyToSessionId !== undefined) m.reply_to_group_id = s.replyToSessionId;
  if (s.timeToLive !== undefined) m.ttl = s.timeToLive;
  if (s.expiresAt !== undefined) m.absolute_expiry_time = new Date(s.expiresAt);
  return m;
}

/** RFC 4122 bytes of a GUID string (management `lock-tokens`). */
export function guidBytes(guid: string): Buffer {
  return Buffer.from(guid.replace(/-/g, ''), 'hex');
}

/** The GUID string of RFC 4122 bytes. */
export function guidString(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** .NET's byte order of a GUID (first three groups little-endian): the delivery tag of a lock token. */
export function dotnetOrder(rfc: Buffer): Buffer {
  const b = Buffer.from(rfc);
  b.writeUInt32LE(rfc.readUInt32BE(0), 0);
  b.writeUInt16LE(rfc.readUInt16BE(4), 4);
  b.writeUInt16LE(rfc.readUInt16BE(6), 6);
  return b;
}

/** A lock token as the delivery tag the SDK turns back into it. */
export function lockTokenTag(lockToken: string): Buffer {
  if (lockToken.length !== 36) return dotnetOrder(guidBytes(lockToken));
  // Straight from the GUID's hex digits: one buffer, no intermediate string or copy.
  const b = Buffer.allocUnsafe(16);
  for (let i = 0; i < 16; i++) {
    const at = TAG_DIGITS[i]!;
    const hi = hexValue(lockToken.charCodeAt(at));
    const lo = hexValue(lockToken.charCodeAt(at + 1));
    if (hi < 0 || lo < 0) return dotnetOrder(guidBytes(lockToken));
    b[i] = (hi << 4) | lo;
  }
  return b;
}

/** Where each byte of the .NET-ordered tag starts in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const TAG_DIGITS = [6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34];

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const TICKS_AT_EPOCH = 621_355_968_000_000_000n;

/** Milliseconds since the epoch as .NET ticks in an AMQP long (the session lock's `locked-until-utc`). */
export function ticks(ms: number): unknown {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(Math.floor(ms)) * 10_000n + TICKS_AT_EPOCH);
  return types.wrap_long(b);
}

/** An AMQP long (number, bigint or 8-byte Buffer) as a bigint; undefined when it is none. */
export function asBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (Buffer.isBuffer(v) && v.length === 8) return v.readBigInt64BE(0);
  return undefined;
}
