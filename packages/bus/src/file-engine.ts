/**
 * `file://DIR`: an append-only log of op batches with group commit, replay on open and compaction.
 *
 * - `write()` queues its ops; one flush encodes every queued batch into one frame, writes it and
 *   fsyncs once (group commit), then resolves all of them. Nothing resolves before its fsync.
 * - `open()` replays the segments (`NNNNNNNN.log`, and `NNNNNNNN.base.log` written by compaction),
 *   truncating a torn tail, into a {@link LiveState}.
 * - Compaction writes the live state into `<next>.base.log.tmp`, fsyncs it, renames it, fsyncs the
 *   directory, then deletes older segments; new writes append to the base segment. A crash at any
 *   step leaves either the old segments or a complete base (older segments are ignored).
 * @module
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Clock, systemClock } from '@hubbub/kernel';
import type { BusEngine, EngineOp, EngineState } from './engine.ts';
import { BusError, closedError } from './errors.ts';
import { LiveState } from './live-state.ts';
import { decodeFrames, encodeFrame } from './log-codec.ts';

export interface FileEngineOptions {
  /** Directory holding the log; created if missing. */
  dir: string;
  /** Compact once the log holds at least this many bytes and more garbage than live ops. @default 64 MiB */
  compactAfterBytes?: number;
  /** Skip fsync (benchmarks of the non-durable path only). @default true */
  fsync?: boolean;
  /** Prunes expired duplicate-detection entries at compaction. @default systemClock */
  clock?: Clock;
}

