/**
 * A receiver of the client (our sending link): hands out the entity's messages as the client's
 * link credit allows. One receive is outstanding at a time, for at most the credit left; a drain
 * ends it and answers with the credit consumed, delivering nothing more (1.x SDKs drop what
 * arrives after their drain). Peek-lock deliveries carry the lock token as their tag; the
 * client's outcome settles the message in the broker, and the broker's answer settles the
 * delivery (marked remote-settled too, or rhea never frees its slot).
 * @module
 */

import { randomBytes } from 'node:crypto';
import type { PropertyValue } from '@hubbub/bus';
import type { Broker, Delivery, ReceiveMode, Settlement } from '@hubbub/bus/broker';
import { lockTokenTag } from './codec.ts';
import { Condition, toAmqpError } from './conditions.ts';
import { encodeDelivery } from './encode.ts';
import { type AmqpError, amqpMessage, type RheaDelivery, type RheaLink } from './rhea.ts';

/** rhea's receive waits without a timer at this delay: until a message, an abort or close. */
const FOREVER = 2_147_483_647;

export interface OutboundOptions {
  readonly broker: () => Broker;
  readonly path: string;
  readonly mode: ReceiveMode;
  /** The session's lock token, for a session receiver. */
  readonly session?: string | undefined;
  /** Largest receive asked of the broker at once. */
  readonly maxBatch: number;
  /** Whether the connection can take more bytes now (socket back-pressure). */
  readonly writable: () => boolean;
  /** Called once when the socket drains again. */
  readonly onWritable: (resume: () => void) => void;
  /** A failure that ends the link (its session lock lost, the entity deleted). */
  readonly fail: (error: AmqpError) => void;
}

/** The accepted outcome, one for every disposition (rhea only writes it). */
const ACCEPTED = amqpMessage.accepted().described();

const deliveries = new WeakMap<RheaDelivery, { path: string; lockToken: string }>();

export class Outbound {
  readonly #link: RheaLink;
  readonly #o: OutboundOptions;
  /** Deliveries sent, plus credit a drain consumed. */
  #sent = 0;
  /** flow delivery-count + link-credit: how many deliveries the client allows in all. */
  #limit = 0;
  #receiving: AbortController | undefined;
  #draining = false;
  #closed = false;
  #waitingForSocket = false;

  constructor(link: RheaLink, options: OutboundOptions) {
    this.#link = link;
    this.#o = options;
  }

  /** A flow arrived: the new credit, and perhaps a drain. */
  flow(): void {
    this.#limit = this.#link.credit + this.#link.delivery_count;
    if (this.#link._draining === true) {
      this.#draining = true;
      if (this.#receiving !== undefined) this.#receiving.abort();
      else this.#finishDrain();
      return;
    }
    this.#pump();
  }

  close(): void {
    this.#closed = true;
    this.#receiving?.abort();
  }

  #finishDrain(): void {
    this.#draining = false;
    this.#sent = Math.max(this.#sent, this.#limit);
    this.#link.set_drained(true);
    // set_drained only marks the flow to write; outside rhea's own event handling nothing would write it.
    this.#link.connection._register();
  }

