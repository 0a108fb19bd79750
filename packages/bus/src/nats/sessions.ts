/**
 * Sessions on JetStream: a session's messages are the subject `<ns>.<id>.s.<session>` of its
 * queue's stream, read through a durable consumer of that subject alone (so the session is FIFO,
 * an abandoned message first again). One owner at a time: the session lock is a KV record
 * `{token, until}` written with compare-and-set — taken when absent or expired on the bus's
 * clock, renewed by its holder — and the session state is another KV key. Accepting the next
 * session lists the subjects that hold messages and tries each. Operations on a session lock
 * held by another node are forwarded to that node, as message locks are.
 * @module
 */
import type { TimerHandle } from '@hubbub/kernel';
import { AckPolicy } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { BrokerSessions, SessionLock } from '../broker/port.ts';
import type { QueueState } from '../broker/queue-state.ts';
import { BusError, closedError, sessionLockLost } from '../errors.ts';
import type { NatsContext } from './context.ts';
import { ackWaitFor, engineFailure } from './entities.ts';
import { nodeOf } from './locks.ts';
import { decodeToken, encodeToken, entityId } from './names.ts';

interface Local {
  readonly token: string;
  readonly key: string;
  readonly path: string;
  readonly sessionId: string;
  readonly consumer: string;
  until: number;
  revision: number;
  timer: TimerHandle | undefined;
}

/** How often accept-next looks for a session with messages while it waits (real time). */
const POLL_MS = 100;
const MAX_LOST = 10_000;

const cannotLock = (path: string, sessionId: string | undefined): BusError =>
  new BusError(
    'BUS_SESSION_CANNOT_BE_LOCKED',
    sessionId === undefined
      ? `No session of ${path} became available.`
      : `Session ${sessionId} of ${path} is locked by another receiver.`,
    { detail: { entity: path, ...(sessionId === undefined ? {} : { sessionId }) } },
  );

export class NatsSessions implements BrokerSessions {
  readonly #b: NatsContext;
  readonly #kv: KV;
  readonly #local = new Map<string, Local>();
  /** Session ids of session locks lost here, so their holders hear SESSION_LOCK_LOST. */
  readonly #lost = new Map<string, string>();

  constructor(broker: NatsContext, kv: KV) {
    this.#b = broker;
    this.#kv = kv;
  }

