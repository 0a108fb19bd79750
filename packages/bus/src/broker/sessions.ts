/**
 * Session locks of the in-process broker: which session each session lock token holds, when
 * those locks expire, accepting a named session or the next one with messages (waiting for one
 * if need be), renewing, releasing, and session state. Releasing a session lock releases the
 * locks of the messages received under it (`MessageLocks.releaseSession`).
 * @module
 */
import type { Clock } from '@hubbub/kernel';
import { BusError, closedError, entityDeleted, sessionLockLost } from '../errors.ts';
import type { Deadlines } from './alarm.ts';
import type { Catalog } from './catalog.ts';
import type { BrokerContext } from './context.ts';
import { Heap } from './heap.ts';
import type { MessageLocks } from './locks.ts';
import type { BrokerSessions, SessionLock } from './port.ts';
import type { QueueState, SessionQueue } from './queue-state.ts';

const earliest = (a: { at: number }, b: { at: number }): boolean => a.at < b.at;

export class SessionLocks implements BrokerSessions, Deadlines {
  readonly #held = new Map<string, { queue: QueueState; session: SessionQueue }>();
  /** Session lock deadlines; a renewal adds one, a stale one is skipped when it comes due. */
  readonly #due = new Heap<{ at: number; token: string }>(earliest);
  readonly #ctx: BrokerContext;
  readonly #catalog: Catalog;
  readonly #clock: Clock;
  readonly #locks: MessageLocks;

  constructor(ctx: BrokerContext, locks: MessageLocks) {
    this.#ctx = ctx;
    this.#catalog = ctx.catalog;
    this.#clock = ctx.clock;
    this.#locks = locks;
  }

  /** The session `token` locks in `queue`; throws BUS_SESSION_LOCK_LOST (releasing it when it expired). */
  locked(queue: QueueState, token: string): SessionQueue {
    const held = this.#held.get(token);
    if (held === undefined || held.queue !== queue) throw sessionLockLost(queue.path, '');
    const s = held.session;
    if (s.lockToken !== token || s.lockedUntil <= this.#clock.now()) {
      if (s.lockToken === token) this.#release(queue, s);
      throw sessionLockLost(queue.path, s.id);
    }
    return s;
  }

