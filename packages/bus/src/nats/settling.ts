/**
 * Settling peek-locked messages on JetStream: complete, abandon, dead-letter and defer by lock
 * token, renewing, lock expiry, and the node-to-node service that lets a lock held here be
 * settled or renewed from another node (`<ns>.lock.<node>`). Each settlement is awaited until the
 * server has applied it, and tracked per consumer so a receive from that consumer sees its effect.
 * @module
 */
import type { Msg } from '@nats-io/transport-node';
import type { Settlement } from '../broker/port.ts';
import type { QueueState } from '../broker/queue-state.ts';
import type { EngineOp, StoredMessage } from '../engine/port.ts';
import { BusError, lockLost, sessionLockLost } from '../errors.ts';
import type { PropertyValue, ServiceBusMessage } from '../message.ts';
import { encodeMessage } from '../message-codec.ts';
import { encodePayload, tagProps, untagProps } from './codec.ts';
import { type NatsContext, type SessionView, type Source, sourceKey } from './context.ts';
import { engineFailure } from './entities.ts';
import { type Held, nodeOf } from './locks.ts';
import { entityId } from './names.ts';
import type { Requests } from './requests.ts';
import { invalidOption } from './url.ts';

/** `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (and the v2 form with domain and account). */
export function parseAckReply(reply: string): { dc: number; sseq: number } {
  const t = reply.split('.');
  const i = t.length === 9 ? 4 : 6;
  return { dc: Number(t[i]), sseq: Number(t[i + 1]) };
}

export const maxDeliveryText = (queue: QueueState): string =>
  `Message could not be consumed after ${queue.settings.maxDeliveryCount} delivery attempts.`;

function checkProps(props: ServiceBusMessage['applicationProperties']): Record<string, PropertyValue> | undefined {
  if (props === undefined) return undefined;
  return encodeMessage({ body: null, applicationProperties: props }).applicationProperties ?? {};
}

const appends = (ops: readonly EngineOp[]): StoredMessage[] =>
  ops.flatMap((op) => (op.op === 'append' ? [op.message] : []));

export class Settling {
  readonly #b: NatsContext;
  readonly #sessions: SessionView;
  readonly #requests: Requests;
  readonly #inflight = new Map<string, Set<Promise<unknown>>>();
  /** Message locks lost with their session lock (token → session id), so settling says so. */
  readonly #lostWithSession = new Map<string, string>();

  constructor(broker: NatsContext, sessions: SessionView, requests: Requests) {
    this.#b = broker;
    this.#sessions = sessions;
    this.#requests = requests;
  }

