/**
 * The file engine's checkpoint: written at a clean close, it holds the live state held in memory (as
 * log frames) and the backlog's index (packed arrays), and names the segments and sizes it covers.
 * `open()` loads it instead of replaying the log when every segment is still exactly as named, so
 * a restart reads about 25 bytes per parked message rather than the messages themselves.
 *
 * Safety: the checkpoint is deleted (durably) as it is loaded, before any write is acknowledged, so
 * after a crash there is none and the log is replayed in full; a checkpoint that does not match
 * the segments to the byte, or fails its checksum, is ignored the same way.
 * @module
 */
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { captureOps, type LiveState } from '../live-state.ts';
import type { EngineOp } from '../port.ts';
import { ColdList } from './cold-index.ts';
import { decodeFrames, encodeFrame } from './log-codec.ts';
import { syncDir } from './log-dir.ts';

const NAME = 'CHECKPOINT';
const MAGIC = 0x4b434248; // 'HBCK'
const VERSION = 1;

/** What a loaded checkpoint gives back beside the live state it applied. */
export interface Loaded {
  readonly segments: string[];
  readonly bytes: number;
  readonly end: number;
  readonly cold: Map<string, ColdList>;
}

/** Writes the checkpoint of a closed log: `segments` in order, the live state and the parked index. */
export async function writeCheckpoint(
  dir: string,
  segments: readonly string[],
  state: LiveState,
  cold: ReadonlyMap<string, ColdList>,
  fsync: boolean,
): Promise<void> {
  const sizes: Array<[string, number]> = [];
  for (const f of segments) sizes.push([f, (await stat(join(dir, f))).size]);
  const parts: Buffer[] = [];
  const u32 = (v: number): void => {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v, 0);
    parts.push(b);
  };
  const json = Buffer.from(JSON.stringify({ segments: sizes, live: state.live, garbage: state.garbage }));
  u32(MAGIC);
  u32(VERSION);
  u32(json.length);
  parts.push(json);
  const frames: Buffer[] = [];
  let chunk: EngineOp[] = [];
  for (const op of captureOps(state.capture())) {
    chunk.push(op);
    if (chunk.length >= 256) {
      frames.push(encodeFrame(chunk));
      chunk = [];
    }
  }
  if (chunk.length > 0) frames.push(encodeFrame(chunk));
  const framed = Buffer.concat(frames);
  u32(framed.length);
  parts.push(framed);
  const lists = [...cold].filter(([, list]) => list.count > 0);
  u32(lists.length);
  for (const [entity, list] of lists) {
    const key = Buffer.from(entity);
    u32(key.length);
    parts.push(key);
    const packed = list.pack();
    u32(packed.seq.length);
    for (const a of [packed.seq, packed.seg, packed.pos, packed.len])
      parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }
  const body = Buffer.concat(parts);
  const sum = Buffer.allocUnsafe(4);
  sum.writeUInt32LE(crc32(body), 0);
  const tmp = join(dir, `${NAME}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(Buffer.concat([body, sum]));
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, NAME));
  if (fsync) await syncDir(dir);
}

/**
 * Loads the checkpoint into `apply` if there is one and it matches the directory's segments
 * (`present`, in replay order) to the byte; deletes it either way, durably. Undefined: replay.
 */
export async function loadCheckpoint(
  dir: string,
  present: readonly string[],
  state: LiveState,
): Promise<Loaded | undefined> {
  const path = join(dir, NAME);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return undefined;
  }
  await rm(path, { force: true });
  await syncDir(dir); // from here on a crash replays the log
  try {
    return await parse(dir, buf, present, state);
  } catch {
    return undefined;
  }
}

async function parse(
  dir: string,
  buf: Buffer,
  present: readonly string[],
  state: LiveState,
): Promise<Loaded | undefined> {
  if (buf.length < 16 || crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) return undefined;
  let at = 0;
  const u32 = (): number => {
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };
  if (u32() !== MAGIC || u32() !== VERSION) return undefined;
  const jsonLength = u32();
  const meta = JSON.parse(buf.toString('utf8', at, at + jsonLength)) as {
    segments: Array<[string, number]>;
    live: number;
    garbage: number;
  };
  at += jsonLength;
  if (meta.segments.length !== present.length) return undefined;
  let bytes = 0;
  for (const [i, [name, size]] of meta.segments.entries()) {
    if (present[i] !== name || (await stat(join(dir, name))).size !== size) return undefined;
    bytes += size;
  }
  const framed = u32();
  const frames = buf.subarray(at, at + framed);
  if (decodeFrames(frames, (ops) => ops.forEach((op) => state.apply(op))) !== framed) return undefined;
  at += framed;
  state.live = meta.live;
  state.garbage = meta.garbage;
  const cold = new Map<string, ColdList>();
  const lists = u32();
  for (let l = 0; l < lists; l++) {
    const keyLength = u32();
    const entity = buf.toString('utf8', at, at + keyLength);
    at += keyLength;
    const n = u32();
    // Copies into fresh (aligned) buffers: the file's offsets need not suit 8-byte arrays.
    const take = (width: number): ArrayBuffer => {
      const ab = new ArrayBuffer(n * width);
      new Uint8Array(ab).set(buf.subarray(at, at + n * width));
      at += n * width;
      return ab;
    };
    const seq = new Float64Array(take(8));
    const seg = new Uint32Array(take(4));
    const pos = new Float64Array(take(8));
    const len = new Uint32Array(take(4));
    cold.set(entity, ColdList.unpack(seq, seg, pos, len));
  }
  if (at !== buf.length - 4) return undefined;
  const last = meta.segments.at(-1);
  return { segments: meta.segments.map(([name]) => name), bytes, end: last?.[1] ?? 0, cold };
}