  /** Locks a named session, or (sessionId undefined) the next unlocked session with messages. */
  accept(
    path: string,
    sessionId: string | undefined,
    options: { maxWaitTimeMs: number; signal?: AbortSignal | undefined },
  ): Promise<SessionLock> {
    this.#ctx.check();
    const queue = this.#catalog.receivable(path);
    if (!queue.settings.requiresSession) {
      return Promise.reject(
        new BusError('BUS_INVALID_OPERATION', `${queue.path} does not require sessions.`, {
          detail: { entity: queue.path },
        }),
      );
    }
    const now = this.#clock.now();
    if (sessionId !== undefined) {
      if (typeof sessionId !== 'string' || sessionId.length > 128) {
        return Promise.reject(new BusError('BUS_INVALID_OPTION', 'sessionId: must be a string of ≤ 128 chars'));
      }
      const s = queue.session(sessionId);
      if (s.lockToken !== undefined && s.lockedUntil > now) {
        return Promise.reject(
          new BusError('BUS_SESSION_CANNOT_BE_LOCKED', `Session '${sessionId}' is locked by another receiver.`, {
            detail: { entity: queue.path, sessionId },
          }),
        );
      }
      if (s.lockToken !== undefined) this.#release(queue, s);
      return Promise.resolve(this.#lock(queue, s, now));
    }
    const ready = queue.unlockedSessionWithMessages(now);
    if (ready !== undefined) {
      if (ready.lockToken !== undefined) this.#release(queue, ready);
      return Promise.resolve(this.#lock(queue, ready, now));
    }
    return new Promise<SessionLock>((resolve, reject) => {
      const finish = (): void => {
        queue.sessionWaiters.delete(waiter);
        timer.cancel();
        options.signal?.removeEventListener('abort', timeout);
      };
      const waiter = (): boolean => {
        if (this.#ctx.closed() || !this.#catalog.queueStates.has(queue.key)) {
          finish();
          reject(this.#ctx.closed() ? closedError('bus') : entityDeleted(queue.path));
          return true;
        }
        const t = this.#clock.now();
        const s = queue.unlockedSessionWithMessages(t);
        if (s === undefined) return false;
        finish();
        if (s.lockToken !== undefined) this.#release(queue, s);
        resolve(this.#lock(queue, s, t));
        return true;
      };
      const timeout = (): void => {
        finish();
        reject(
          new BusError('BUS_SESSION_CANNOT_BE_LOCKED', `No session of ${queue.path} became available in time.`, {
            detail: { entity: queue.path, reason: 'timeout' },
          }),
        );
      };
      queue.sessionWaiters.add(waiter);
      const timer = this.#clock.setTimeout(timeout, options.maxWaitTimeMs);
      options.signal?.addEventListener('abort', timeout, { once: true });
    });
  }

  #lock(queue: QueueState, s: SessionQueue, now: number): SessionLock {
    const token = this.#ctx.ids.uuid();
    s.lockToken = token;
    s.lockedUntil = now + queue.settings.lockDuration;
    this.#held.set(token, { queue, session: s });
    this.#due.push({ at: s.lockedUntil, token });
    this.#ctx.wakeBy(s.lockedUntil);
    return { sessionId: s.id, lockToken: token, lockedUntil: s.lockedUntil };
  }

  /** Extends a session lock and its messages' locks by the lock duration; resolves with the new expiry. */
  async renew(path: string, token: string): Promise<number> {
    const session = this.locked(this.#catalog.receivable(path), token);
    const queue = this.#catalog.receivable(path);
    session.lockedUntil = this.#clock.now() + queue.settings.lockDuration;
    for (const e of session.locked) e.lockedUntil = session.lockedUntil;
    this.#due.push({ at: session.lockedUntil, token });
    return session.lockedUntil;
  }

  async getState(path: string, token: string): Promise<Uint8Array | undefined> {
    this.#ctx.check();
    return this.locked(this.#catalog.receivable(path), token).state;
  }

  async setState(path: string, token: string, state: Uint8Array | null): Promise<void> {
    this.#ctx.check();
    const queue = this.#catalog.receivable(path);
    const session = this.locked(queue, token);
    await this.#ctx.engine.write([{ op: 'session', entity: queue.key, sessionId: session.id, state }]);
    session.state = state ?? undefined;
  }

  /** Releases a session lock (receiver closed); its in-flight messages return with delivery count + 1. */
  async release(path: string, token: string): Promise<void> {
    if (this.#ctx.closed()) return;
    const queue = this.#catalog.queueStates.get(path.toLowerCase());
    const held = this.#held.get(token);
    if (queue === undefined || held === undefined || held.session.lockToken !== token) return;
    this.#release(queue, held.session);
  }

  #release(queue: QueueState, s: SessionQueue): void {
    if (s.lockToken !== undefined) this.#held.delete(s.lockToken);
    s.lockToken = undefined;
    s.lockedUntil = 0;
    this.#locks.releaseSession(queue, s);
    for (const w of [...queue.waiters]) if (w.session === s && w.wake()) queue.waiters.delete(w);
    for (const w of [...queue.sessionWaiters]) if (w()) queue.sessionWaiters.delete(w);
    if (s.lockToken === undefined && s.state === undefined && s.locked.size === 0 && !hasMessages(queue, s)) {
      queue.sessions.delete(s.id); // forget idle sessions so the map does not grow with every id ever seen
    }
  }

  /** Forgets the session locks of a queue that was deleted (or of every queue, at close). */
  forget(queue: QueueState): void {
    for (const [token, held] of this.#held) if (held.queue === queue) this.#held.delete(token);
  }

  next(): number {
    return this.#due.peek()?.at ?? Number.POSITIVE_INFINITY;
  }

  fire(now: number): void {
    for (let t = this.#due.peek(); t !== undefined && t.at <= now; t = this.#due.peek()) {
      this.#due.pop();
      const held = this.#held.get(t.token);
      if (held !== undefined && held.session.lockToken === t.token && held.session.lockedUntil <= now) {
        this.#release(held.queue, held.session);
      }
    }
  }
}

function hasMessages(queue: QueueState, s: SessionQueue): boolean {
  for (const e of queue.messages.values()) if (e.msg.sessionId === s.id) return true;
  return false;
}
