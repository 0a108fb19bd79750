/**
 * The in-memory state of one queue as its receivers see it — a queue's, a subscription's or a
 * dead-letter queue's (Service Bus receives from each the same way): its messages, what is
 * available in sequence order (per session when sessions are required), message and session
 * locks, and receivers waiting for messages. Named for what it holds: the messages at rest are
 * the engine's, this is the broker's working view of them.
 * @module
 */
import type { StoredMessage } from '../engine/port.ts';
import { Heap } from './heap.ts';

/** Receive-side settings of a queue (from the queue / subscription, or inherited by its DLQ). */
export interface QueueSettings {
  lockDuration: number;
  maxDeliveryCount: number;
  deadLetteringOnMessageExpiration: boolean;
  requiresSession: boolean;
  forwardDeadLetteredMessagesTo: string | undefined;
}

export interface Entry {
  msg: StoredMessage;
  /** Bytes the message counts against its entity's `maxSizeInMegabytes` ({@link storedSize}). */
  readonly size: number;
  lockToken: string | undefined;
  lockedUntil: number;
  /** Session lock token the message was received under. */
  sessionLock: string | undefined;
}

export interface LockRecord {
  readonly entry: Entry;
  readonly token: string;
  readonly until: number;
}

export const isStale = (r: LockRecord): boolean => r.entry.lockToken !== r.token || r.entry.lockedUntil !== r.until;

export interface SessionQueue {
  readonly id: string;
  readonly available: Heap<Entry>;
  lockToken: string | undefined;
  lockedUntil: number;
  state: Uint8Array | undefined;
  /** Messages of this session held by this lock. */
  readonly locked: Set<Entry>;
}

export interface Waiter {
  /** Session this waiter receives from (session receivers), or undefined. */
  readonly session: SessionQueue | undefined;
  /** Called when something may be available; returns true when the waiter is satisfied. */
  readonly wake: () => boolean;
}

const bySeq = (a: Entry, b: Entry): boolean => a.msg.seq < b.msg.seq;

/**
 * About the bytes a stored message takes: its body, string fields (UTF-16 units, close to UTF-8
 * for the ASCII they usually hold) and application properties, plus a fixed record overhead.
 */
export function storedSize(m: StoredMessage): number {
  let n = 64 + m.body.byteLength;
  if (m.messageId !== undefined) n += m.messageId.length;
  if (m.correlationId !== undefined) n += m.correlationId.length;
  if (m.subject !== undefined) n += m.subject.length;
  if (m.contentType !== undefined) n += m.contentType.length;
  if (m.to !== undefined) n += m.to.length;
  if (m.replyTo !== undefined) n += m.replyTo.length;
  if (m.replyToSessionId !== undefined) n += m.replyToSessionId.length;
  if (m.sessionId !== undefined) n += m.sessionId.length;
  if (m.partitionKey !== undefined) n += m.partitionKey.length;
  if (m.deadLetterReason !== undefined) n += m.deadLetterReason.length;
  if (m.deadLetterErrorDescription !== undefined) n += m.deadLetterErrorDescription.length;
  const props = m.applicationProperties;
  if (props !== undefined) {
    for (const k in props) {
      const v = props[k];
      n += k.length + (typeof v === 'string' ? v.length : 8);
    }
  }
  return n;
}

export class QueueState {
  readonly key: string;
  /** Display path (`orders`, `orders/$deadletterqueue`, `t/subscriptions/s`). */
  readonly path: string;
  readonly isDeadLetter: boolean;
  settings: QueueSettings;
  readonly messages = new Map<number, Entry>();
  /** Sum of the {@link Entry.size} of {@link messages}; add and remove through insert / remove. */
  bytes = 0;
  /**
   * Active messages parked on disk by the engine's backlog (not in {@link messages}, all later in
   * sequence than those available here), their approximate bytes, and the refill under way.
   */
  parked = 0;
  parkedBytes = 0;
  refilling: Promise<void> | undefined;
  readonly available = new Heap<Entry>(bySeq);
  readonly sessions = new Map<string, SessionQueue>();
  readonly waiters = new Set<Waiter>();
  /** Waiters for accept-next-session. */
  readonly sessionWaiters = new Set<() => boolean>();
  deadLetter: QueueState | undefined;
  lockedCount = 0;
  /**
   * Message locks in the order they were taken (= expiry order, the lock duration being fixed):
   * a deque trimmed from the head as locks are settled, so it stays short when settlement keeps up.
   */
  readonly lockQueue: LockRecord[] = [];
  lockHead = 0;
  /** Whether the broker's timer heap holds an entry for this queue's lock queue. */
  lockTimerQueued = false;

