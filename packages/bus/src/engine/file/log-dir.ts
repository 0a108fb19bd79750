/**
 * The file engine's directory: who owns it (a `LOCK` file), how its segments are named, how they
 * replay, and the file-system steps whose order the engine's durability rests on.
 *
 * Segments are `NNNNNNNN.log` (appended to) and `NNNNNNNN.base.log` (written whole by compaction);
 * replay order is by number, and segments older than the newest base are obsolete.
 * @module
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BusError } from '../../errors.ts';
import type { EngineOp } from '../port.ts';
import { isGone, lockContent, parseLock } from './lock-owner.ts';
import { decodeFrames } from './log-codec.ts';

const SEGMENT = /^(\d{8})(\.base)?\.log$/;
const LOCK = 'LOCK';
/** Retired segments shrink by this much per step before they are unlinked. */
const RELEASE_STEP = 4 * 1024 * 1024;
const ZERO_CHUNK = Buffer.alloc(1024 * 1024);
/** Directories open in this process (the LOCK file's pid cannot tell two engines of one process apart). */
const openDirs = new Set<string>();

export const segmentName = (n: number, base: boolean): string =>
  `${String(n).padStart(8, '0')}${base ? '.base' : ''}.log`;

export const segmentNumber = (name: string): number => Number(SEGMENT.exec(name)?.[1] ?? Number.NaN);

/** The log as replayed: its live segments in order, their frame bytes, and where the last one ends. */
export interface Replayed {
  readonly segments: string[];
  readonly bytes: number;
  /** End of the last frame of the last segment: where writing resumes. */
  readonly end: number;
}

/**
 * Replays the directory's segments into `apply`, oldest first: drops unfinished compactions
 * (`*.tmp`) and segments older than the newest base, accepts zeros after the last frame of any
 * segment (unused prefilled space), cuts a torn tail off the last one (its batches were never
 * acknowledged) and refuses anything else after the frames of an older one (corruption).
 */
export async function replayLog(
  dir: string,
  apply: (op: EngineOp, segment: number, start: number, end: number) => void,
  live?: string[],
): Promise<Replayed> {
  const segments = live ?? (await liveSegments(dir));
  let bytes = 0;
  let end = 0;
  for (const [i, f] of segments.entries()) {
    const path = join(dir, f);
    const buf = await readFile(path);
    const n = segmentNumber(f);
    end = decodeFrames(buf, (ops, starts) => {
      for (let k = 0; k < ops.length; k++) apply(ops[k]!, n, starts?.[k] ?? -1, starts?.[k + 1] ?? -1);
    });
    const last = i === segments.length - 1;
    if (end < buf.length && !last && !isZero(buf.subarray(end))) {
      throw new BusError('BUS_ENGINE_FAILURE', `Corrupt log segment ${path} at offset ${end}.`);
    }
    if (end < buf.length && last) await truncate(path, end);
    bytes += end;
  }
  return { segments, bytes, end };
}

/**
 * The segments to replay, in order: drops unfinished compactions and checkpoints (`*.tmp`) and
 * segments older than the newest base.
 */
export async function liveSegments(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).sort();
  for (const f of files) if (f.endsWith('.tmp')) await rm(join(dir, f), { force: true });
  let segments = files.filter((f) => SEGMENT.test(f));
  const lastBase = segments.findLastIndex((f) => f.includes('.base.'));
  if (lastBase > 0) {
    for (const f of segments.slice(0, lastBase)) await rm(join(dir, f), { force: true });
    segments = segments.slice(lastBase);
  }
  return segments;
}

/**
 * One process per directory: a LOCK file naming the owner (see {@link lockContent}). The lock of
 * an owner that is gone — exited, killed and not yet reaped, or its pid reused — is taken over;
 * a live owner's is refused with BUS_DIR_LOCKED.
 */
export async function lockLogDir(dir: string): Promise<void> {
  const key = resolve(dir);
  if (openDirs.has(key)) throw dirLocked(dir, process.pid, `${dir} is already open in this process.`);
  openDirs.add(key);
  try {
    await lockFile(dir);
  } catch (err) {
    openDirs.delete(key);
    throw err;
  }
}

export async function unlockLogDir(dir: string): Promise<void> {
  openDirs.delete(resolve(dir));
  await rm(join(dir, LOCK), { force: true });
}

const dirLocked = (dir: string, pid: number, message: string): BusError =>
  new BusError('BUS_DIR_LOCKED', message, { detail: { dir, pid } });

async function lockFile(dir: string): Promise<void> {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, lockContent(), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
    const owner = parseLock(await readFile(path, 'utf8').catch(() => ''));
    if (owner !== undefined && owner.pid !== process.pid && !(await isGone(owner))) {
      throw dirLocked(dir, owner.pid, `${dir} is in use by process ${owner.pid}.`);
    }
    await rm(path, { force: true }); // stale: its owner is gone (or it is ours from an unclean close)
  }
  throw new BusError('BUS_ENGINE_FAILURE', `Could not lock ${dir}.`, { detail: { dir } });
}

function isZero(buf: Buffer): boolean {
  for (let at = 0; at < buf.length; at += ZERO_CHUNK.length) {
    const part = buf.subarray(at, at + ZERO_CHUNK.length);
    if (!part.equals(ZERO_CHUNK.subarray(0, part.length))) return false;
  }
  return true;
}

/**
 * Deletes a retired segment, shrinking it in steps first: freeing a 64 MiB file's extents in one
 * unlink makes one large journal commit that the log's next synchronous write waits for.
 */
export async function releaseSegment(path: string): Promise<void> {
  const size = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  for (let len = size - RELEASE_STEP; len > 0; len -= RELEASE_STEP) await truncate(path, len);
  await rm(path, { force: true });
}

/** Makes the directory's entries (a new segment, a rename) durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** {@link syncDir}, blocking: for `open()`, before anything is acknowledged. */
export function syncDirNow(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