interface Pending {
  ops: readonly EngineOp[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SEGMENT = /^(\d{8})(\.base)?\.log$/;
const name = (n: number, base: boolean): string => `${String(n).padStart(8, '0')}${base ? '.base' : ''}.log`;

export class FileEngine implements BusEngine {
  readonly kind = 'file';
  readonly #dir: string;
  readonly #compactAfter: number;
  readonly #fsync: boolean;
  readonly #clock: Clock;
  #state = new LiveState();
  #fh: FileHandle | undefined;
  #segment = 0;
  #segments: string[] = [];
  #bytes = 0;
  #queue: Pending[] = [];
  #flushing = false;
  #scheduled = false;
  #failed: unknown;
  #closed = true;
  #compactRequested: Array<() => void> = [];
  #idle: Array<() => void> = [];
  /** Flushes (fsyncs) so far; observability for tests and benchmarks. */
  flushes = 0;

  /** The log directory. */
  get dir(): string {
    return this.#dir;
  }

  constructor(options: FileEngineOptions) {
    this.#dir = options.dir;
    this.#compactAfter = options.compactAfterBytes ?? 64 * 1024 * 1024;
    this.#fsync = options.fsync ?? true;
    this.#clock = options.clock ?? systemClock;
  }

  async open(): Promise<EngineState> {
    await mkdir(this.#dir, { recursive: true });
    await this.#lock();
    try {
      return await this.#open();
    } catch (err) {
      await this.#unlock();
      throw err;
    }
  }

  async #open(): Promise<EngineState> {
    const files = (await readdir(this.#dir)).sort();
    for (const f of files) if (f.endsWith('.tmp')) await rm(join(this.#dir, f), { force: true });
    let segments = files.filter((f) => SEGMENT.test(f));
    const lastBase = segments.findLastIndex((f) => f.includes('.base.'));
    if (lastBase > 0) {
      for (const f of segments.slice(0, lastBase)) await rm(join(this.#dir, f), { force: true });
      segments = segments.slice(lastBase);
    }
    this.#state = new LiveState();
    this.#bytes = 0;
    for (const [i, f] of segments.entries()) {
      const path = join(this.#dir, f);
      const buf = await readFile(path);
      const end = decodeFrames(buf, (ops) => {
        for (const op of ops) this.#state.apply(op);
      });
      if (end < buf.length) {
        if (i !== segments.length - 1) {
          throw new BusError('BUS_ENGINE_FAILURE', `Corrupt log segment ${path} at offset ${end}.`);
        }
        await truncate(path, end); // a torn tail: the batch was never acknowledged
      }
      this.#bytes += end;
    }
    const last = segments.at(-1);
    this.#segment = last === undefined ? 1 : Number(SEGMENT.exec(last)![1]);
    const current = last ?? name(1, false);
    this.#segments = last === undefined ? [current] : segments;
    this.#fh = await open(join(this.#dir, current), 'a');
    if (last === undefined) syncDir(this.#dir);
    this.#closed = false;
    this.#failed = undefined;
    return this.#state.snapshot();
  }

  write(ops: readonly EngineOp[]): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('engine'));
    if (this.#failed !== undefined) return Promise.reject(this.#failure());
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, resolve, reject });
      this.#kick();
    });
  }

  compact(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('engine'));
    return new Promise((resolve) => {
      this.#compactRequested.push(resolve);
      this.#kick();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#flushing || this.#queue.length > 0) await new Promise<void>((r) => this.#idle.push(r));
    this.#closed = true;
    await this.#fh?.close();
    this.#fh = undefined;
    await this.#unlock();
  }

  async #unlock(): Promise<void> {
    openDirs.delete(resolve(this.#dir));
    await rm(join(this.#dir, LOCK), { force: true });
  }

  /** One process per directory: a LOCK file holding the owner's pid; a dead owner's lock is taken over. */
  async #lock(): Promise<void> {
    const key = resolve(this.#dir);
    if (openDirs.has(key)) {
      throw new BusError('BUS_ENGINE_FAILURE', `${this.#dir} is already open in this process.`, {
        detail: { dir: this.#dir, pid: process.pid },
      });
    }
    openDirs.add(key);
    try {
      await this.#lockFile();
    } catch (err) {
      openDirs.delete(key);
      throw err;
    }
  }

  async #lockFile(): Promise<void> {
    const path = join(this.#dir, LOCK);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new BusError('BUS_ENGINE_FAILURE', `${this.#dir} is in use by process ${owner}.`, {
          detail: { dir: this.#dir, pid: owner },
        });
      }
      await rm(path, { force: true }); // stale: its owner is gone (or it is ours from an unclean close)
    }
    throw new BusError('BUS_ENGINE_FAILURE', `Could not lock ${this.#dir}.`, { detail: { dir: this.#dir } });
  }

  #kick(): void {
    if (this.#flushing || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0 || this.#compactRequested.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        if (batch.length > 0) await this.#flush(batch);
        if (this.#failed === undefined && (this.#compactRequested.length > 0 || this.#shouldCompact())) {
          const waiters = this.#compactRequested;
          this.#compactRequested = [];
          try {
            await this.#compact();
          } catch (err) {
            this.#failed = err;
          }
          for (const w of waiters) w();
        }
        if (this.#failed !== undefined) {
          for (const p of this.#queue.splice(0)) p.reject(this.#failure());
          for (const w of this.#compactRequested.splice(0)) w();
        }
      }
    } finally {
      this.#flushing = false;
      for (const r of this.#idle.splice(0)) r();
    }
  }

  async #flush(batch: Pending[]): Promise<void> {
    let frames: Buffer;
    try {
      // One frame for every write queued since the last flush: all-or-nothing together, which is
      // at least as strong as each write's own atomicity, and one encode + checksum instead of many.
      frames = encodeFrame(batch.length === 1 ? batch[0]!.ops : batch.flatMap((p) => p.ops));
    } catch (err) {
      const failure = new BusError('BUS_INVALID_MESSAGE', 'A record could not be encoded.', { cause: err });
      for (const p of batch) p.reject(failure);
      return;
    }
    try {
      for (let at = 0; at < frames.length; ) {
        const { bytesWritten } = await this.#fh!.write(frames, at, frames.length - at); // short writes loop
        at += bytesWritten;
      }
      if (this.#fsync) await this.#fh!.datasync();
      this.#bytes += frames.length;
      this.flushes++;
    } catch (err) {
      this.#failed = err;
      for (const p of batch) p.reject(this.#failure());
      return;
    }
    for (const p of batch) for (const op of p.ops) this.#state.apply(op);
    for (const p of batch) p.resolve();
  }

  #shouldCompact(): boolean {
    return this.#bytes >= this.#compactAfter && this.#state.garbage > this.#state.live;
  }

  async #compact(): Promise<void> {
    this.#state.prune(this.#clock.now());
    const next = this.#segment + 1;
    const final = join(this.#dir, name(next, true));
    const tmp = `${final}.tmp`;
    const fh = await open(tmp, 'w');
    let bytes = 0;
    try {
      let chunk: EngineOp[] = [];
      for (const op of this.#state.ops()) {
        chunk.push(op);
        if (chunk.length === 512) {
          const frame = encodeFrame(chunk);
          await fh.write(frame);
          bytes += frame.length;
          chunk = [];
        }
      }
      if (chunk.length > 0) {
        const frame = encodeFrame(chunk);
        await fh.write(frame);
        bytes += frame.length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    syncDir(this.#dir);
    await this.#fh!.close();
    for (const f of this.#segments) await rm(join(this.#dir, f), { force: true });
    this.#segments = [name(next, true)];
    this.#segment = next;
    this.#fh = await open(final, 'a');
    this.#bytes = bytes;
    const fresh = new LiveState();
    for (const op of this.#state.ops()) fresh.apply(op);
    this.#state = fresh;
  }

  #failure(): BusError {
    return new BusError('BUS_ENGINE_FAILURE', 'The file engine failed to write its log.', { cause: this.#failed });
  }
}

const LOCK = 'LOCK';
/** Directories open in this process (the LOCK file's pid cannot tell two engines of one process apart). */
const openDirs = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function createFileEngine(options: FileEngineOptions): BusEngine {
  return new FileEngine(options);
}