  /** Drops settled / renewed records from the head of the lock queue. */
  trimLocks(): void {
    const q = this.lockQueue;
    while (this.lockHead < q.length && isStale(q[this.lockHead]!)) this.lockHead++;
    if (this.lockHead === q.length) {
      q.length = 0;
      this.lockHead = 0;
    } else if (this.lockHead > 1024 && this.lockHead * 2 > q.length) {
      q.splice(0, this.lockHead);
      this.lockHead = 0;
    }
  }

  constructor(key: string, path: string, settings: QueueSettings, isDeadLetter: boolean) {
    this.key = key;
    this.path = path;
    this.settings = settings;
    this.isDeadLetter = isDeadLetter;
  }

  session(id: string): SessionQueue {
    let s = this.sessions.get(id);
    if (s === undefined) {
      s = { id, available: new Heap(bySeq), lockToken: undefined, lockedUntil: 0, state: undefined, locked: new Set() };
      this.sessions.set(id, s);
    }
    return s;
  }

  /** Adds a message (as stored) and makes it available if active. */
  insert(msg: StoredMessage): Entry {
    const entry: Entry = { msg, size: storedSize(msg), lockToken: undefined, lockedUntil: 0, sessionLock: undefined };
    const replaced = this.messages.get(msg.seq);
    if (replaced !== undefined) this.bytes -= replaced.size;
    this.messages.set(msg.seq, entry);
    this.bytes += entry.size;
    if (msg.state === 'active') this.makeAvailable(entry);
    return entry;
  }

  /** Takes a message out (settled, expired, moved, cancelled); returns whether it was here. */
  remove(seq: number): boolean {
    const e = this.messages.get(seq);
    if (e === undefined) return false;
    this.messages.delete(seq);
    this.bytes -= e.size;
    return true;
  }

  makeAvailable(entry: Entry): void {
    if (this.settings.requiresSession) {
      const s = this.session(entry.msg.sessionId ?? '');
      s.available.push(entry);
      this.#wakeSession(s);
    } else {
      this.available.push(entry);
      this.#wake();
    }
  }

  #wake(): void {
    for (const w of this.waiters) {
      if (this.available.size === 0) return;
      if (w.wake()) this.waiters.delete(w);
    }
  }

  #wakeSession(s: SessionQueue): void {
    if (s.lockToken === undefined) {
      for (const w of this.sessionWaiters) {
        if (w()) this.sessionWaiters.delete(w);
        if (s.lockToken !== undefined) break;
      }
    }
    for (const w of this.waiters) {
      if (w.session === s && s.available.size > 0 && w.wake()) this.waiters.delete(w);
    }
  }

  /** Whether an entry is still what the heap thinks: present, active and unlocked. */
  isTakeable(e: Entry): boolean {
    return this.messages.get(e.msg.seq) === e && e.msg.state === 'active' && e.lockToken === undefined;
  }

  /** Pops the next takeable entry from `heap`, skipping stale ones. */
  next(heap: Heap<Entry>): Entry | undefined {
    for (;;) {
      const e = heap.pop();
      if (e === undefined) return undefined;
      if (this.isTakeable(e)) return e;
    }
  }

  /** A session with available messages and no lock, if any. */
  unlockedSessionWithMessages(now: number): SessionQueue | undefined {
    for (const s of this.sessions.values()) {
      if ((s.lockToken === undefined || s.lockedUntil <= now) && this.#hasTakeable(s.available)) return s;
    }
    return undefined;
  }

  #hasTakeable(heap: Heap<Entry>): boolean {
    for (;;) {
      const e = heap.peek();
      if (e === undefined) return false;
      if (this.isTakeable(e)) return true;
      heap.pop();
    }
  }

  counts(): { active: number; scheduled: number; deferred: number } {
    let active = this.parked;
    let scheduled = 0;
    let deferred = 0;
    for (const e of this.messages.values()) {
      if (e.msg.state === 'active') active++;
      else if (e.msg.state === 'scheduled') scheduled++;
      else deferred++;
    }
    return { active, scheduled, deferred };
  }
}