  /** Resolves once every settlement in flight has finished. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inflight.values()].flatMap((s) => [...s]));
  }

  async settle(path: string, lockToken: string, settlement: Settlement): Promise<void> {
    this.#b.check();
    const queue = this.#b.entities.catalog.receivable(path);
    if (settlement === null || typeof settlement !== 'object') throw invalidOption('settlement', 'must be an object');
    if (settlement.kind === 'deadLetter') {
      if (queue.isDeadLetter) {
        throw new BusError('BUS_INVALID_OPERATION', `Cannot dead-letter a message in ${queue.path}.`, {
          detail: { entity: queue.path },
        });
      }
      const reason = settlement.reason;
      if (reason !== undefined && (typeof reason !== 'string' || reason.length > 4096)) {
        throw invalidOption('reason', 'must be a string of at most 4096 characters');
      }
    } else if (!['complete', 'abandon', 'defer'].includes(settlement.kind)) {
      throw invalidOption('settlement', "kind must be 'complete', 'abandon', 'deadLetter' or 'defer'");
    }
    const props = 'propertiesToModify' in settlement ? checkProps(settlement.propertiesToModify) : undefined;
    if (typeof lockToken === 'string' && nodeOf(lockToken) !== this.#b.node) {
      await this.forward(lockToken, {
        op: 'settle',
        path,
        token: lockToken,
        settlement: { ...settlement, ...(props === undefined ? {} : { propertiesToModify: tagProps(props) }) },
      });
      return;
    }
    const h = this.#held(queue, lockToken);
    this.#b.locks.take(lockToken);
    const msg =
      props === undefined ? h.msg : { ...h.msg, applicationProperties: { ...h.msg.applicationProperties, ...props } };
    const source = { stream: h.stream, consumer: h.consumer };
    await this.track(source, this.#settleHeld(queue, h, msg, settlement));
  }

  async #settleHeld(queue: QueueState, h: Held, msg: StoredMessage, s: Settlement): Promise<void> {
    switch (s.kind) {
      case 'complete':
        return this.#remove(h);
      case 'abandon':
        return this.#redeliver(queue, h, msg);
      case 'deadLetter':
        return this.deadLetter(queue, h, msg, s.reason ?? '', s.errorDescription);
      case 'defer': {
        if (h.reply === undefined) return this.#replaceDeferred(queue, h, msg);
        const n = this.#b.names(queue.key);
        const deferred = { ...msg, state: 'deferred' as const };
        await this.#b.publish(
          n.side,
          n.deferred(msg.seq),
          encodePayload(deferred, true),
          `d:${msg.seq}:${h.streamSeq}`,
        );
        return this.ack(h.reply);
      }
    }
  }

  /** Abandon or lost lock: delivery count + 1 (the server's count on a nak), or the DLQ past the maximum. */
  async #redeliver(queue: QueueState, h: Held, msg: StoredMessage): Promise<void> {
    const deliveryCount = msg.deliveryCount + 1;
    if (!queue.isDeadLetter && deliveryCount >= queue.settings.maxDeliveryCount) {
      return this.deadLetter(queue, h, { ...msg, deliveryCount }, 'MaxDeliveryCountExceeded', maxDeliveryText(queue));
    }
    if (h.reply === undefined) {
      return this.#replaceDeferred(queue, h, { ...msg, deliveryCount });
    }
    if (msg === h.msg) return this.#nak(h.reply);
    // Changed properties: a new stream message in the same place, then the old one acknowledged.
    await this.#b.publishStored({ ...msg, deliveryCount, state: 'active' }, `a:${h.streamSeq}:${deliveryCount}`);
    return this.ack(h.reply);
  }

  async #replaceDeferred(queue: QueueState, h: Held, msg: StoredMessage): Promise<void> {
    if (msg === h.msg) return;
    const n = this.#b.names(queue.key);
    await this.#b.publish(n.side, n.deferred(msg.seq), encodePayload(msg, true), undefined);
    await this.#b.jsm.streams.deleteMessage(n.side, h.streamSeq, false).catch(() => false);
  }

  /** Moves a delivery to the DLQ (or where its entity forwards dead letters), then takes it off the queue. */
  async deadLetter(
    queue: QueueState,
    from: Held | string,
    msg: StoredMessage,
    reason: string,
    description: string | undefined,
  ): Promise<void> {
    const ops: EngineOp[] = [];
    const live = { ...msg, state: 'active' as const };
    this.#b.router.deadLetterNew(queue, live, reason, description, this.#b.clock.now(), ops, []);
    const id = typeof from === 'string' ? parseAckReply(from).sseq : from.streamSeq;
    for (const [i, m] of appends(ops).entries()) await this.#b.publishStored(m, `dl:${entityId(queue.key)}:${id}:${i}`);
    if (typeof from === 'string') return this.ack(from);
    return this.#remove(from);
  }

  #remove(h: Held): Promise<void> {
    if (h.reply !== undefined) return this.ack(h.reply);
    return this.#b.jsm.streams.deleteMessage(h.stream, h.streamSeq, false).then(
      (ok) => {
        if (!ok) throw lockLost(h.token);
      },
      () => {
        throw lockLost(h.token);
      },
    );
  }

  async ack(reply: string): Promise<void> {
    await this.#request(reply, '+ACK');
  }

  async #nak(reply: string): Promise<void> {
    await this.#request(reply, '-NAK');
  }

  async #request(subject: string, body: string): Promise<void> {
    let reply: Msg;
    try {
      reply = await this.#requests.request(subject, body);
    } catch (err) {
      throw engineFailure('settling a message', err);
    }
    if (reply.headers?.code === 503) throw new BusError('BUS_ENGINE_FAILURE', 'The consumer is gone.');
  }

  /** The lock `token` of `queue`, held here and (for a session message) under a live session lock. */
  #held(queue: QueueState, token: string): Held {
    const h = typeof token === 'string' ? this.#b.locks.get(token) : undefined;
    const lostSession = this.#lostWithSession.get(token);
    if (h === undefined && lostSession !== undefined) throw sessionLockLost(queue.path, lostSession);
    if (h === undefined || h.key !== queue.key) throw lockLost(String(token));
    if (h.session !== undefined && !this.#sessions.holds(h.session)) {
      this.#b.locks.take(token);
      throw sessionLockLost(queue.path, h.msg.sessionId ?? '');
    }
    return h;
  }

  async renewLock(path: string, lockToken: string): Promise<Date> {
    this.#b.check();
    const queue = this.#b.entities.catalog.receivable(path);
    if (typeof lockToken === 'string' && nodeOf(lockToken) !== this.#b.node) {
      const r = await this.forward(lockToken, { op: 'renew', path, token: lockToken });
      return new Date(r.until as number);
    }
    const h = this.#held(queue, lockToken);
    if (h.session !== undefined) return new Date(await this.#sessions.renew(path, h.session));
    const until = this.#b.clock.now() + queue.settings.lockDuration;
    if (h.reply !== undefined) await this.#request(h.reply, '+WPI');
    this.#b.locks.extend(h, until);
    return new Date(until);
  }

  /** Renews the message locks held under a session lock (the session's renewal carries them). */
  async renewSessionMessages(sessionToken: string, until: number): Promise<void> {
    for (const h of this.#b.locks.ofSession(sessionToken)) {
      if (h.reply !== undefined) await this.#request(h.reply, '+WPI');
      this.#b.locks.extend(h, until);
    }
  }

  /** Gives back the messages held under a session lock (released or lost): delivery count + 1. */
  releaseSessionMessages(sessionToken: string): Promise<void> {
    const work: Promise<void>[] = [];
    for (const h of this.#b.locks.ofSession(sessionToken)) {
      this.#b.locks.take(h.token);
      if (this.#lostWithSession.size >= 10_000)
        this.#lostWithSession.delete(this.#lostWithSession.keys().next().value!);
      this.#lostWithSession.set(h.token, h.msg.sessionId ?? '');
      const queue = this.#b.entities.catalog.queueStates.get(h.key);
      if (queue !== undefined) work.push(this.track(h, this.#redeliver(queue, h, h.msg)));
    }
    return Promise.all(work).then(() => {});
  }

  lockExpired(h: Held): void {
    const queue = this.#b.entities.catalog.queueStates.get(h.key);
    if (queue === undefined) return;
    this.#b.events.emit('lockExpired', { entity: queue.path, sequenceNumber: BigInt(h.msg.seq) });
    this.track(h, this.#redeliver(queue, h, h.msg)).catch((err: unknown) => {
      if (!this.#b.closed) this.#b.events.emit('error', engineFailure('returning an expired lock', err));
    });
  }

  /** Tracks settlement work on a consumer so a receive from it sees its effect first. */
  track<T>(source: Source, work: Promise<T>): Promise<T> {
    const k = sourceKey(source);
    let set = this.#inflight.get(k);
    if (set === undefined) {
      set = new Set();
      this.#inflight.set(k, set);
    }
    const s = set;
    s.add(work);
    const done = (): void => {
      s.delete(work);
      if (s.size === 0 && this.#inflight.get(k) === s) this.#inflight.delete(k);
    };
    work.then(done, done);
    return work;
  }

  async quiet(source: Source): Promise<void> {
    const set = this.#inflight.get(sourceKey(source));
    if (set !== undefined) await Promise.allSettled([...set]);
  }

  /** Sends a lock operation to the node holding the lock; a node that is gone took its locks along. */
  async forward(token: string, op: Record<string, unknown>): Promise<Record<string, unknown>> {
    let reply: Msg;
    try {
      reply = await this.#b.nc.request(`${this.#b.namespace}.lock.${nodeOf(token)}`, JSON.stringify(op), {
        timeout: 10_000,
      });
    } catch {
      throw lockLost(token);
    }
    const r = reply.json<{ ok?: boolean; until?: number; error?: { code: string; message: string } }>();
    if (r.error !== undefined) {
      throw new BusError(r.error.code as BusError['code'], r.error.message);
    }
    return r as Record<string, unknown>;
  }

  serveLockOp(m: Msg): void {
    void (async () => {
      const req = m.json<{ op: string; path: string; token: string; settlement?: Record<string, unknown> }>();
      if (req.op === 'settle') {
        const s = req.settlement as { propertiesToModify?: Record<string, never> } & Settlement;
        const settlement =
          s.propertiesToModify === undefined ? s : { ...s, propertiesToModify: untagProps(s.propertiesToModify) };
        await this.settle(req.path, req.token, settlement as Settlement);
        return {};
      }
      if (req.op === 'renew') return { until: (await this.renewLock(req.path, req.token)).getTime() };
      return this.#sessions.serve(req as never);
    })().then(
      (r) => m.respond(JSON.stringify({ ok: true, ...r })),
      (err: unknown) => {
        const e = err instanceof BusError ? err : engineFailure('a forwarded lock operation', err);
        m.respond(JSON.stringify({ error: { code: e.code, message: e.message } }));
      },
    );
  }
}
