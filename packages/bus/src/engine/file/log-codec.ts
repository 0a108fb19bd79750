/**
 * Frames of the file engine's log: `[u32 length][u32 crc32][payload]`. A frame is one atomic batch:
 * a torn or corrupt frame at the tail is discarded on replay.
 *
 * Payload (version 2, written): `[u32 0xFFFFFFFF][u32 op count]` then one record per op, led by a
 * kind byte. The ops every message makes — `append` and `remove` — are binary records (strings as
 * `[u32 byte length][utf8]`, numbers as f64, a bit set of the optional fields present, the body's
 * bytes last); every other op is `[u32 length][JSON]` followed by its blobs (`[u32 length][bytes]`,
 * session state), as rare ops do not need the speed. Application properties are JSON inside the
 * record, with bigint and Date values tagged (`{"$b": "…"}`, `{"$d": ms}`).
 *
 * Payload version 1 (logs written before, still read): `[u32 json length][JSON array of ops][blobs]`
 * with `{"$bin": size}`-style lengths in place of bodies and session states.
 * @module
 */
import { crc32 } from 'node:zlib';
import type { BodyType, EngineOp, StoredMessage } from '../port.ts';

const HEADER = 8;
/** Where a version-1 payload has its JSON length; no JSON is this long. */
const V2 = 0xffffffff;
/** Record kinds. */
const Kind = { Json: 0, Append: 1, Remove: 2 } as const;
/** Indexed by the codes {@link stateCode} and {@link bodyTypeCode} write. */
const STATES = ['active', 'deferred', 'scheduled'] as const;
const BODY_TYPES: readonly BodyType[] = ['bytes', 'string', 'json'];
/** Optional message fields in record order, with how each is written. */
const OPTIONAL: ReadonlyArray<readonly [keyof StoredMessage, 'num' | 'str' | 'props']> = [
  ['expiresAt', 'num'],
  ['scheduledEnqueueTime', 'num'],
  ['messageId', 'str'],
  ['correlationId', 'str'],
  ['subject', 'str'],
  ['contentType', 'str'],
  ['to', 'str'],
  ['replyTo', 'str'],
  ['replyToSessionId', 'str'],
  ['sessionId', 'str'],
  ['partitionKey', 'str'],
  ['timeToLive', 'num'],
  ['applicationProperties', 'props'],
  ['deadLetterReason', 'str'],
  ['deadLetterErrorDescription', 'str'],
  ['deadLetterSource', 'str'],
  ['hops', 'num'],
];

/** Tags bigint / Date / bytes anywhere in a (rare, small) value such as entity properties. */
function tagDeep(value: unknown): unknown {
  if (value instanceof Date) return { $d: value.getTime() };
  if (typeof value === 'bigint') return { $b: value.toString() };
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(tagDeep);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = tagDeep(v);
  return out;
}

function untagDeep(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(untagDeep);
  const o = value as Record<string, unknown>;
  if ('$d' in o) return new Date(o.$d as number);
  if ('$b' in o) return BigInt(o.$b as string);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = untagDeep(v);
  return out;
}

function tagProps(props: Readonly<Record<string, unknown>>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k in props) {
    const v = props[k];
    if (v instanceof Date || typeof v === 'bigint') {
      out ??= { ...props };
      out[k] = tagDeep(v);
    }
  }
  return out ?? (props as Record<string, unknown>);
}

/**
 * Builds one payload in a buffer it grows by doubling and reuses across frames (the frame copies
 * out of it), so a flush allocates little besides its frame.
 */
class Writer {
  buf = Buffer.allocUnsafe(64 * 1024);
  at = 0;

  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.at++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
  }

  str(v: string): void {
    this.ensure(4 + v.length * 3); // utf8 needs at most 3 bytes per UTF-16 unit
    const n = this.buf.write(v, this.at + 4);
    this.buf.writeUInt32LE(n, this.at);
    this.at += 4 + n;
  }

  bytes(v: Uint8Array): void {
    this.ensure(4 + v.byteLength);
    this.buf.writeUInt32LE(v.byteLength, this.at);
    this.buf.set(v, this.at + 4);
    this.at += 4 + v.byteLength;
  }
}

