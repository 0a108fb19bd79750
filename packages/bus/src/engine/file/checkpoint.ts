/**
 * The file engine's checkpoints: the live state held in memory (as log frames) and the backlog's
 * index (packed arrays) as of the end of a run of segments, named `NNNNNNNN.ckpt` after the first
 * segment they do not cover. One is written when the engine rotates to a new segment every
 * `checkpointAfterBytes` of log, and one at a clean close. `open()` loads the newest whose segments
 * are all still present with the sizes it recorded, and replays only the segments after them: a
 * restart reads about 25 bytes per parked message plus the log written since the checkpoint.
 *
 * Why that is safe: a covered segment is never written again (the engine writes to a newer one
 * from the checkpoint on, and opens a fresh one after loading a checkpoint that covers them all),
 * so its name and size pin its content; a compaction replaces segments, which no checkpoint then
 * matches. A crash between writing messages and the next checkpoint loses nothing: the frames
 * after the checkpoint are replayed; a checkpoint that does not match, or fails its checksum, is
 * ignored and the log replayed in full.
 * @module
 */
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { captureOps, type LiveCapture, type LiveState } from '../live-state.ts';
import type { EngineOp } from '../port.ts';
import { ColdList } from './cold-index.ts';
import { decodeFrames, encodeFrame } from './log-codec.ts';
import { syncDir } from './log-dir.ts';

const CHECKPOINT = /^(\d{8})\.ckpt$/;
const MAGIC = 0x4b434248; // 'HBCK'
const VERSION = 1;

/** What a loaded checkpoint gives back beside the live state it applied. */
export interface Loaded {
  /** The segments it covers (the first of the directory's): only those after them are replayed. */
  readonly segments: string[];
  /** Their bytes. */
  readonly bytes: number;
  readonly cold: Map<string, ColdList>;
}

/** What a checkpoint holds, captured at a flush boundary (written later, while writes go on). */
export interface CheckpointCapture {
  readonly state: LiveCapture;
  readonly live: number;
  readonly garbage: number;
  readonly cold: ReadonlyArray<readonly [string, ReturnType<ColdList['pack']>]>;
}

export function captureCheckpoint(state: LiveState, cold: ReadonlyMap<string, ColdList>): CheckpointCapture {
  const lists: Array<[string, ReturnType<ColdList['pack']>]> = [];
  for (const [entity, list] of cold) if (list.count > 0) lists.push([entity, list.pack()]);
  return { state: state.capture(), live: state.live, garbage: state.garbage, cold: lists };
}

/**
 * Writes the checkpoint covering `segments` (in order; none of them written again), named after
 * segment `next`, the first it does not cover; then deletes older checkpoints.
 */
export async function writeCheckpoint(
  dir: string,
  segments: readonly string[],
  next: number,
  capture: CheckpointCapture,
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
  const json = Buffer.from(JSON.stringify({ segments: sizes, live: capture.live, garbage: capture.garbage }));
  u32(MAGIC);
  u32(VERSION);
  u32(json.length);
  parts.push(json);
  const frames: Buffer[] = [];
  let chunk: EngineOp[] = [];
  for (const op of captureOps(capture.state)) {
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
  u32(capture.cold.length);
  for (const [entity, packed] of capture.cold) {
    const key = Buffer.from(entity);
    u32(key.length);
    parts.push(key);
    u32(packed.seq.length);
    for (const a of [packed.seq, packed.seg, packed.pos, packed.len])
      parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }
  const body = Buffer.concat(parts);
  const sum = Buffer.allocUnsafe(4);
  sum.writeUInt32LE(crc32(body), 0);
  const name = `${String(next).padStart(8, '0')}.ckpt`;
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(Buffer.concat([body, sum]));
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  if (fsync) await syncDir(dir);
  for (const f of await readdir(dir)) if (CHECKPOINT.test(f) && f < name) await rm(join(dir, f), { force: true });
}

/**
 * Loads into `state` the newest checkpoint whose segments are the first of `present` (the
 * directory's, in replay order) with the sizes it recorded; deletes the ones that do not match.
 * Undefined: none does, replay the whole log.
 */
export async function loadCheckpoint(
  dir: string,
  present: readonly string[],
  state: LiveState,
): Promise<Loaded | undefined> {
  const names = (await readdir(dir))
    .filter((f) => CHECKPOINT.test(f))
    .sort()
    .reverse();
  for (const name of names) {
    let loaded: Loaded | undefined;
    try {
      loaded = await parse(dir, await readFile(join(dir, name)), present, state);
    } catch {
      loaded = undefined;
    }
    if (loaded !== undefined) return loaded;
    state.reset();
    await rm(join(dir, name), { force: true }); // stale (the segments changed) or damaged
  }
  return undefined;
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
  if (meta.segments.length > present.length) return undefined;
  let bytes = 0;
  for (const [i, [name, size]] of meta.segments.entries()) {
    if (present[i] !== name || (await stat(join(dir, name))).size !== size) return undefined;
    bytes += size;
  }
  const framed = u32();
  const frames = buf.subarray(at, at + framed);
  const applied = decodeFrames(frames, (ops) => {
    for (const op of ops) state.apply(op);
  });
  if (applied !== framed) return undefined;
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
  return { segments: meta.segments.map(([name]) => name), bytes, cold };
}