  #keys(queue: QueueState, sessionId: string): { lock: string; state: string } {
    const k = `${entityId(queue.key)}.${encodeToken(sessionId)}`;
    return { lock: `l.${k}`, state: `s.${k}` };
  }

  holds(token: string): boolean {
    const l = this.#local.get(token);
    return l !== undefined && l.until > this.#b.clock.now();
  }

  idOf(token: string): string | undefined {
    return this.#local.get(token)?.sessionId ?? this.#lost.get(token);
  }

  until(token: string): number {
    return this.#local.get(token)?.until ?? 0;
  }

  /** The consumer a session receiver pulls from; SESSION_LOCK_LOST unless the lock is held here. */
  consumerOf(queue: QueueState, token: string): string {
    const l = this.#local.get(token);
    if (l === undefined || l.key !== queue.key || l.until <= this.#b.clock.now()) {
      throw sessionLockLost(queue.path, this.idOf(token) ?? '');
    }
    return l.consumer;
  }

  tokenOfConsumer(queue: QueueState, consumer: string): string | undefined {
    for (const l of this.#local.values()) if (l.key === queue.key && l.consumer === consumer) return l.token;
    return undefined;
  }

  forget(key: string): void {
    for (const l of [...this.#local.values()]) if (l.key === key) this.#drop(l);
  }

  #drop(l: Local): void {
    l.timer?.cancel();
    this.#local.delete(l.token);
    if (this.#lost.size >= MAX_LOST) this.#lost.delete(this.#lost.keys().next().value!);
    this.#lost.set(l.token, l.sessionId);
  }

  #session(path: string): QueueState {
    this.#b.check();
    const queue = this.#b.entities.catalog.receivable(path);
    if (!queue.settings.requiresSession) {
      throw new BusError('BUS_INVALID_OPERATION', `${queue.path} does not require sessions.`, {
        detail: { entity: queue.path },
      });
    }
    return queue;
  }

  async accept(
    path: string,
    sessionId: string | undefined,
    options: { maxWaitTimeMs: number; signal?: AbortSignal | undefined },
  ): Promise<SessionLock> {
    const queue = this.#session(path);
    if (sessionId !== undefined) {
      if (typeof sessionId !== 'string' || sessionId.length > 128) {
        throw new BusError('BUS_INVALID_OPTION', 'sessionId: must be a string of at most 128 characters', {
          detail: { option: 'sessionId' },
        });
      }
      const lock = await this.#tryLock(queue, sessionId);
      if (lock === undefined) throw cannotLock(queue.path, sessionId);
      return lock;
    }
    const clock = this.#b.clock;
    let expired = false;
    const timer = clock.setTimeout(
      () => {
        expired = true;
      },
      Math.max(0, options.maxWaitTimeMs),
    );
    try {
      for (;;) {
        const lock = await this.#tryNext(queue);
        if (lock !== undefined) return lock;
        if (this.#b.closed) throw closedError('bus');
        if (expired || options.maxWaitTimeMs <= 0) throw cannotLock(queue.path, undefined);
        if (options.signal?.aborted) {
          const reason: unknown = options.signal.reason;
          throw reason instanceof BusError ? reason : cannotLock(queue.path, undefined);
        }
        if (!this.#b.entities.catalog.queueStates.has(queue.key)) this.#b.entities.catalog.receivable(path);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      timer.cancel();
    }
  }

  async #tryNext(queue: QueueState): Promise<SessionLock | undefined> {
    const n = this.#b.names(queue.key);
    let subjects: Record<string, number>;
    try {
      subjects = (await this.#b.jsm.streams.info(n.stream, { subjects_filter: n.sessions })).state.subjects ?? {};
    } catch (err) {
      throw engineFailure(`listing the sessions of ${queue.path}`, err);
    }
    for (const subject of Object.keys(subjects)) {
      const sessionId = decodeToken(subject.split('.')[3] ?? '');
      const lock = await this.#tryLock(queue, sessionId);
      if (lock !== undefined) return lock;
    }
    return undefined;
  }

  /** Takes the session lock when it is free (absent or expired), with compare-and-set. */
  async #tryLock(queue: QueueState, sessionId: string): Promise<SessionLock | undefined> {
    const b = this.#b;
    const keys = this.#keys(queue, sessionId);
    const now = b.clock.now();
    const token = b.locks.token();
    const until = now + queue.settings.lockDuration;
    const value = JSON.stringify({ token, until });
    let revision: number;
    try {
      const e = await this.#kv.get(keys.lock);
      if (e === null) {
        revision = await this.#kv.create(keys.lock, value);
      } else {
        if (e.operation === 'PUT' && (e.json<{ until: number }>().until > now || this.#heldHere(keys.lock))) {
          return undefined;
        }
        revision = await this.#kv.update(keys.lock, value, e.revision);
      }
    } catch {
      return undefined; // another node took it between our read and write
    }
    const n = b.names(queue.key);
    const consumer = `s_${entityId(sessionId)}`;
    const config = {
      durable_name: consumer,
      filter_subject: n.session(sessionId),
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitFor(queue.settings.lockDuration),
      max_deliver: -1,
      max_ack_pending: 20_000,
      inactive_threshold: 3_600_000_000_000,
    };
    try {
      await b.jsm.consumers.add(n.stream, config);
    } catch {
      try {
        await b.jsm.consumers.update(n.stream, consumer, { ack_wait: config.ack_wait });
      } catch (err) {
        await this.#kv.update(keys.lock, JSON.stringify({ token, until: 0 }), revision).catch(() => {});
        throw engineFailure(`opening session ${sessionId} of ${queue.path}`, err);
      }
    }
    const l: Local = {
      token,
      key: queue.key,
      path: queue.path,
      sessionId,
      consumer,
      until,
      revision,
      timer: undefined,
    };
    this.#local.set(token, l);
    this.#arm(l);
    return { sessionId, lockToken: token, lockedUntil: until };
  }

  #heldHere(lockKey: string): boolean {
    for (const l of this.#local.values()) {
      const queue = this.#b.entities.catalog.queueStates.get(l.key);
      if (queue !== undefined && this.#keys(queue, l.sessionId).lock === lockKey && this.holds(l.token)) return true;
    }
    return false;
  }

  #arm(l: Local): void {
    l.timer?.cancel();
    l.timer = this.#b.clock.setTimeout(
      () => {
        if (this.#local.get(l.token) !== l) return;
        this.#drop(l);
        this.#b.releaseSessionMessages(l.token).catch(() => {});
      },
      Math.max(0, l.until - this.#b.clock.now()),
    );
  }

  #held(path: string, token: string): { queue: QueueState; l: Local } {
    const queue = this.#session(path);
    const l = typeof token === 'string' ? this.#local.get(token) : undefined;
    if (l === undefined || l.key !== queue.key || l.until <= this.#b.clock.now()) {
      throw sessionLockLost(queue.path, this.idOf(token) ?? '');
    }
    return { queue, l };
  }

  async renew(path: string, lockToken: string): Promise<number> {
    if (nodeOf(lockToken) !== this.#b.node) {
      return (await this.#b.forward(lockToken, { op: 'renewSession', path, token: lockToken })).until as number;
    }
    const { queue, l } = this.#held(path, lockToken);
    const until = this.#b.clock.now() + queue.settings.lockDuration;
    try {
      l.revision = await this.#kv.update(
        this.#keys(queue, l.sessionId).lock,
        JSON.stringify({ token: l.token, until }),
        l.revision,
      );
    } catch (err) {
      this.#drop(l);
      throw new BusError('BUS_SESSION_LOCK_LOST', `Session ${l.sessionId} of ${queue.path} was taken over.`, {
        cause: err,
      });
    }
    l.until = until;
    this.#arm(l);
    await this.#b.renewSessionMessages(l.token, until);
    return until;
  }

  async getState(path: string, lockToken: string): Promise<Uint8Array | undefined> {
    if (nodeOf(lockToken) !== this.#b.node) {
      const r = await this.#b.forward(lockToken, { op: 'getState', path, token: lockToken });
      return r.state === undefined ? undefined : Buffer.from(r.state as string, 'base64');
    }
    const { queue, l } = this.#held(path, lockToken);
    const e = await this.#kv.get(this.#keys(queue, l.sessionId).state);
    return e === null || e.operation !== 'PUT' ? undefined : e.value;
  }

  async setState(path: string, lockToken: string, state: Uint8Array | null): Promise<void> {
    if (nodeOf(lockToken) !== this.#b.node) {
      const encoded = state === null ? null : Buffer.from(state).toString('base64');
      await this.#b.forward(lockToken, { op: 'setState', path, token: lockToken, state: encoded });
      return;
    }
    const { queue, l } = this.#held(path, lockToken);
    const key = this.#keys(queue, l.sessionId).state;
    if (state === null) await this.#kv.delete(key);
    else await this.#kv.put(key, state);
  }

  async release(path: string, lockToken: string): Promise<void> {
    if (nodeOf(lockToken) !== this.#b.node) {
      await this.#b.forward(lockToken, { op: 'release', path, token: lockToken });
      return;
    }
    const l = this.#local.get(lockToken);
    if (l === undefined) return;
    this.#drop(l);
    await this.#b.releaseSessionMessages(l.token);
    const queue = this.#b.entities.catalog.queueStates.get(l.key);
    if (queue === undefined) return;
    const lock = this.#keys(queue, l.sessionId).lock;
    await this.#kv.update(lock, JSON.stringify({ token: l.token, until: 0 }), l.revision).catch(() => {});
  }

  /** A session operation forwarded from another node. */
  async serve(req: {
    op: string;
    path: string;
    token: string;
    state?: string | null;
  }): Promise<Record<string, unknown>> {
    switch (req.op) {
      case 'renewSession':
        return { until: await this.renew(req.path, req.token) };
      case 'getState': {
        const s = await this.getState(req.path, req.token);
        return s === undefined ? {} : { state: Buffer.from(s).toString('base64') };
      }
      case 'setState':
        await this.setState(req.path, req.token, req.state == null ? null : Buffer.from(req.state, 'base64'));
        return {};
      case 'release':
        await this.release(req.path, req.token);
        return {};
      default:
        throw new BusError('BUS_INVALID_OPERATION', `Unknown lock operation ${JSON.stringify(req.op)}.`);
    }
  }
}