const writer = new Writer();

function writeAppend(w: Writer, m: StoredMessage): void {
  w.u8(Kind.Append);
  w.str(m.entity);
  w.f64(m.seq);
  w.f64(m.enqueuedTime);
  w.f64(m.deliveryCount);
  w.u8(stateCode(m.state));
  w.u8(bodyTypeCode(m.bodyType));
  // Field by field (keyed access by name in a loop is several times slower on this path).
  const present =
    (m.expiresAt === undefined ? 0 : 1) |
    (m.scheduledEnqueueTime === undefined ? 0 : 2) |
    (m.messageId === undefined ? 0 : 4) |
    (m.correlationId === undefined ? 0 : 8) |
    (m.subject === undefined ? 0 : 16) |
    (m.contentType === undefined ? 0 : 32) |
    (m.to === undefined ? 0 : 64) |
    (m.replyTo === undefined ? 0 : 128) |
    (m.replyToSessionId === undefined ? 0 : 256) |
    (m.sessionId === undefined ? 0 : 512) |
    (m.partitionKey === undefined ? 0 : 1024) |
    (m.timeToLive === undefined ? 0 : 2048) |
    (m.applicationProperties === undefined ? 0 : 4096) |
    (m.deadLetterReason === undefined ? 0 : 8192) |
    (m.deadLetterErrorDescription === undefined ? 0 : 16384) |
    (m.deadLetterSource === undefined ? 0 : 32768) |
    (m.hops === undefined ? 0 : 65536);
  w.u32(present);
  if (m.expiresAt !== undefined) w.f64(m.expiresAt);
  if (m.scheduledEnqueueTime !== undefined) w.f64(m.scheduledEnqueueTime);
  if (m.messageId !== undefined) w.str(m.messageId);
  if (m.correlationId !== undefined) w.str(m.correlationId);
  if (m.subject !== undefined) w.str(m.subject);
  if (m.contentType !== undefined) w.str(m.contentType);
  if (m.to !== undefined) w.str(m.to);
  if (m.replyTo !== undefined) w.str(m.replyTo);
  if (m.replyToSessionId !== undefined) w.str(m.replyToSessionId);
  if (m.sessionId !== undefined) w.str(m.sessionId);
  if (m.partitionKey !== undefined) w.str(m.partitionKey);
  if (m.timeToLive !== undefined) w.f64(m.timeToLive);
  if (m.applicationProperties !== undefined) w.str(JSON.stringify(tagProps(m.applicationProperties)));
  if (m.deadLetterReason !== undefined) w.str(m.deadLetterReason);
  if (m.deadLetterErrorDescription !== undefined) w.str(m.deadLetterErrorDescription);
  if (m.deadLetterSource !== undefined) w.str(m.deadLetterSource);
  if (m.hops !== undefined) w.f64(m.hops);
  w.bytes(m.body);
}

function stateCode(state: StoredMessage['state']): number {
  switch (state) {
    case 'active':
      return 0;
    case 'deferred':
      return 1;
    case 'scheduled':
      return 2;
    default:
      throw new TypeError(`Unknown message state ${String(state)}`);
  }
}

function bodyTypeCode(bodyType: BodyType): number {
  switch (bodyType) {
    case 'bytes':
      return 0;
    case 'string':
      return 1;
    case 'json':
      return 2;
    default:
      throw new TypeError(`Unknown body type ${String(bodyType)}`);
  }
}

/** Rare ops as JSON; bodies-like values (session state) follow as blobs. */
function writeJson(w: Writer, op: EngineOp): void {
  const blobs: Uint8Array[] = [];
  let json: unknown;
  switch (op.op) {
    case 'update':
      json =
        op.patch.applicationProperties === undefined
          ? op
          : { ...op, patch: { ...op.patch, applicationProperties: tagProps(op.patch.applicationProperties) } };
      break;
    case 'session':
      if (op.state !== null) blobs.push(op.state);
      json = op.state === null ? op : { ...op, state: op.state.byteLength };
      break;
    case 'entity':
      json = { op: 'entity', entity: tagDeep(op.entity) };
      break;
    default:
      json = op;
  }
  w.u8(Kind.Json);
  w.str(JSON.stringify(json));
  for (const b of blobs) w.bytes(b);
}

