/**
 * A stored message as the bytes of one JetStream message: a 4-byte length, the message's fields
 * as JSON (application properties tagged so bigints and dates come back as such), then the body.
 * The sequence number is the stream's when the message sits where it was first published; a
 * message moved (deferred, dead-lettered, abandoned with changes, scheduled and now due) carries
 * its original one in the JSON.
 * @module
 */
import type { StoredMessage } from '../engine/port.ts';
import { BusError } from '../errors.ts';
import { MESSAGE_STRING_FIELDS, type PropertyValue } from '../message.ts';

type Tagged = string | number | boolean | null | ['b', string] | ['d', number];

function tag(v: PropertyValue): Tagged {
  if (typeof v === 'bigint') return ['b', v.toString()];
  if (v instanceof Date) return ['d', v.getTime()];
  return v;
}

function untag(v: Tagged): PropertyValue {
  if (Array.isArray(v)) return v[0] === 'b' ? BigInt(v[1]) : new Date(v[1]);
  return v;
}

/** The fields a payload carries: everything but where it is (entity, state) and its body. */
export type PayloadFields = Omit<StoredMessage, 'entity' | 'state' | 'body'>;

/** Application properties as JSON (settlements forwarded to another node carry them so). */
export function tagProps(props: Readonly<Record<string, PropertyValue>>): Record<string, Tagged> {
  const out: Record<string, Tagged> = {};
  for (const [k, v] of Object.entries(props)) out[k] = tag(v);
  return out;
}

export function untagProps(props: Readonly<Record<string, Tagged>>): Record<string, PropertyValue> {
  const out: Record<string, PropertyValue> = {};
  for (const [k, v] of Object.entries(props)) out[k] = untag(v);
  return out;
}

export function encodePayload(m: Omit<StoredMessage, 'entity' | 'state'>, keepSeq: boolean): Uint8Array {
  const { body, applicationProperties, seq, ...rest } = m as StoredMessage;
  const meta: Record<string, unknown> = rest;
  delete meta.entity;
  delete meta.state;
  if (keepSeq) meta.seq = seq;
  if (applicationProperties !== undefined) meta.applicationProperties = tagProps(applicationProperties);
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.byteLength + body.byteLength);
  out.writeUInt32BE(json.byteLength, 0);
  json.copy(out, 4);
  out.set(body, 4 + json.byteLength);
  return out;
}

const BODY_TYPES: ReadonlySet<unknown> = new Set(['bytes', 'string', 'json']);
const NUMBER_FIELDS = ['expiresAt', 'scheduledEnqueueTime', 'timeToLive', 'hops'] as const;
const STRING_FIELDS = [
  ...MESSAGE_STRING_FIELDS,
  'deadLetterReason',
  'deadLetterErrorDescription',
  'deadLetterSource',
] as const;

const isTagged = (v: unknown): v is Tagged =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v)) ||
  (Array.isArray(v) &&
    v.length === 2 &&
    ((v[0] === 'b' && typeof v[1] === 'string' && /^-?\d+$/.test(v[1])) ||
      (v[0] === 'd' && (v[1] === null || Number.isFinite(v[1])))));

/** Why `meta` is not the fields of a bus message, or undefined when it is. */
function malformed(meta: unknown): string | undefined {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return 'its fields are not a JSON object';
  const m = meta as Record<string, unknown>;
  if (!BODY_TYPES.has(m.bodyType)) return 'bodyType';
  if (!Number.isFinite(m.enqueuedTime)) return 'enqueuedTime';
  if (m.deliveryCount !== undefined && !(Number.isSafeInteger(m.deliveryCount) && (m.deliveryCount as number) >= 0)) {
    return 'deliveryCount';
  }
  if (m.seq !== undefined && !(Number.isSafeInteger(m.seq) && (m.seq as number) > 0)) return 'seq';
  for (const f of NUMBER_FIELDS) if (m[f] !== undefined && !Number.isFinite(m[f])) return f;
  for (const f of STRING_FIELDS) if (m[f] !== undefined && typeof m[f] !== 'string') return f;
  const props = m.applicationProperties;
  if (props !== undefined) {
    if (props === null || typeof props !== 'object' || Array.isArray(props)) return 'applicationProperties';
    if (!Object.values(props).every(isTagged)) return 'applicationProperties';
  }
  return undefined;
}

/**
 * Decodes a payload; `streamSeq` is the sequence number unless the payload carries one. Bytes
 * that are no bus message (published to its subjects by something else) are BUS_ENGINE_FAILURE.
 */
export function decodePayload(
  data: Uint8Array,
  entity: string,
  state: StoredMessage['state'],
  streamSeq: number,
): StoredMessage {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const notBus = (why: string, cause?: unknown) =>
    new BusError('BUS_ENGINE_FAILURE', `A JetStream message of ${entity} is not a bus message (${why}).`, {
      ...(cause === undefined ? {} : { cause }),
    });
  if (buf.byteLength < 4 || buf.readUInt32BE(0) > buf.byteLength - 4) throw notBus('no length-prefixed header');
  const len = buf.readUInt32BE(0);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(buf.toString('utf8', 4, 4 + len)) as Record<string, unknown>;
  } catch (err) {
    throw notBus('its fields are not JSON', err);
  }
  const wrong = malformed(meta);
  if (wrong !== undefined) throw notBus(wrong);
  const props = meta.applicationProperties as Record<string, Tagged> | undefined;
  if (props !== undefined) meta.applicationProperties = untagProps(props);
  meta.entity = entity;
  meta.state = state;
  if (meta.seq === undefined) meta.seq = streamSeq;
  meta.body = buf.subarray(4 + len);
  return meta as unknown as StoredMessage;
}
