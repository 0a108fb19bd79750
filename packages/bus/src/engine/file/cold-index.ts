/**
 * Where the file engine's parked messages are: per entity, in sequence order, the segment and byte
 * range of each message's `append` record in the log — 24 bytes a message in typed arrays, the
 * message itself staying on disk until it is taken (25 with the tombstone flag). Lists grow at the tail (parking, in log order)
 * and shrink at the head (taking, oldest first); a remove replayed for a parked message leaves a
 * tombstone. Indices are absolute (stable while the head moves), so a compaction can move the
 * records it copied without holding the list.
 * @module
 */

/** One entity's parked messages. */
export class ColdList {
  #seq = new Float64Array(64);
  #seg = new Uint32Array(64);
  #pos = new Float64Array(64);
  #len = new Uint32Array(64);
  /** 1 = tombstone (removed while parked, met on replay). */
  #dead = new Uint8Array(64);
  /** Physical index of the first slot in use, and of the next free one. */
  #head = 0;
  #tail = 0;
  /** Absolute index of physical slot 0. */
  #shift = 0;
  /** Entries that are not tombstones, and their record bytes. */
  count = 0;
  bytes = 0;

  get headAbs(): number {
    return this.#shift + this.#head;
  }

  get tailAbs(): number {
    return this.#shift + this.#tail;
  }

  /** The largest sequence number in the list (NaN when empty of slots). */
  lastSeq(): number {
    return this.#tail > this.#head ? this.#seq[this.#tail - 1]! : Number.NaN;
  }

  push(seq: number, seg: number, pos: number, len: number): void {
    if (this.#tail === this.#seq.length) this.#grow();
    const i = this.#tail++;
    this.#seq[i] = seq;
    this.#seg[i] = seg;
    this.#pos[i] = pos;
    this.#len[i] = len;
    this.#dead[i] = 0;
    this.count++;
    this.bytes += len;
  }

  /** Tombstones the entry for `seq`. Returns whether it was parked here. */
  remove(seq: number): boolean {
    const i = this.#find(seq);
    if (i < 0) return false;
    this.#dead[i] = 1;
    this.count--;
    this.bytes -= this.#len[i]!;
    return true;
  }

  /** The live entry for `seq`, if parked here. */
  get(seq: number): ColdRef | undefined {
    const i = this.#find(seq);
    return i < 0 ? undefined : this.#ref(i);
  }

  /** Physical index of the live entry for `seq`, or -1 (binary search: the list is in sequence order). */
  #find(seq: number): number {
    let lo = this.#head;
    let hi = this.#tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.#seq[mid]!;
      if (s === seq) return this.#dead[mid] === 1 ? -1 : mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Up to `max` live entries from the head, without removing them. */
  peekHead(max: number): ColdRef[] {
    const out: ColdRef[] = [];
    for (let i = this.#head; i < this.#tail && out.length < max; i++) {
      if (this.#dead[i] === 1) continue;
      out.push(this.#ref(i));
    }
    return out;
  }

  /** Live entries with seq ≥ `from`, up to `max`. */
  from(from: number, max: number): ColdRef[] {
    const out: ColdRef[] = [];
    let lo = this.#head;
    let hi = this.#tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#seq[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#tail && out.length < max; i++) {
      if (this.#dead[i] === 1 || this.#seq[i]! < from) continue;
      out.push(this.#ref(i));
    }
    return out;
  }

  /** Drops the head through absolute index `abs` (exclusive end): those were taken. */
  dropThrough(abs: number): void {
    const end = Math.min(abs - this.#shift, this.#tail);
    for (let i = this.#head; i < end; i++) {
      if (this.#dead[i] === 1) continue;
      this.count--;
      this.bytes -= this.#len[i]!;
    }
    this.#head = Math.max(this.#head, end);
    if (this.#head === this.#tail) {
      this.#shift += this.#head;
      this.#head = 0;
      this.#tail = 0;
    }
  }

  /** The live entries as packed arrays, oldest first (what a checkpoint stores). */
  pack(): {
    seq: Float64Array<ArrayBuffer>;
    seg: Uint32Array<ArrayBuffer>;
    pos: Float64Array<ArrayBuffer>;
    len: Uint32Array<ArrayBuffer>;
  } {
    const n = this.count;
    const out = {
      seq: new Float64Array(n),
      seg: new Uint32Array(n),
      pos: new Float64Array(n),
      len: new Uint32Array(n),
    };
    let k = 0;
    for (let i = this.#head; i < this.#tail; i++) {
      if (this.#dead[i] === 1) continue;
      out.seq[k] = this.#seq[i]!;
      out.seg[k] = this.#seg[i]!;
      out.pos[k] = this.#pos[i]!;
      out.len[k] = this.#len[i]!;
      k++;
    }
    return out;
  }

  /** A list holding packed arrays as they are (from a checkpoint). */
  static unpack(
    seq: Float64Array<ArrayBuffer>,
    seg: Uint32Array<ArrayBuffer>,
    pos: Float64Array<ArrayBuffer>,
    len: Uint32Array<ArrayBuffer>,
  ): ColdList {
    const list = new ColdList();
    list.#seq = seq;
    list.#seg = seg;
    list.#pos = pos;
    list.#len = len;
    list.#dead = new Uint8Array(seq.length);
    list.#tail = seq.length;
    list.count = seq.length;
    for (let i = 0; i < len.length; i++) list.bytes += len[i]!;
    return list;
  }

  /** Every live entry (for a compaction's copy), oldest first. */
  all(): ColdRef[] {
    return this.from(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /** Points an entry a compaction copied at its new place, if it is still parked and unchanged. */
  move(ref: ColdRef, seg: number, pos: number): void {
    const i = ref.abs - this.#shift;
    if (i < this.#head || i >= this.#tail || this.#seq[i] !== ref.seq || this.#dead[i] === 1) return;
    this.#seg[i] = seg;
    this.#pos[i] = pos;
  }

  #ref(i: number): ColdRef {
    return { abs: i + this.#shift, seq: this.#seq[i]!, seg: this.#seg[i]!, pos: this.#pos[i]!, len: this.#len[i]! };
  }

  /** Makes room at the tail: reclaims the consumed head first, doubles only when more than half is in use. */
  #grow(): void {
    const used = this.#tail - this.#head;
    const size = Math.max(64, used * 2 > this.#seq.length ? this.#seq.length * 2 : this.#seq.length);
    const move = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const next = size === a.length ? a : make(size);
      next.set(a.subarray(this.#head, this.#tail), 0);
      return next;
    };
    this.#seq = move(this.#seq, (n) => new Float64Array(n));
    this.#seg = move(this.#seg, (n) => new Uint32Array(n));
    this.#pos = move(this.#pos, (n) => new Float64Array(n));
    this.#len = move(this.#len, (n) => new Uint32Array(n));
    this.#dead = move(this.#dead, (n) => new Uint8Array(n));
    this.#shift += this.#head;
    this.#tail = used;
    this.#head = 0;
  }
}

/** One parked message's place: absolute list index, sequence number, segment number, byte range. */
export interface ColdRef {
  readonly abs: number;
  readonly seq: number;
  readonly seg: number;
  readonly pos: number;
  readonly len: number;
}