/**
 * Encodes one batch of ops as one frame. With `parked`, pushes the frame-relative start and length
 * of every parked append's record onto it (where the message can be read back from).
 */
export function encodeFrame(ops: readonly EngineOp[], parked?: number[]): Buffer {
  const w = writer;
  w.at = 0;
  w.u32(V2);
  w.u32(ops.length);
  for (const op of ops) {
    if (op.op === 'append') {
      const start = w.at;
      writeAppend(w, op.message);
      if (op.parked === true) parked?.push(HEADER + start, w.at - start);
    } else if (op.op === 'remove') {
      w.u8(Kind.Remove);
      w.str(op.entity);
      w.f64(op.seq);
    } else writeJson(w, op);
  }
  const payload = w.buf.subarray(0, w.at);
  const frame = Buffer.allocUnsafe(HEADER + w.at);
  frame.writeUInt32LE(w.at, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  payload.copy(frame, HEADER);
  if (w.buf.length > 1024 * 1024) w.buf = Buffer.allocUnsafe(64 * 1024); // do not hold on to a huge batch's buffer
  return frame;
}

/** Reads a version-2 payload; throws on anything malformed (the frame then counts as torn). */
class Reader {
  at = 0;
  readonly buf: Buffer;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  check(n: number): void {
    if (this.at + n > this.buf.length) throw new RangeError('record past the end of the frame');
  }

  u8(): number {
    this.check(1);
    return this.buf[this.at++]!;
  }

  u32(): number {
    this.check(4);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }

  f64(): number {
    this.check(8);
    const v = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }

  str(): string {
    const n = this.u32();
    this.check(n);
    const v = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }

  /** A copy, so a decoded message does not keep the whole segment in memory. */
  bytes(): Uint8Array {
    const n = this.u32();
    this.check(n);
    const v = new Uint8Array(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return v;
  }
}

function readAppend(r: Reader): EngineOp {
  const m: Record<string, unknown> = {
    entity: r.str(),
    seq: r.f64(),
    body: undefined,
    bodyType: undefined,
    enqueuedTime: r.f64(),
    deliveryCount: r.f64(),
    state: STATES[r.u8()],
  };
  m.bodyType = BODY_TYPES[r.u8()];
  if (m.state === undefined || m.bodyType === undefined) throw new RangeError('unknown state or body type');
  const present = r.u32();
  for (let i = 0; i < OPTIONAL.length; i++) {
    if ((present & (1 << i)) === 0) continue;
    const [field, how] = OPTIONAL[i]!;
    m[field] = how === 'num' ? r.f64() : how === 'str' ? r.str() : untagProps(JSON.parse(r.str()));
  }
  m.body = r.bytes();
  return { op: 'append', message: m as unknown as StoredMessage };
}

function readJson(r: Reader): EngineOp {
  const raw = JSON.parse(r.str()) as Record<string, unknown>;
  return decodeOp(raw, (size) => {
    const bytes = r.bytes();
    if (bytes.byteLength !== size) throw new RangeError('blob size mismatch');
    return bytes;
  });
}

function decodeV2(payload: Buffer, starts?: number[]): EngineOp[] {
  const r = new Reader(payload);
  r.at = 4;
  const count = r.u32();
  const ops: EngineOp[] = [];
  for (let i = 0; i < count; i++) {
    starts?.push(r.at);
    const kind = r.u8();
    if (kind === Kind.Append) ops.push(readAppend(r));
    else if (kind === Kind.Remove) ops.push({ op: 'remove', entity: r.str(), seq: r.f64() });
    else if (kind === Kind.Json) ops.push(readJson(r));
    else throw new RangeError(`unknown record kind ${kind}`);
  }
  if (r.at !== payload.length) throw new RangeError('trailing bytes in frame');
  starts?.push(r.at);
  return ops;
}

/** One `append` record as {@link encodeFrame} wrote it (a parked message read back); throws if malformed. */
export function decodeAppendRecord(record: Buffer): StoredMessage {
  const r = new Reader(record);
  if (r.u8() !== Kind.Append) throw new RangeError('not an append record');
  const op = readAppend(r);
  if (r.at !== record.length) throw new RangeError('trailing bytes in record');
  return (op as { message: StoredMessage }).message;
}

/**
 * A frame of raw `append` records (copied byte for byte from other frames): what a compaction
 * writes for parked messages without decoding them. Pushes each record's frame-relative start.
 */
export function frameOfRecords(records: readonly Buffer[], starts: number[]): Buffer {
  let size = 8;
  for (const rec of records) size += rec.length;
  const frame = Buffer.allocUnsafe(HEADER + size);
  frame.writeUInt32LE(size, 0);
  frame.writeUInt32LE(V2, HEADER);
  frame.writeUInt32LE(records.length, HEADER + 4);
  let at = HEADER + 8;
  for (const rec of records) {
    starts.push(at);
    rec.copy(frame, at);
    at += rec.length;
  }
  frame.writeUInt32LE(crc32(frame.subarray(HEADER)), 4);
  return frame;
}

/** Version 1: `[u32 json length][JSON array of ops][blobs in op order]`. */
function decodeV1(payload: Buffer): EngineOp[] {
  const jsonLength = payload.readUInt32LE(0);
  if (4 + jsonLength > payload.length) throw new RangeError('json past the end of the frame');
  let blobAt = 4 + jsonLength;
  const take = (size: number): Uint8Array => {
    if (!Number.isInteger(size) || size < 0 || blobAt + size > payload.length) throw new RangeError('bad blob');
    const bytes = new Uint8Array(payload.subarray(blobAt, blobAt + size)); // a copy
    blobAt += size;
    return bytes;
  };
  const raw = JSON.parse(payload.toString('utf8', 4, 4 + jsonLength)) as Array<Record<string, unknown>>;
  return raw.map((op) => decodeOp(op, take));
}

function untagProps(props: Record<string, unknown>): Record<string, unknown> {
  for (const k in props) {
    const v = props[k];
    if (v !== null && typeof v === 'object') props[k] = untagDeep(v);
  }
  return props;
}

function decodeOp(raw: Record<string, unknown>, take: (size: number) => Uint8Array): EngineOp {
  switch (raw.op) {
    case 'append': {
      const m = raw.message as Record<string, unknown>;
      m.body = take(m.body as number);
      if (m.applicationProperties !== undefined) untagProps(m.applicationProperties as Record<string, unknown>);
      return raw as unknown as EngineOp;
    }
    case 'update': {
      const patch = raw.patch as Record<string, unknown>;
      if (patch.applicationProperties !== undefined) untagProps(patch.applicationProperties as Record<string, unknown>);
      return raw as unknown as EngineOp;
    }
    case 'session':
      if (raw.state !== null) raw.state = take(raw.state as number);
      return raw as unknown as EngineOp;
    case 'entity':
      return { op: 'entity', entity: untagDeep(raw.entity) } as EngineOp;
    default:
      return raw as unknown as EngineOp;
  }
}

/**
 * Decodes the intact frames at the start of `buf`, calling `onBatch` for each; returns the offset
 * just past the last intact frame (where a torn tail begins). For version-2 frames `onBatch` also
 * gets where each op's record starts in `buf` (and, last, where the frame's records end).
 */
export function decodeFrames(
  buf: Buffer,
  onBatch: (ops: EngineOp[], starts: readonly number[] | undefined) => void,
): number {
  let at = 0;
  while (at + HEADER <= buf.length) {
    const length = buf.readUInt32LE(at);
    if (length < 4 || at + HEADER + length > buf.length) break;
    const payload = buf.subarray(at + HEADER, at + HEADER + length);
    if (crc32(payload) !== buf.readUInt32LE(at + 4)) break;
    let ops: EngineOp[];
    let starts: number[] | undefined;
    try {
      if (payload.readUInt32LE(0) === V2) {
        starts = [];
        ops = decodeV2(payload, starts);
        for (let i = 0; i < starts.length; i++) starts[i] = starts[i]! + at + HEADER;
      } else ops = decodeV1(payload);
    } catch {
      break;
    }
    onBatch(ops, starts);
    at += HEADER + length;
  }
  return at;
}

export type { StoredMessage };