  #pump(): void {
    if (this.#closed || this.#receiving !== undefined || this.#draining || !this.#link.is_open()) return;
    const room = this.#outgoingRoom();
    const want = Math.min(this.#limit - this.#sent, this.#o.maxBatch, room);
    if (want <= 0) return;
    if (!this.#o.writable()) {
      if (!this.#waitingForSocket) {
        this.#waitingForSocket = true;
        this.#o.onWritable(() => {
          this.#waitingForSocket = false;
          this.#pump();
        });
      }
      return;
    }
    const abort = new AbortController();
    this.#receiving = abort;
    let pending: Promise<Delivery[]>;
    try {
      pending = this.#o.broker().receive(this.#o.path, {
        maxMessages: want,
        mode: this.#o.mode,
        maxWaitTimeMs: FOREVER,
        session: this.#o.session,
        signal: abort.signal,
      });
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (got) => {
        this.#receiving = undefined;
        this.#deliver(got);
        if (this.#draining) this.#finishDrain();
        else this.#pump();
      },
      (err: unknown) => {
        this.#receiving = undefined;
        if (this.#closed) return;
        this.#o.fail(toAmqpError(err));
      },
    );
  }

  /** Free slots of rhea's outgoing delivery ring of this session (it throws when over-filled). */
  #outgoingRoom(): number {
    const outgoing = (this.#link.session as unknown as { outgoing: { available(): number } }).outgoing;
    return outgoing.available();
  }

  #deliver(got: Delivery[]): void {
    if (got.length === 0) return;
    if (this.#closed || !this.#link.is_open()) {
      // The client went away while the receive was finishing: give peek-locked messages back.
      for (const d of got)
        if (d.lockToken !== undefined)
          this.#o
            .broker()
            .settle(d.path, d.lockToken, { kind: 'abandon' })
            .catch(() => {});
      return;
    }
    for (const d of got) {
      const tag = d.lockToken === undefined ? randomBytes(16) : lockTokenTag(d.lockToken);
      // Format 0 with the bytes already encoded: rhea sends them as they are.
      const delivery = this.#link.send(encodeDelivery(d), tag, 0);
      this.#sent++;
      if (d.lockToken !== undefined) deliveries.set(delivery, { path: d.path, lockToken: d.lockToken });
    }
  }
}

/** The settlement an AMQP outcome asks for (the SDK's complete, abandon, defer, dead-letter). */
export function settlementOf(kind: string, state: Record<string, unknown> | undefined): Settlement {
  const props = (v: unknown): Record<string, PropertyValue> | undefined =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0
      ? (v as Record<string, PropertyValue>)
      : undefined;
  switch (kind) {
    case 'accepted':
      return { kind: 'complete' };
    case 'rejected': {
      const error = (state?.error ?? {}) as {
        condition?: string;
        info?: Record<string, unknown>;
        description?: string;
      };
      const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = (error.info ?? {}) as Record<string, unknown>;
      const reason = typeof DeadLetterReason === 'string' ? DeadLetterReason : error.condition;
      const description =
        typeof DeadLetterErrorDescription === 'string' ? DeadLetterErrorDescription : error.description;
      const modify = props(rest);
      return {
        kind: 'deadLetter',
        ...(reason === undefined ? {} : { reason }),
        ...(description === undefined ? {} : { errorDescription: description }),
        ...(modify === undefined ? {} : { propertiesToModify: modify }),
      };
    }
    case 'modified': {
      const modify = props(state?.message_annotations);
      const base = state?.undeliverable_here === true ? ('defer' as const) : ('abandon' as const);
      return modify === undefined ? { kind: base } : { kind: base, propertiesToModify: modify };
    }
    default:
      return { kind: 'abandon' };
  }
}

/** The client's outcome for a peek-locked delivery: settle the message, then the delivery. */
export function settleDelivery(broker: Broker, kind: string, delivery: RheaDelivery): void {
  const held = deliveries.get(delivery);
  if (held === undefined || delivery.settled) return;
  deliveries.delete(delivery);
  const finish = (state: unknown): void => {
    delivery.update(true, state);
    delivery.remote_settled = true;
  };
  let settling: Promise<void>;
  try {
    settling = broker.settle(held.path, held.lockToken, settlementOf(kind, delivery.remote_state));
  } catch (err) {
    settling = Promise.reject(err);
  }
  settling.then(
    () => finish(ACCEPTED),
    (err: unknown) => finish(amqpMessage.rejected({ error: toAmqpError(err) }).described()),
  );
}

export const lockLostError: AmqpError = { condition: Condition.MessageLockLost, description: 'The lock was lost.' };
