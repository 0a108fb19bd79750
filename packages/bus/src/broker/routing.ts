/**
 * Routing of an accepted message: into a queue, or through a topic's subscriptions and their rules,
 * following auto-forwarding (up to 4 hops) and dead-lettering where Service Bus would. Produces
 * engine ops and the messages to show once those ops are durable; touches no broker state.
 * @module
 */

import type { EngineOp, StoredMessage } from '../engine/port.ts';
import { MAX_TIME_TO_LIVE_MS } from '../entities.ts';
import { MESSAGE_STRING_FIELDS } from '../message.ts';
import type { RoutableMessage } from '../rules/index.ts';
import type { Catalog, SubscriptionEntry } from './catalog.ts';
import type { QueueState } from './queue-state.ts';

/** A message's sender-side fields, before the broker stamps entity, sequence number and state. */
export type MessageFields = Omit<StoredMessage, 'entity' | 'seq' | 'enqueuedTime' | 'deliveryCount' | 'state'>;

const MAX_HOPS = 4;
const CARRIED_FIELDS = ['hops', 'deadLetterReason', 'deadLetterErrorDescription', 'deadLetterSource'] as const;
const OPTIONAL_FIELDS = [
  'scheduledEnqueueTime',
  ...MESSAGE_STRING_FIELDS,
  'timeToLive',
  'applicationProperties',
  'deadLetterReason',
  'deadLetterErrorDescription',
  'deadLetterSource',
] as const;

export class Router {
  readonly #catalog: Catalog;

  constructor(catalog: Catalog) {
    this.#catalog = catalog;
  }

