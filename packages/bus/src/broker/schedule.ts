/**
 * Scheduled messages of the in-process broker: when each falls due, and what happens then. A
 * message scheduled on a queue waits in the queue (state `scheduled`) and becomes active; one
 * scheduled on a topic waits at the topic and is routed to the subscriptions when due, so the
 * rules see it as it is then. Cancelling removes it either way.
 * @module
 */
import type { EngineOp, StoredMessage } from '../engine/port.ts';
import { BusError } from '../errors.ts';
import type { Deadlines } from './alarm.ts';
import type { BrokerContext } from './context.ts';
import { Heap } from './heap.ts';
import type { Router } from './routing.ts';

const earliest = (a: { at: number }, b: { at: number }): boolean => a.at < b.at;

export class Schedule implements Deadlines {
  /** When each scheduled message (by holding entity and sequence number) falls due. */
  readonly #due = new Heap<{ at: number; key: string; seq: number }>(earliest);
  readonly #ctx: BrokerContext;
  readonly #router: Router;

  constructor(ctx: BrokerContext, router: Router) {
    this.#ctx = ctx;
    this.#router = router;
  }

  /** Remembers that message `seq` held by `key` falls due at `at`. */
  add(key: string, seq: number, at: number): void {
    this.#due.push({ at, key, seq });
    this.#ctx.wakeBy(at);
  }

  /** Cancels scheduled messages of a queue or topic by sequence number; resolves once durable. */
  async cancel(entity: string, sequenceNumbers: readonly bigint[]): Promise<void> {
    const target = this.#ctx.catalog.sendTarget(entity);
    const ops: EngineOp[] = [];
    for (const n of sequenceNumbers) {
      const seq = Number(n);
      if (target.kind === 'queue') {
        const e = target.queue.messages.get(seq);
        if (e === undefined || e.msg.state !== 'scheduled') throw notScheduled(entity, n);
        target.queue.remove(seq);
      } else if (!target.scheduled.delete(seq)) {
        throw notScheduled(entity, n);
      }
      ops.push({ op: 'remove', entity: target.key, seq });
    }
    await this.#ctx.engine.write(ops);
  }

  next(): number {
    return this.#due.peek()?.at ?? Number.POSITIVE_INFINITY;
  }

  fire(now: number): void {
    for (let t = this.#due.peek(); t !== undefined && t.at <= now; t = this.#due.peek()) {
      this.#due.pop();
      this.#activate(t.key, t.seq, now);
    }
  }

  /** A scheduled message fell due: activate it in its queue, or route it from its topic. */
  #activate(key: string, seq: number, now: number): void {
    const queue = this.#ctx.catalog.queueStates.get(key);
    if (queue !== undefined) {
      const e = queue.messages.get(seq);
      if (e === undefined || e.msg.state !== 'scheduled') return;
      const at = e.msg.scheduledEnqueueTime ?? now;
      const ttl = e.msg.expiresAt === undefined ? undefined : e.msg.expiresAt - e.msg.enqueuedTime;
      const patch = {
        state: 'active' as const,
        enqueuedTime: at,
        ...(ttl === undefined ? {} : { expiresAt: at + ttl }),
      };
      e.msg = { ...e.msg, ...patch };
      this.#ctx.background(this.#ctx.engine.write([{ op: 'update', entity: key, seq, patch }]));
      queue.makeAvailable(e);
      return;
    }
    const topic = this.#ctx.catalog.topics.get(key);
    const msg = topic?.scheduled.get(seq);
    if (topic === undefined || msg === undefined) return;
    topic.scheduled.delete(seq);
    const ops: EngineOp[] = [{ op: 'remove', entity: key, seq }];
    const inserts: StoredMessage[] = [];
    const {
      entity: _a,
      seq: _b,
      enqueuedTime: _c,
      deliveryCount: _d,
      state: _s,
      expiresAt: _x,
      scheduledEnqueueTime: _t,
      ...fields
    } = msg;
    this.#router.route(key, fields, seq, msg.hops ?? 0, now, ops, inserts);
    this.#ctx.background(this.#ctx.commit(ops, inserts));
  }
}

function notScheduled(entity: string, n: bigint): BusError {
  return new BusError('BUS_MESSAGE_NOT_FOUND', `No scheduled message with sequence number ${n} in ${entity}.`, {
    detail: { entity, sequenceNumber: String(n) },
  });
}
