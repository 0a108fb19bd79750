/**
 * Frames of the file engine's log: `[u32 length][u32 crc32][payload]`, payload =
 * `[u32 json length][JSON array of ops][binary blobs]`. Message bodies and session states travel as
 * raw bytes after the JSON (`{"$bin": size}` in their place, blobs in op order); bigint and Date
 * values are tagged (`{"$b": "…"}`, `{"$d": ms}`). A frame is one atomic batch: a torn or corrupt
 * frame at the tail is discarded on replay.
 * @module
 */
import { crc32 } from 'node:zlib';
import type { EngineOp, StoredMessage } from './engine.ts';

const HEADER = 8;

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

function encodeOp(op: EngineOp, blobs: Uint8Array[]): unknown {
  switch (op.op) {
    case 'append': {
      const m = op.message;
      blobs.push(m.body);
      const out: Record<string, unknown> = { ...m, body: m.body.byteLength };
      if (m.applicationProperties !== undefined) out.applicationProperties = tagProps(m.applicationProperties);
      return { op: 'append', message: out };
    }
    case 'update':
      return op.patch.applicationProperties === undefined
        ? op
        : { ...op, patch: { ...op.patch, applicationProperties: tagProps(op.patch.applicationProperties) } };
    case 'session':
      if (op.state === null) return op;
      blobs.push(op.state);
      return { ...op, state: op.state.byteLength };
    case 'entity':
      return { op: 'entity', entity: tagDeep(op.entity) };
    default:
      return op;
  }
}

export function encodeFrame(ops: readonly EngineOp[]): Buffer {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(ops.map((op) => encodeOp(op, blobs)));
  let blobBytes = 0;
  for (const b of blobs) blobBytes += b.byteLength;
  const jsonLength = Buffer.byteLength(json);
  const payloadLength = 4 + jsonLength + blobBytes;
  const frame = Buffer.allocUnsafe(HEADER + payloadLength);
  frame.writeUInt32LE(payloadLength, 0);
  frame.writeUInt32LE(jsonLength, HEADER);
  frame.write(json, HEADER + 4, 'utf8');
  let at = HEADER + 4 + jsonLength;
  for (const b of blobs) {
    frame.set(b, at);
    at += b.byteLength;
  }
  frame.writeUInt32LE(crc32(frame.subarray(HEADER)), 4);
  return frame;
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
 * just past the last intact frame (where a torn tail begins).
 */
export function decodeFrames(buf: Buffer, onBatch: (ops: EngineOp[]) => void): number {
  let at = 0;
  while (at + HEADER <= buf.length) {
    const length = buf.readUInt32LE(at);
    if (length < 4 || at + HEADER + length > buf.length) break;
    const payload = buf.subarray(at + HEADER, at + HEADER + length);
    if (crc32(payload) !== buf.readUInt32LE(at + 4)) break;
    const jsonLength = payload.readUInt32LE(0);
    if (4 + jsonLength > payload.length) break;
    let blobAt = 4 + jsonLength;
    const take = (size: number): Uint8Array => {
      if (!Number.isInteger(size) || size < 0 || blobAt + size > payload.length) throw new RangeError('bad blob');
      const bytes = new Uint8Array(payload.subarray(blobAt, blobAt + size)); // a copy
      blobAt += size;
      return bytes;
    };
    let ops: EngineOp[];
    try {
      const raw = JSON.parse(payload.toString('utf8', 4, 4 + jsonLength)) as Array<Record<string, unknown>>;
      ops = raw.map((op) => decodeOp(op, take));
    } catch {
      break;
    }
    onBatch(ops);
    at += HEADER + length;
  }
  return at;
}

export type { StoredMessage };
