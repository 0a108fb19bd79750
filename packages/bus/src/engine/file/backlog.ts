/**
 * The file engine's backlog on disk ({@link EngineBacklog}): parked messages stay in the log, and
 * memory holds only where each one's record is ({@link ColdList}, 24 bytes a message). Parked
 * appends enter the index once durable; replay parks every plain active message it meets (no
 * session, never patched) without keeping it, so a reopen costs memory for the index only; a
 * compaction copies parked records byte for byte into its base and re-points the index at install.
 *
 * Reads (take, peek) and a compaction's install (which re-points the index and deletes the old
 * segments) exclude each other through one lock; appends to the index and replay are synchronous.
 * @module
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { BusError, closedError } from '../../errors.ts';
import { belongsTo, type LiveState } from '../live-state.ts';
import type { EngineBacklog, EngineOp, MessagePatch, StoredMessage } from '../port.ts';
import { ColdList, type ColdRef } from './cold-index.ts';
import { decodeAppendRecord, frameOfRecords } from './log-codec.ts';

/** What a compaction captured of the index: per entity, every parked message's place. */
export type Captured = ReadonlyArray<{ readonly entity: string; readonly list: ColdList; readonly refs: ColdRef[] }>;
/** Where a compaction copied each captured record in its base, in capture order. */
export type Moves = ReadonlyArray<{ readonly list: ColdList; readonly ref: ColdRef; readonly pos: number }>;

/** Records read per disk read when their ranges are adjacent, at most. */
const READ_SPAN = 1024 * 1024;

