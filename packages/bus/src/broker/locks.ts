/**
 * Message locks of the in-process broker: which entry each lock token holds, when locks expire,
 * and which tokens were lost with their session. Taking, renewing, checking and releasing a lock
 * all happen here; what a lost lock means for the message (delivery count + 1, or the
 * dead-letter queue) is the broker's `redeliver`.
 *
 * Expiry costs one heap entry per queue, not per lock: the lock duration being fixed per queue,
 * a queue's locks expire in the order they were taken, so each queue keeps them in a deque
 * (`QueueState.lockQueue`) and the heap holds only the head's deadline.
 * @module
 */
import type { Clock, IdSource } from '@hubbub/kernel';
import { lockLost, sessionLockLost } from '../errors.ts';
import type { Deadlines } from './alarm.ts';
import type { BrokerContext } from './context.ts';
import { Heap } from './heap.ts';
import { type Entry, isStale, type QueueState, type SessionQueue } from './queue-state.ts';

/** A locked message: the queue that holds it and its entry there. */
export interface Held {
  readonly queue: QueueState;
  readonly entry: Entry;
}

const earliest = (a: { at: number }, b: { at: number }): boolean => a.at < b.at;

export class MessageLocks implements Deadlines {
  readonly #held = new Map<string, Held>();
  /** Message lock tokens released with their session (settling them reports SESSION_LOCK_LOST). */
  readonly #lostWithSession = new Map<string, string>();
  /** The deadline of the oldest lock of each queue that has locks (at most one entry per queue). */
  readonly #due = new Heap<{ at: number; key: string }>(earliest);
  readonly #ctx: BrokerContext;
  readonly #clock: Clock;
  readonly #ids: IdSource;

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
    this.#clock = ctx.clock;
    this.#ids = ctx.ids;
  }

  /** Locks an entry taken from `queue`: under the session's lock, or for the queue's lock duration. */
  lock(queue: QueueState, e: Entry, session: SessionQueue | undefined, now: number): void {
    const token = this.#ids.uuid();
    e.lockToken = token;
    queue.lockedCount++;
    this.#held.set(token, { queue, entry: e });
    if (session !== undefined) {
      e.sessionLock = session.lockToken;
      e.lockedUntil = session.lockedUntil;
      session.locked.add(e);
    } else {
      e.lockedUntil = now + queue.settings.lockDuration;
      this.#enqueue(queue, e, token);
    }
  }

  /** Extends a message lock (not under a session) by the queue's lock duration. */
  renew(queue: QueueState, entry: Entry, lockToken: string): Date {
    entry.lockedUntil = this.#clock.now() + queue.settings.lockDuration;
    this.#enqueue(queue, entry, lockToken);
    queue.trimLocks();
    return new Date(entry.lockedUntil);
  }

  #enqueue(queue: QueueState, e: Entry, token: string): void {
    queue.lockQueue.push({ entry: e, token, until: e.lockedUntil });
    if (!queue.lockTimerQueued) {
      queue.lockTimerQueued = true;
      this.#due.push({ at: e.lockedUntil, key: queue.key });
      this.#ctx.wakeBy(e.lockedUntil);
    }
  }

  /** The locked entry for `lockToken` in `queue`; throws BUS_LOCK_LOST / BUS_SESSION_LOCK_LOST. */
  held(queue: QueueState, lockToken: string): Held {
    const held = this.#held.get(lockToken);
    if (held === undefined || held.queue !== queue || held.entry.lockToken !== lockToken) {
      const sessionId = this.#lostWithSession.get(lockToken);
      throw sessionId === undefined ? lockLost(lockToken) : sessionLockLost(queue.path, sessionId);
    }
    const now = this.#clock.now();
    const e = held.entry;
    if (e.sessionLock !== undefined) {
      const s = queue.sessions.get(e.msg.sessionId ?? '');
      if (s === undefined || s.lockToken !== e.sessionLock || s.lockedUntil <= now) {
        throw sessionLockLost(queue.path, e.msg.sessionId ?? '');
      }
    } else if (e.lockedUntil <= now) {
      this.#expire(queue, e);
      throw lockLost(lockToken);
    }
    return held;
  }

  unlock(queue: QueueState, e: Entry): void {
    if (e.lockToken !== undefined) this.#held.delete(e.lockToken);
    e.lockToken = undefined;
    e.lockedUntil = 0;
    queue.lockedCount--;
    if (e.sessionLock !== undefined) {
      queue.sessions.get(e.msg.sessionId ?? '')?.locked.delete(e);
      e.sessionLock = undefined;
    } else {
      queue.trimLocks();
    }
  }

  /** A session lock was released: its messages' locks go with it and the messages are redelivered. */
  releaseSession(queue: QueueState, s: SessionQueue): void {
    if (this.#lostWithSession.size > 10_000) this.#lostWithSession.clear();
    for (const e of [...s.locked]) {
      if (e.lockToken !== undefined) this.#lostWithSession.set(e.lockToken, s.id);
      this.unlock(queue, e);
      this.#ctx.redeliver(queue, e);
    }
  }

  /** Forgets the locks of a queue that was deleted (or of every queue, at close). */
  forget(queue: QueueState): void {
    for (const [token, held] of this.#held) if (held.queue === queue) this.#held.delete(token);
  }

  #expire(queue: QueueState, e: Entry): void {
    this.unlock(queue, e);
    this.#ctx.events.emit('lockExpired', { entity: queue.path, sequenceNumber: BigInt(e.msg.seq) });
    this.#ctx.redeliver(queue, e);
  }

  next(): number {
    return this.#due.peek()?.at ?? Number.POSITIVE_INFINITY;
  }

  fire(now: number): void {
    for (let t = this.#due.peek(); t !== undefined && t.at <= now; t = this.#due.peek()) {
      this.#due.pop();
      const queue = this.#ctx.catalog.queueStates.get(t.key);
      if (queue !== undefined) this.#expireDue(queue, now);
    }
  }

  /** The lock deadline of a queue came: expire due locks from the head of its deque, re-arm for the rest. */
  #expireDue(queue: QueueState, now: number): void {
    queue.lockTimerQueued = false;
    const q = queue.lockQueue;
    while (queue.lockHead < q.length) {
      const r = q[queue.lockHead]!;
      if (isStale(r)) {
        queue.lockHead++;
        continue;
      }
      if (r.until > now) break;
      this.#expire(queue, r.entry); // unlocking trims the deque past this record
    }
    queue.trimLocks();
    const head = q[queue.lockHead];
    if (head !== undefined) {
      queue.lockTimerQueued = true;
      this.#due.push({ at: head.until, key: queue.key });
    }
  }
}