  /**
   * Routes one message into `key` (queue or topic), following auto-forwarding; pushes the ops and
   * the messages to insert once they are durable.
   */
  route(
    key: string,
    m: Omit<StoredMessage, 'entity' | 'seq' | 'enqueuedTime' | 'deliveryCount' | 'state'>,
    seq: number,
    hops: number,
    now: number,
    ops: EngineOp[],
    inserts: StoredMessage[],
  ): void {
    const fields = m;
    const scheduled = fields.scheduledEnqueueTime !== undefined && fields.scheduledEnqueueTime > now;
    const entry = this.#catalog.queues.get(key);
    if (entry !== undefined) {
      if (entry.props.forwardTo !== undefined && !scheduled) {
        const next = this.#catalog.entityKeyOf(entry.props.forwardTo);
        if (next !== undefined && hops < MAX_HOPS) {
          return this.route(next, fields, this.#catalog.nextSeq(next), hops + 1, now, ops, inserts);
        }
      }
      const msg = this.#stored(entry.queue, entry.props.defaultMessageTimeToLive, fields, seq, hops, now, scheduled);
      if (entry.props.forwardTo !== undefined && !scheduled) {
        return this.deadLetterNew(entry.queue, msg, 'MaxTransferHopCountExceeded', undefined, now, ops, inserts);
      }
      ops.push({ op: 'append', message: msg });
      inserts.push(msg);
      return;
    }
    const topic = this.#catalog.topics.get(key);
    if (topic === undefined) return; // deleted while in flight: dropped, as Service Bus does
    if (scheduled) {
      const msg = this.#stored(undefined, topic.props.defaultMessageTimeToLive, fields, seq, hops, now, true);
      const held = { ...msg, entity: key };
      ops.push({ op: 'append', message: held });
      inserts.push(held);
      return;
    }
    const { scheduledEnqueueTime: _s, ...active } = fields;
    for (const sub of topic.subscriptions.values()) {
      const copy = this.#filter(sub, active, seq, now);
      if (copy === undefined) continue;
      if ('filterError' in copy) {
        const msg = this.#stored(sub.queue, MAX_TIME_TO_LIVE_MS, active, seq, hops, now, false);
        this.deadLetterNew(sub.queue, msg, 'FilterEvaluationException', copy.filterError, now, ops, inserts);
        continue;
      }
      if (sub.props.forwardTo !== undefined) {
        const next = this.#catalog.entityKeyOf(sub.props.forwardTo);
        if (next !== undefined && hops < MAX_HOPS) {
          this.route(next, copy, this.#catalog.nextSeq(next), hops + 1, now, ops, inserts);
          continue;
        }
      }
      const ttl = Math.min(topic.props.defaultMessageTimeToLive, sub.props.defaultMessageTimeToLive);
      const msg = this.#stored(sub.queue, ttl, copy, seq, hops, now, false);
      if (sub.props.forwardTo !== undefined) {
        this.deadLetterNew(sub.queue, msg, 'MaxTransferHopCountExceeded', undefined, now, ops, inserts);
      } else if (sub.props.requiresSession && msg.sessionId === undefined) {
        this.deadLetterNew(sub.queue, msg, 'Session ID is null.', undefined, now, ops, inserts);
      } else {
        ops.push({ op: 'append', message: msg });
        inserts.push(msg);
      }
    }
  }

  /**
   * Applies a subscription's rules: undefined when none matches, the (action-applied) copy when one
   * does, or `{ filterError }` when evaluation threw and the subscription dead-letters on that.
   */
  #filter<M extends Omit<StoredMessage, 'entity' | 'seq' | 'enqueuedTime' | 'deliveryCount' | 'state'>>(
    sub: SubscriptionEntry,
    m: M,
    seq: number,
    now: number,
  ): M | undefined | { filterError: string } {
    if (sub.compiled.length === 1 && sub.compiled[0]!.isTrue) return m;
    const view = { ...m, sequenceNumber: BigInt(seq), enqueuedTime: new Date(now), deliveryCount: 0 } as unknown;
    let routable = view as RoutableMessage;
    let matched = false;
    for (const rule of sub.compiled) {
      try {
        if (!rule.rule.matches(view as RoutableMessage)) continue;
        matched = true;
        routable = rule.rule.apply(routable);
      } catch (err) {
        if (sub.props.deadLetteringOnFilterEvaluationExceptions) {
          return { filterError: `Rule '${rule.rule.name}': ${err instanceof Error ? err.message : String(err)}` };
        }
        // Otherwise a rule that cannot be evaluated does not match.
      }
    }
    if (!matched) return undefined;
    if (routable === view) return m;
    const {
      sequenceNumber: _a,
      enqueuedTime: _b,
      deliveryCount: _c,
      ...changed
    } = routable as RoutableMessage & Record<string, unknown>;
    // The action's result is authoritative for message fields (REMOVE drops them); bookkeeping
    // fields the rules never see are carried over.
    const out: Record<string, unknown> = { ...changed, body: m.body, bodyType: m.bodyType };
    for (const k of CARRIED_FIELDS) if (m[k] !== undefined) out[k] = m[k];
    return out as M;
  }

  #stored(
    queue: QueueState | undefined,
    defaultTtl: number,
    f: Omit<StoredMessage, 'entity' | 'seq' | 'enqueuedTime' | 'deliveryCount' | 'state'>,
    seq: number,
    hops: number,
    now: number,
    scheduled: boolean,
  ): StoredMessage {
    const enqueuedTime = scheduled ? f.scheduledEnqueueTime! : now;
    const ttl = Math.min(f.timeToLive ?? MAX_TIME_TO_LIVE_MS, defaultTtl);
    // One object literal of a fixed shape (spreads of optional fields are slow on the hot path).
    const msg: Record<string, unknown> = {
      entity: queue?.key ?? '',
      seq,
      body: f.body,
      bodyType: f.bodyType,
      enqueuedTime,
      deliveryCount: 0,
      state: scheduled ? 'scheduled' : 'active',
    };
    if (ttl < MAX_TIME_TO_LIVE_MS) msg.expiresAt = enqueuedTime + ttl;
    for (const k of OPTIONAL_FIELDS) {
      const v = f[k];
      if (v !== undefined) msg[k] = v;
    }
    if (hops > 0) msg.hops = hops;
    return msg as unknown as StoredMessage;
  }

  /** Ops that dead-letter `msg` (not yet in memory) from `queue`: to its DLQ or its DLQ forward target. */
  deadLetterNew(
    queue: QueueState,
    msg: StoredMessage,
    reason: string,
    description: string | undefined,
    now: number,
    ops: EngineOp[],
    inserts: StoredMessage[],
  ): void {
    const dead: StoredMessage = {
      ...msg,
      state: 'active',
      deadLetterReason: reason,
      deadLetterSource: queue.path,
      ...(description === undefined ? {} : { deadLetterErrorDescription: description }),
    };
    const { expiresAt: _e, ...noExpiry } = dead;
    const forward = queue.settings.forwardDeadLetteredMessagesTo;
    const next = forward === undefined ? undefined : this.#catalog.entityKeyOf(forward);
    if (next !== undefined && (msg.hops ?? 0) < MAX_HOPS) {
      const { entity: _a, seq: _b, enqueuedTime: _c, deliveryCount: _d, state: _s, ...fields } = noExpiry;
      this.route(next, fields, this.#catalog.nextSeq(next), (msg.hops ?? 0) + 1, now, ops, inserts);
      return;
    }
    const dlq = queue.deadLetter!;
    const inDlq: StoredMessage = { ...noExpiry, entity: dlq.key };
    ops.push({ op: 'append', message: inDlq });
    inserts.push(inDlq);
  }
}
