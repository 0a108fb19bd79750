/**
 * The live state an engine keeps so it can answer `open()` and compact: the result of applying
 * every {@link EngineOp} in order. Shared by the memory and file engines.
 * @module
 */
import type { EngineOp, EngineState, EntityRecord, StoredMessage } from './port.ts';

/** An entity's own key, its dead-letter queue, and (for a topic) its subscriptions and their DLQs. */
export const belongsTo = (entity: string, key: string): boolean =>
  entity === key || entity === `${key}/$deadletterqueue` || entity.startsWith(`${key}/subscriptions/`);

export class LiveState {
  readonly entities = new Map<string, EntityRecord>();
  /** entity key → seq → message */
  readonly messages = new Map<string, Map<number, StoredMessage>>();
  /** entity key → sessionId → state */
  readonly sessions = new Map<string, Map<string, Uint8Array>>();
  /** entity key → messageId → until */
  readonly dedupe = new Map<string, Map<string, number>>();
  readonly sequences = new Map<string, number>();
  /** Ops applied that no longer contribute to live state (drives compaction). */
  garbage = 0;
  live = 0;

  apply(op: EngineOp): void {
    switch (op.op) {
      case 'entity':
        if (this.entities.has(op.entity.key)) this.garbage++;
        else this.live++;
        this.entities.set(op.entity.key, op.entity);
        return;
      case 'drop':
        this.#drop(op.key);
        return;
      case 'append': {
        const m = op.message;
        let map = this.messages.get(m.entity);
        if (map === undefined) {
          map = new Map();
          this.messages.set(m.entity, map);
        }
        if (map.has(m.seq)) this.garbage++;
        else this.live++;
        map.set(m.seq, m);
        if (m.seq > (this.sequences.get(m.entity) ?? 0)) this.sequences.set(m.entity, m.seq);
        return;
      }
      case 'update': {
        const map = this.messages.get(op.entity);
        const m = map?.get(op.seq);
        this.garbage++;
        if (map !== undefined && m !== undefined) map.set(op.seq, { ...m, ...op.patch });
        return;
      }
      case 'remove': {
        const map = this.messages.get(op.entity);
        this.garbage++;
        if (map?.delete(op.seq)) {
          this.garbage++;
          this.live--;
        }
        return;
      }
      case 'session': {
        let map = this.sessions.get(op.entity);
        if (map === undefined) {
          map = new Map();
          this.sessions.set(op.entity, map);
        }
        if (map.has(op.sessionId)) {
          this.garbage++;
          this.live--;
        }
        if (op.state === null) {
          map.delete(op.sessionId);
          this.garbage++;
        } else {
          map.set(op.sessionId, op.state);
          this.live++;
        }
        return;
      }
      case 'dedupe': {
        let map = this.dedupe.get(op.entity);
        if (map === undefined) {
          map = new Map();
          this.dedupe.set(op.entity, map);
        }
        if (map.has(op.messageId)) this.garbage++;
        else this.live++;
        map.set(op.messageId, op.until);
        return;
      }
    }
  }

  /** Back to empty. */
  reset(): void {
    this.entities.clear();
    this.messages.clear();
    this.sessions.clear();
    this.dedupe.clear();
    this.sequences.clear();
    this.garbage = 0;
    this.live = 0;
  }

  /** A parked append (kept on disk by the file engine): only its sequence number and live count. */
  park(entity: string, seq: number): void {
    this.live++;
    if (seq > (this.sequences.get(entity) ?? 0)) this.sequences.set(entity, seq);
  }

  /** A parked message taken back into memory: held from now on, already counted as live. */
  adopt(m: StoredMessage): void {
    let map = this.messages.get(m.entity);
    if (map === undefined) {
      map = new Map();
      this.messages.set(m.entity, map);
    }
    map.set(m.seq, m);
  }

