/**
 * Frames of the file engine's log: `[u32 length][u32 crc32][payload]`, payload =
 * `[u32 json length][JSON of the op batch][binary blobs]`. Bodies and session states travel as raw
 * bytes after the JSON (`{"$bin": size}` in the JSON, blobs in document order); bigint and Date
 * property values are tagged (`$b`, `$d`). A frame is one atomic batch: a torn or corrupt frame at
 * the tail is discarded on replay.
 * @module
 */
import { crc32 } from 'node:zlib';
import type { EngineOp } from './engine.ts';

const HEADER = 8;

export function encodeFrame(ops: readonly EngineOp[]): Buffer {
  const blobs: Uint8Array[] = [];
  let blobBytes = 0;
  const json = JSON.stringify(ops, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    if (raw instanceof Uint8Array) {
      blobs.push(raw);
      blobBytes += raw.byteLength;
      return { $bin: raw.byteLength };
    }
    if (raw instanceof Date) return { $d: raw.getTime() };
    if (typeof value === 'bigint') return { $b: value.toString() };
    return value;
  });
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
    let ops: EngineOp[];
    try {
      ops = JSON.parse(payload.toString('utf8', 4, blobAt), (_key, value) => {
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          if ('$bin' in value) {
            const size = value.$bin as number;
            if (blobAt + size > payload.length) throw new RangeError('blob out of range');
            const bytes = new Uint8Array(payload.subarray(blobAt, blobAt + size)); // a copy
            blobAt += size;
            return bytes;
          }
          if ('$d' in value) return new Date(value.$d);
          if ('$b' in value) return BigInt(value.$b);
        }
        return value;
      }) as EngineOp[];
    } catch {
      break;
    }
    onBatch(ops);
    at += HEADER + length;
  }
  return at;
}