export class FileBacklog implements EngineBacklog {
  readonly memoryMessagesPerQueue: number;
  readonly #dir: string;
  readonly #state: () => LiveState;
  /** Segment number → file name, for reading records back. */
  readonly #names: () => readonly string[];
  readonly #lists = new Map<string, ColdList>();
  readonly #readers = new Map<string, FileHandle>();
  /** Replay only: patches met for parked messages, applied once replay ends (they come back into memory). */
  #patches = new Map<string, Map<number, MessagePatch>>();
  #lock: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(dir: string, memoryMessagesPerQueue: number, state: () => LiveState, names: () => readonly string[]) {
    this.#dir = dir;
    this.memoryMessagesPerQueue = memoryMessagesPerQueue;
    this.#state = state;
    this.#names = names;
  }

  /** Parked messages per entity, for `open()`'s state. */
  summary(): Array<{ entity: string; count: number; bytes: number }> {
    const out: Array<{ entity: string; count: number; bytes: number }> = [];
    for (const [entity, list] of this.#lists)
      if (list.count > 0) out.push({ entity, count: list.count, bytes: list.bytes });
    return out;
  }

  /** Parked messages in all, for tests and benchmarks. */
  get parked(): number {
    let n = 0;
    for (const list of this.#lists.values()) n += list.count;
    return n;
  }

  /** The index, for a checkpoint. */
  get lists(): ReadonlyMap<string, ColdList> {
    return this.#lists;
  }

  /** Takes the index a checkpoint held. */
  restore(lists: Map<string, ColdList>): void {
    for (const [entity, list] of lists) this.#lists.set(entity, list);
  }

  reset(): void {
    this.#lists.clear();
    this.#patches = new Map();
    this.#closed = false;
  }

  // ── applying ops (runtime: once durable; replay: in log order) ───────────────────────────────

  /** A durable parked append whose record sits at `pos`, `len` bytes, in segment `seg`. */
  park(message: StoredMessage, seg: number, pos: number, len: number): void {
    this.#list(message.entity).push(message.seq, seg, pos, len);
    this.#state().park(message.entity, message.seq);
  }

  /** A remove of a message still parked (the broker never held it, e.g. purged): tombstones it. */
  unpark(entity: string, seq: number): boolean {
    if (this.#lists.get(entity)?.remove(seq) !== true) return false;
    const state = this.#state();
    state.garbage += 2;
    state.live--;
    return true;
  }

  /** Drops the parked messages of an entity and everything under it. */
  drop(key: string): void {
    for (const k of [...this.#lists.keys()]) if (belongsTo(k, key)) this.#lists.delete(k);
  }

  /**
   * Replays one op: plain active appends (no session; in sequence order) are parked where their
   * record lies, anything else goes to the live state; a remove or update of a parked message
   * tombstones it or holds its patch for {@link endReplay}.
   */
  replay(op: EngineOp, seg: number, start: number, end: number): void {
    const state = this.#state();
    switch (op.op) {
      case 'append': {
        const m = op.message;
        const list = this.#lists.get(m.entity);
        const last = list?.lastSeq() ?? Number.NaN;
        if (m.state === 'active' && m.sessionId === undefined && start >= 0 && !(m.seq <= last)) {
          this.park(m, seg, start, end - start);
          return;
        }
        if (list?.remove(m.seq)) state.garbage++; // re-appended: the parked copy is stale
        state.apply(op);
        return;
      }
      case 'remove':
        if (this.unpark(op.entity, op.seq)) {
          this.#patches.get(op.entity)?.delete(op.seq);
          return;
        }
        state.apply(op);
        return;
      case 'update': {
        const list = this.#lists.get(op.entity);
        if (list?.get(op.seq) !== undefined) {
          let map = this.#patches.get(op.entity);
          if (map === undefined) {
            map = new Map();
            this.#patches.set(op.entity, map);
          }
          map.set(op.seq, { ...map.get(op.seq), ...op.patch });
          state.garbage++;
          return;
        }
        state.apply(op);
        return;
      }
      case 'drop':
        this.drop(op.key);
        state.apply(op);
        return;
      default:
        state.apply(op);
    }
  }

  /** After replay: parked messages that were patched come back into memory, patched. */
  endReplay(): void {
    const state = this.#state();
    for (const [entity, map] of this.#patches) {
      const list = this.#lists.get(entity);
      if (list === undefined) continue;
      for (const [seq, patch] of map) {
        const ref = list.get(seq);
        if (ref === undefined) continue;
        const m = this.#readSync(ref);
        list.remove(seq);
        state.adopt({ ...m, ...patch });
      }
    }
    this.#patches = new Map();
  }

  // ── reading back ────────────────────────────────────────────────────────────────────────────

  take(entity: string, max: number): Promise<StoredMessage[]> {
    return this.#locked(async () => {
      const list = this.#lists.get(entity);
      if (list === undefined || list.count === 0) return [];
      const refs = list.peekHead(max);
      const messages = await this.#read(refs);
      list.dropThrough(refs.at(-1)!.abs + 1);
      const state = this.#state();
      for (const m of messages) state.adopt(m);
      return messages;
    });
  }

  peek(entity: string, from: number, max: number): Promise<StoredMessage[]> {
    return this.#locked(async () => {
      const list = this.#lists.get(entity);
      if (list === undefined || list.count === 0) return [];
      return this.#read(list.from(from, max));
    });
  }

  // ── compaction ──────────────────────────────────────────────────────────────────────────────

  /** What a compaction starting now must copy: every parked message (all in segments it retires). */
  capture(): Captured {
    const out: Array<{ entity: string; list: ColdList; refs: ColdRef[] }> = [];
    for (const [entity, list] of this.#lists) if (list.count > 0) out.push({ entity, list, refs: list.all() });
    return out;
  }

  /** The index of a compaction's base as packed arrays (what a checkpoint covering the base holds). */
  baseIndex(captured: Captured, moves: Moves, base: number): Array<[string, ReturnType<ColdList['pack']>]> {
    const out: Array<[string, ReturnType<ColdList['pack']>]> = [];
    let k = 0;
    for (const { entity, refs } of captured) {
      const n = refs.length;
      const packed = {
        seq: new Float64Array(n),
        seg: new Uint32Array(n).fill(base),
        pos: new Float64Array(n),
        len: new Uint32Array(n),
      };
      for (let i = 0; i < n; i++, k++) {
        packed.seq[i] = refs[i]!.seq;
        packed.pos[i] = moves[k]!.pos;
        packed.len[i] = refs[i]!.len;
      }
      out.push([entity, packed]);
    }
    return out;
  }

  /**
   * Copies captured records into frames for the base (each frame's bytes handed to `write`, which
   * returns where in the base it went); returns the index moves to install.
   */
  async copy(captured: Captured, write: (frame: Buffer) => Promise<number>): Promise<Moves> {
    const moves: Array<{ list: ColdList; ref: ColdRef; pos: number }> = [];
    for (const { list, refs } of captured) {
      for (let i = 0; i < refs.length; i += 256) {
        const part = refs.slice(i, i + 256);
        const records = await this.#locked(() => this.#readRecords(part));
        const starts: number[] = [];
        const at = await write(frameOfRecords(records, starts));
        for (let k = 0; k < part.length; k++) moves.push({ list, ref: part[k]!, pos: at + starts[k]! });
      }
    }
    return moves;
  }

  /** Installs a compaction: re-points the copied records at the base, then lets `release` delete the old segments. */
  install(moves: Moves, base: number, retired: readonly string[], release: () => Promise<void>): Promise<void> {
    return this.#locked(async () => {
      for (const { list, ref, pos } of moves) list.move(ref, base, pos);
      for (const name of retired) {
        const fh = this.#readers.get(name);
        this.#readers.delete(name);
        await fh?.close();
      }
      await release();
    });
  }

  async close(): Promise<void> {
    await this.#locked(async () => {
      this.#closed = true;
      for (const fh of this.#readers.values()) await fh.close();
      this.#readers.clear();
    });
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  #list(entity: string): ColdList {
    let list = this.#lists.get(entity);
    if (list === undefined) {
      list = new ColdList();
      this.#lists.set(entity, list);
    }
    return list;
  }

  #locked<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(() => {
      if (this.#closed) throw closedError('engine');
      return work();
    });
    this.#lock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async #read(refs: readonly ColdRef[]): Promise<StoredMessage[]> {
    const records = await this.#readRecords(refs);
    return records.map((r, i) => this.#decode(r, refs[i]!));
  }

  /** Reads the records, one disk read per run of adjacent ranges in one segment. */
  async #readRecords(refs: readonly ColdRef[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let i = 0;
    while (i < refs.length) {
      const first = refs[i]!;
      let j = i + 1;
      while (
        j < refs.length &&
        refs[j]!.seg === first.seg &&
        refs[j]!.pos === refs[j - 1]!.pos + refs[j - 1]!.len &&
        refs[j]!.pos + refs[j]!.len - first.pos <= READ_SPAN
      ) {
        j++;
      }
      const last = refs[j - 1]!;
      const length = last.pos + last.len - first.pos;
      const buf = Buffer.allocUnsafe(length);
      const fh = await this.#reader(first.seg);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, first.pos + got);
        if (bytesRead === 0) throw this.#corrupt(first);
        got += bytesRead;
      }
      for (let k = i; k < j; k++)
        out.push(buf.subarray(refs[k]!.pos - first.pos, refs[k]!.pos - first.pos + refs[k]!.len));
      i = j;
    }
    return out;
  }

  #readSync(ref: ColdRef): StoredMessage {
    const fd = openSync(join(this.#dir, this.#name(ref.seg)), 'r');
    try {
      const buf = Buffer.allocUnsafe(ref.len);
      if (readSync(fd, buf, 0, ref.len, ref.pos) !== ref.len) throw this.#corrupt(ref);
      return this.#decode(buf, ref);
    } finally {
      closeSync(fd);
    }
  }

  #decode(record: Buffer, ref: ColdRef): StoredMessage {
    let m: StoredMessage;
    try {
      m = decodeAppendRecord(record);
    } catch (err) {
      throw this.#corrupt(ref, err);
    }
    if (m.seq !== ref.seq) throw this.#corrupt(ref);
    return m;
  }

  async #reader(seg: number): Promise<FileHandle> {
    const name = this.#name(seg);
    let fh = this.#readers.get(name);
    if (fh === undefined) {
      fh = await open(join(this.#dir, name), 'r');
      this.#readers.set(name, fh);
    }
    return fh;
  }

  #name(seg: number): string {
    const name = this.#names().find((f) => Number(f.slice(0, 8)) === seg);
    if (name === undefined) throw new BusError('BUS_ENGINE_FAILURE', `No log segment ${seg} holds a parked message.`);
    return name;
  }

  #corrupt(ref: ColdRef, cause?: unknown): BusError {
    return new BusError(
      'BUS_ENGINE_FAILURE',
      `The parked message ${ref.seq} could not be read back from segment ${ref.seg} at ${ref.pos}.`,
      { detail: { seq: ref.seq, segment: ref.seg, position: ref.pos }, ...(cause === undefined ? {} : { cause }) },
    );
  }
}