  #drop(key: string): void {
    this.garbage++;
    for (const k of [...this.entities.keys()]) {
      if (belongsTo(k, key)) {
        this.entities.delete(k);
        this.garbage++;
        this.live--;
      }
    }
    for (const table of [this.messages, this.sessions, this.dedupe] as Array<Map<string, Map<unknown, unknown>>>) {
      for (const [k, map] of [...table]) {
        if (belongsTo(k, key)) {
          this.garbage += map.size;
          this.live -= map.size;
          table.delete(k);
        }
      }
    }
    for (const k of [...this.sequences.keys()]) if (belongsTo(k, key)) this.sequences.delete(k);
  }

  /** Drops dedupe entries that ran out before `now`. */
  prune(now: number): void {
    for (const map of this.dedupe.values()) {
      for (const [id, until] of map) {
        if (until <= now) {
          map.delete(id);
          this.live--;
        }
      }
    }
  }

  snapshot(): EngineState {
    const messages: StoredMessage[] = [];
    for (const map of this.messages.values()) {
      for (const m of [...map.values()].sort((a, b) => a.seq - b.seq)) messages.push(m);
    }
    const sessions: EngineState['sessions'] = [];
    for (const [entity, map] of this.sessions) {
      for (const [sessionId, state] of map) sessions.push({ entity, sessionId, state });
    }
    const dedupe: EngineState['dedupe'] = [];
    for (const [entity, map] of this.dedupe) {
      for (const [messageId, until] of map) dedupe.push({ entity, messageId, until });
    }
    return {
      entities: [...this.entities.values()],
      messages,
      sessions,
      dedupe,
      sequences: Object.fromEntries(this.sequences),
    };
  }

  /**
   * A point-in-time copy of the live state for compaction to write while writes go on: arrays of
   * references, O(live records) and no sorting (replay re-sorts). Stored messages, session states
   * and entity records are replaced on change, never mutated, so the copy stays consistent.
   */
  capture(): LiveCapture {
    const messages: StoredMessage[][] = [];
    for (const map of this.messages.values()) if (map.size > 0) messages.push([...map.values()]);
    const sessions: Array<[string, Array<[string, Uint8Array]>]> = [];
    for (const [entity, map] of this.sessions) if (map.size > 0) sessions.push([entity, [...map]]);
    const dedupe: Array<[string, Array<[string, number]>]> = [];
    for (const [entity, map] of this.dedupe) if (map.size > 0) dedupe.push([entity, [...map]]);
    return { entities: [...this.entities.values()], sequences: [...this.sequences], messages, sessions, dedupe };
  }

  /** The ops that rebuild this state from nothing (what compaction writes). */
  ops(): Generator<EngineOp> {
    return captureOps(this.capture());
  }
}

/** What {@link LiveState.capture} returns. */
export interface LiveCapture {
  readonly entities: readonly EntityRecord[];
  readonly sequences: ReadonlyArray<readonly [string, number]>;
  /** Per entity, its live messages (in insertion order). */
  readonly messages: ReadonlyArray<readonly StoredMessage[]>;
  readonly sessions: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, Uint8Array]>]>;
  readonly dedupe: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, number]>]>;
}

/** The ops that rebuild a captured state from nothing. */
export function* captureOps(c: LiveCapture): Generator<EngineOp> {
  for (const entity of c.entities) yield { op: 'entity', entity };
  // The sequence watermark survives as an appended-then-removed placeholder at the highest seq.
  for (const [entity, seq] of c.sequences) {
    yield { op: 'append', message: placeholder(entity, seq) };
    yield { op: 'remove', entity, seq };
  }
  for (const list of c.messages) for (const message of list) yield { op: 'append', message };
  for (const [entity, list] of c.sessions)
    for (const [sessionId, state] of list) yield { op: 'session', entity, sessionId, state };
  for (const [entity, list] of c.dedupe)
    for (const [messageId, until] of list) yield { op: 'dedupe', entity, messageId, until };
}

function placeholder(entity: string, seq: number): StoredMessage {
  return {
    entity,
    seq,
    body: new Uint8Array(0),
    bodyType: 'bytes',
    enqueuedTime: 0,
    deliveryCount: 0,
    state: 'active',
  };
}
