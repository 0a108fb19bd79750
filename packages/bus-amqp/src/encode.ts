/**
 * A delivery's AMQP message bytes, written straight from the bus's stored message. It writes the
 * same bytes rhea's `message.encode(toAmqpMessage(d))` writes (codec.test.ts checks it byte for
 * byte), without building rhea's message object, its typed wrappers per field and per value, the
 * section objects and the intermediate buffers of its writer: the outbound half of a message was
 * the largest share of the front's CPU per message (bench/bus-amqp).
 *
 * rhea's choices, kept here: lists and maps always 32-bit (list0 when a list is empty), strings,
 * symbols and binaries 8-bit up to 255 bytes, the smallest int/uint/long/ulong forms, and an
 * application property number encoded as rhea's `types.wrap` does (uint below 2^32 when
 * positive, int above -2^31+1 otherwise, ulong or long beyond, double when not whole, null for NaN).
 * @module
 */
import type { PropertyValue } from '@hubbub/bus';
import type { Delivery } from '@hubbub/bus/broker';

const TWO32 = 4294967296;
const MIN_INT = -2147483647;

let buf = Buffer.allocUnsafe(16 * 1024);
let pos = 0;

function room(n: number): void {
  if (pos + n <= buf.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
  buf.copy(bigger, 0, 0, pos);
  buf = bigger;
}

const byte = (b: number): void => {
  room(1);
  buf[pos++] = b;
};

/** A string's UTF-8 bytes after an 8-bit (≤ 255 bytes) or 32-bit length, typecode `small`/`large`. */
function utf8(s: string, small: number, large: number): void {
  room(s.length * 3 + 5);
  if (s.length * 3 <= 255 || Buffer.byteLength(s) <= 255) {
    buf[pos] = small;
    const written = buf.write(s, pos + 2);
    buf[pos + 1] = written;
    pos += 2 + written;
  } else {
    buf[pos] = large;
    const written = buf.write(s, pos + 5);
    buf.writeUInt32BE(written, pos + 1);
    pos += 5 + written;
  }
}

const str = (s: string): void => utf8(s, 0xa1, 0xb1);
const sym = (s: string): void => utf8(s, 0xa3, 0xb3);

/** Bytes after an 8-bit (≤ 255) or 32-bit length, typecode `small`/`large`: binary, or a string's UTF-8. */
function bytes(b: Uint8Array, small: number, large: number): void {
  room(b.length + 5);
  if (b.length <= 255) {
    buf[pos] = small;
    buf[pos + 1] = b.length;
    pos += 2;
  } else {
    buf[pos] = large;
    buf.writeUInt32BE(b.length, pos + 1);
    pos += 5;
  }
  buf.set(b, pos);
  pos += b.length;
}

/** A whole number as 8 bytes, two's complement (rhea's `write_long` for numbers). */
function int64(n: number): void {
  const hi = Math.floor(n / TWO32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(n - hi * TWO32, pos + 4);
  pos += 8;
}

function long(n: number): void {
  room(9);
  if (n > 127 || n < -128) {
    buf[pos++] = 0x81;
    int64(n);
  } else {
    buf[pos++] = 0x55;
    buf.writeInt8(n, pos++);
  }
}

function timestamp(ms: number): void {
  room(9);
  buf[pos++] = 0x83;
  int64(ms);
}

function int(n: number): void {
  room(5);
  if (n > 127 || n < -128) {
    buf[pos++] = 0x71;
    buf.writeInt32BE(n, pos);
    pos += 4;
  } else {
    buf[pos++] = 0x54;
    buf.writeInt8(n, pos++);
  }
}

function uint(n: number): void {
  room(5);
  if (n === 0) buf[pos++] = 0x43;
  else if (n > 255) {
    buf[pos++] = 0x70;
    buf.writeUInt32BE(n, pos);
    pos += 4;
  } else {
    buf[pos++] = 0x52;
    buf[pos++] = n;
  }
}

function ulong(n: number): void {
  room(9);
  if (n === 0) buf[pos++] = 0x44;
  else if (n > 255) {
    buf[pos++] = 0x80;
    const hi = Math.floor(n / TWO32);
    buf.writeUInt32BE(hi, pos);
    buf.writeUInt32BE(n % TWO32, pos + 4);
    pos += 8;
  } else {
    buf[pos++] = 0x53;
    buf[pos++] = n;
  }
}

/** A property value as rhea's `types.wrap` (and, for bigints, `wrap_long` of 8 bytes) writes it. */
function value(v: PropertyValue): void {
  if (v === null || v === undefined) byte(0x40);
  else if (typeof v === 'string') str(v);
  else if (typeof v === 'boolean') byte(v ? 0x41 : 0x42);
  else if (typeof v === 'number') {
    if (Number.isNaN(v)) byte(0x40);
    else if (Math.floor(v) - v !== 0) {
      room(9);
      buf[pos++] = 0x82;
      buf.writeDoubleBE(v, pos);
      pos += 8;
    } else if (v > 0) {
      if (v < TWO32) uint(v);
      else ulong(v);
    } else if (v > MIN_INT) int(v);
    else long(v);
  } else if (typeof v === 'bigint') {
    room(9);
    if (v >= -128n && v <= 127n) {
      buf[pos++] = 0x55;
      buf.writeInt8(Number(v), pos++);
    } else {
      buf[pos++] = 0x81;
      buf.writeBigInt64BE(v, pos);
      pos += 8;
    }
  } else timestamp(v.getTime());
}

/** Opens a described section (`0x00 smallulong code`) holding a list32 or map32; returns its start. */
function openCompound(code: number, typecode: number): number {
  room(12);
  buf[pos] = 0x00;
  buf[pos + 1] = 0x53;
  buf[pos + 2] = code;
  buf[pos + 3] = typecode;
  pos += 12;
  return pos - 8;
}

/** Backfills size and count of the compound whose size field starts at `at`. */
function closeCompound(at: number, count: number): void {
  buf.writeUInt32BE(pos - at - 4, at);
  buf.writeUInt32BE(count, at + 4);
}

const nullsUntil = (count: number): void => {
  room(count);
  buf.fill(0x40, pos, pos + count);
  pos += count;
};

/** Properties fields by list index (message-id … reply-to-group-id) as `toAmqpMessage` sets them. */
function properties(d: Delivery): void {
  const s = d.msg;
  let last = -1;
  if (s.replyToSessionId !== undefined) last = 12;
  else if (s.sessionId !== undefined) last = 10;
  else if (s.expiresAt !== undefined) last = 8;
  else if (s.contentType !== undefined) last = 6;
  else if (s.correlationId !== undefined) last = 5;
  else if (s.replyTo !== undefined) last = 4;
  else if (s.subject !== undefined) last = 3;
  else if (s.to !== undefined) last = 2;
  else if (s.messageId !== undefined) last = 0;
  room(4);
  buf[pos++] = 0x00;
  buf[pos++] = 0x53;
  buf[pos++] = 0x73;
  if (last < 0) {
    byte(0x45);
    return;
  }
  buf[pos++] = 0xd0;
  room(8);
  const at = pos;
  pos += 8;
  const opt = (v: string | undefined, write: (s: string) => void): void => {
    if (v === undefined) byte(0x40);
    else write(v);
  };
  opt(s.messageId, str);
  if (last >= 1) {
    byte(0x40); // user-id
    if (last >= 2) opt(s.to, str);
    if (last >= 3) opt(s.subject, str);
    if (last >= 4) opt(s.replyTo, str);
    if (last >= 5) opt(s.correlationId, str);
    if (last >= 6) opt(s.contentType, sym);
    if (last >= 7) byte(0x40); // content-encoding
    if (last >= 8) {
      if (s.expiresAt === undefined) byte(0x40);
      else timestamp(s.expiresAt);
    }
    if (last >= 9) byte(0x40); // creation-time
    if (last >= 10) opt(s.sessionId, str);
    if (last >= 11) byte(0x40); // group-sequence
    if (last >= 12) opt(s.replyToSessionId, str);
  }
  closeCompound(at, last + 1);
}

/** The AMQP message of a delivery (or a peeked message): header, annotations, properties, body. */
export function encodeDelivery(d: Delivery): Buffer {
  const s = d.msg;
  pos = 0;
  // header: durable, priority, ttl, first-acquirer, delivery-count
  let at = openCompound(0x70, 0xd0);
  nullsUntil(2);
  if (s.timeToLive === undefined) byte(0x40);
  else uint(s.timeToLive);
  byte(0x40);
  uint(s.deliveryCount);
  closeCompound(at, 5);

  at = openCompound(0x72, 0xd1);
  let n = 4;
  sym('x-opt-sequence-number');
  long(s.seq);
  sym('x-opt-enqueue-sequence-number');
  long(s.seq);
  sym('x-opt-enqueued-time');
  timestamp(s.enqueuedTime);
  sym('x-opt-message-state');
  int(s.state === 'active' ? 0 : s.state === 'deferred' ? 1 : 2);
  if (d.lockedUntil !== undefined) {
    sym('x-opt-locked-until');
    timestamp(d.lockedUntil);
    n++;
  }
  if (s.partitionKey !== undefined) {
    sym('x-opt-partition-key');
    str(s.partitionKey);
    n++;
  }
  if (s.scheduledEnqueueTime !== undefined) {
    sym('x-opt-scheduled-enqueue-time');
    timestamp(s.scheduledEnqueueTime);
    n++;
  }
  if (s.deadLetterSource !== undefined) {
    sym('x-opt-deadletter-source');
    str(s.deadLetterSource);
    n++;
  }
  closeCompound(at, n * 2);

  properties(d);

  at = openCompound(0x74, 0xd1);
  let props = s.applicationProperties;
  if (s.deadLetterReason !== undefined || s.deadLetterErrorDescription !== undefined) {
    const merged: Record<string, PropertyValue> = { ...props };
    if (s.deadLetterReason !== undefined) merged.DeadLetterReason = s.deadLetterReason;
    if (s.deadLetterErrorDescription !== undefined) merged.DeadLetterErrorDescription = s.deadLetterErrorDescription;
    props = merged;
  }
  n = 0;
  if (props !== undefined)
    for (const k in props) {
      str(k);
      value(props[k] as PropertyValue);
      n++;
    }
  closeCompound(at, n * 2);

  room(3);
  buf[pos++] = 0x00;
  buf[pos++] = 0x53;
  if (s.bodyType === 'string') {
    // A string body is stored as its UTF-8 bytes: they go out as they are.
    buf[pos++] = 0x77;
    bytes(s.body, 0xa1, 0xb1);
  } else {
    buf[pos++] = 0x75;
    bytes(s.body, 0xa0, 0xb0);
  }
  const out = Buffer.allocUnsafe(pos);
  buf.copy(out, 0, 0, pos);
  return out;
}
