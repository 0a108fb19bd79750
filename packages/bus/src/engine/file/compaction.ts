/**
 * Writing a compaction's base (`<n>.base.log`): the live state captured between two flushes, in
 * small frames that yield to the event loop, then every parked message's record copied byte for
 * byte (`backlog.ts`), fsynced every few MiB, fsynced, renamed into place and the directory
 * fsynced. The engine (`engine.ts`) captures, rotates, and installs what this returns.
 * @module
 */
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { captureOps, type LiveCapture } from '../live-state.ts';
import type { EngineOp } from '../port.ts';
import type { Captured, FileBacklog, Moves } from './backlog.ts';
import { encodeFrame } from './log-codec.ts';
import { segmentName, syncDir } from './log-dir.ts';

/** Ops per frame, and body bytes per frame: small slices keep the event loop responsive. */
const CHUNK_OPS = 256;
const CHUNK_BYTES = 256 * 1024;
/** The base is fsynced every this many bytes so the final fsync has little to flush. */
const SYNC_EVERY = 4 * 1024 * 1024;
/** Thrown inside when the engine closes. */
const ABORTED = Symbol('aborted');

export interface BaseOptions {
  readonly dir: string;
  /** The base's segment number. */
  readonly base: number;
  readonly capture: LiveCapture;
  readonly parked: Captured;
  readonly backlog: FileBacklog;
  readonly fsync: boolean;
  /** Awaited before each frame (tests hold a compaction open with it). */
  readonly step: (() => Promise<void> | void) | undefined;
  /** The engine is closing: stop at the next frame. */
  readonly closing: () => boolean;
}

/**
 * Writes the base; resolves with its size and where each parked record went, or undefined when the
 * engine closed meanwhile (the unfinished file is removed: the old segments are still complete).
 */
export async function writeBase(o: BaseOptions): Promise<{ bytes: number; moves: Moves } | undefined> {
  const final = join(o.dir, segmentName(o.base, true));
  const tmp = `${final}.tmp`;
  const fh = await open(tmp, 'w');
  let bytes = 0;
  let unsynced = 0;
  let moves: Moves = [];
  const put = async (frame: Buffer): Promise<number> => {
    await o.step?.();
    if (o.closing()) throw ABORTED;
    const at = bytes;
    for (let off = 0; off < frame.length; ) off += (await fh.write(frame, off, frame.length - off)).bytesWritten;
    bytes += frame.length;
    unsynced += frame.length;
    if (unsynced >= SYNC_EVERY) {
      unsynced = 0;
      if (o.fsync) await fh.datasync();
    }
    return at;
  };
  try {
    let chunk: EngineOp[] = [];
    let chunkBytes = 0;
    for (const op of captureOps(o.capture)) {
      chunk.push(op);
      if (op.op === 'append') chunkBytes += op.message.body.byteLength;
      if (chunk.length >= CHUNK_OPS || chunkBytes >= CHUNK_BYTES) {
        await put(encodeFrame(chunk));
        chunk = [];
        chunkBytes = 0;
      }
    }
    if (chunk.length > 0) await put(encodeFrame(chunk));
    // Parked messages: their records copied byte for byte, the index re-pointed at install.
    moves = await o.backlog.copy(o.parked, put);
    if (o.fsync) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    if (err === ABORTED) return undefined;
    throw err;
  }
  await fh.close();
  await rename(tmp, final);
  await syncDir(o.dir);
  return { bytes, moves };
}
