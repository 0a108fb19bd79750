/**
 * The message a receiver hands out: the broker's view of a stored message plus settlement
 * methods (`complete`, `abandon`, `deadLetter`, `defer`, `renewLock`).
 * @module
 */
import type { Broker, Delivery, Settlement } from './broker/port.ts';
import type { StoredMessage } from './engine/port.ts';
import { BusError } from './errors.ts';
import type { MessageState, PropertyValue, ReceivedMessage } from './message.ts';
import { decodeBody } from './message-codec.ts';

export interface DeadLetterOptions {
  /** Why (≤ 4096 chars); surfaces as `deadLetterReason`. */
  reason?: string;
  errorDescription?: string;
  /** Merged into the message's application properties. */
  propertiesToModify?: Record<string, PropertyValue>;
}

const EMPTY: Readonly<Record<string, PropertyValue>> = Object.freeze({});
const COMPLETE: Settlement = Object.freeze({ kind: 'complete' });

/** Plain data of a received message (what the HTTP API serialises). */
export function toReceivedMessage(d: Delivery): ReceivedMessage {
  return new ServiceBusReceivedMessage(d, undefined).toJSON();
}

export class ServiceBusReceivedMessage implements ReceivedMessage {
  readonly #msg: StoredMessage;
  readonly #path: string;
  readonly #broker: Broker | undefined;
  #body: unknown;
  #decoded = false;
  readonly lockToken: string | undefined;
  lockedUntil: Date | undefined;

  constructor(d: Delivery, broker: Broker | undefined) {
    this.#msg = d.msg;
    this.#path = d.path;
    this.#broker = broker;
    this.lockToken = d.lockToken;
    this.lockedUntil = d.lockedUntil === undefined ? undefined : new Date(d.lockedUntil);
  }

  get body(): unknown {
    if (!this.#decoded) {
      this.#body = decodeBody(this.#msg);
      this.#decoded = true;
    }
    return this.#body;
  }
  /** Raw body bytes as stored. */
  get bodyBytes(): Uint8Array {
    return this.#msg.body;
  }
  /** How the body was sent, so `bodyBytes` can be read without decoding: bytes, a string, or JSON text. */
  get bodyType(): 'bytes' | 'string' | 'json' {
    return this.#msg.bodyType;
  }
  get messageId(): string | undefined {
    return this.#msg.messageId;
  }
  get correlationId(): string | undefined {
    return this.#msg.correlationId;
  }
  get subject(): string | undefined {
    return this.#msg.subject;
  }
  get contentType(): string | undefined {
    return this.#msg.contentType ?? (this.#msg.bodyType === 'json' ? 'application/json' : undefined);
  }
  get to(): string | undefined {
    return this.#msg.to;
  }
  get replyTo(): string | undefined {
    return this.#msg.replyTo;
  }
  get replyToSessionId(): string | undefined {
    return this.#msg.replyToSessionId;
  }
  get sessionId(): string | undefined {
    return this.#msg.sessionId;
  }
  get partitionKey(): string | undefined {
    return this.#msg.partitionKey;
  }
  get timeToLive(): number | undefined {
    return this.#msg.timeToLive;
  }
  get scheduledEnqueueTime(): Date | undefined {
    return this.#msg.scheduledEnqueueTime === undefined ? undefined : new Date(this.#msg.scheduledEnqueueTime);
  }
  get applicationProperties(): Readonly<Record<string, PropertyValue>> {
    return this.#msg.applicationProperties ?? EMPTY;
  }
  get sequenceNumber(): bigint {
    return BigInt(this.#msg.seq);
  }
  get enqueuedTime(): Date {
    return new Date(this.#msg.enqueuedTime);
  }
  get expiresAt(): Date | undefined {
    return this.#msg.expiresAt === undefined ? undefined : new Date(this.#msg.expiresAt);
  }
  get deliveryCount(): number {
    return this.#msg.deliveryCount;
  }
  get state(): MessageState {
    return this.#msg.state;
  }
  get deadLetterReason(): string | undefined {
    return this.#msg.deadLetterReason;
  }
  get deadLetterErrorDescription(): string | undefined {
    return this.#msg.deadLetterErrorDescription;
  }
  get deadLetterSource(): string | undefined {
    return this.#msg.deadLetterSource;
  }
  /** The entity path it was received from. */
  get entityPath(): string {
    return this.#path;
  }

  #settle(): { broker: Broker; token: string } {
    if (this.#broker === undefined || this.lockToken === undefined) {
      throw new BusError('BUS_INVALID_OPERATION', 'Only peek-locked messages can be settled.', {
        detail: { entity: this.#path },
      });
    }
    return { broker: this.#broker, token: this.lockToken };
  }

  /** Removes the message. BUS_LOCK_LOST when the lock expired or it was settled already. */
  complete(): Promise<void> {
    try {
      const { broker, token } = this.#settle();
      return broker.settle(this.#path, token, COMPLETE);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Releases the lock (delivery count + 1), optionally merging application properties. */
  abandon(propertiesToModify?: Record<string, PropertyValue>): Promise<void> {
    try {
      const { broker, token } = this.#settle();
      return broker.settle(this.#path, token, { kind: 'abandon', propertiesToModify });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Moves the message to the dead-letter queue. */
  deadLetter(options: DeadLetterOptions = {}): Promise<void> {
    try {
      const { broker, token } = this.#settle();
      return broker.settle(this.#path, token, {
        kind: 'deadLetter',
        reason: options.reason,
        errorDescription: options.errorDescription,
        propertiesToModify: options.propertiesToModify,
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sets the message aside; fetch it again with `receiveDeferredMessages([sequenceNumber])`. */
  defer(propertiesToModify?: Record<string, PropertyValue>): Promise<void> {
    try {
      const { broker, token } = this.#settle();
      return broker.settle(this.#path, token, { kind: 'defer', propertiesToModify });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Extends the lock by the entity's lock duration; resolves with the new expiry. */
  async renewLock(): Promise<Date> {
    const { broker, token } = this.#settle();
    this.lockedUntil = await broker.renewLock(this.#path, token);
    return this.lockedUntil;
  }

  toJSON(): ReceivedMessage {
    const out: Record<string, unknown> = {};
    const m = this.#msg;
    out.body = this.body;
    for (const k of [
      'messageId',
      'correlationId',
      'subject',
      'to',
      'replyTo',
      'replyToSessionId',
      'sessionId',
      'partitionKey',
      'timeToLive',
      'deadLetterReason',
      'deadLetterErrorDescription',
      'deadLetterSource',
    ] as const) {
      if (m[k] !== undefined) out[k] = m[k];
    }
    if (this.contentType !== undefined) out.contentType = this.contentType;
    if (m.scheduledEnqueueTime !== undefined) out.scheduledEnqueueTime = new Date(m.scheduledEnqueueTime);
    out.applicationProperties = this.applicationProperties;
    out.sequenceNumber = this.sequenceNumber;
    out.enqueuedTime = this.enqueuedTime;
    out.expiresAt = this.expiresAt;
    out.deliveryCount = m.deliveryCount;
    out.state = m.state;
    out.lockToken = this.lockToken;
    out.lockedUntil = this.lockedUntil;
    return out as unknown as ReceivedMessage;
  }
}
