/**
 * The operations port of the bus: what the client (`createBus` — senders, receivers, processors,
 * admin) and the front-ends (the HTTP API, later AMQP) call. A {@link Broker} sends, hands out
 * messages under peek-locks, settles them by lock token, locks sessions and manages entities; the
 * `Bus` that `createBus` returns only adds the Azure SDK's shapes on top and delegates every
 * operation here.
 *
 * Where the line sits, and why: the bus has two ports. `BusEngine` (`../engine/port.ts`) is
 * storage — it makes state changes durable and gives them back on start — and it assumes one
 * process owns the queue: locks, waiting receivers and timers are that process's memory. That is
 * right for `memory://` and `file://`, where the in-process broker (`local-broker.ts`) implements
 * every Service Bus rule once over any engine. Stateless nodes competing on one queue cannot work
 * that way: the lock and the queue head must live in the server (NATS JetStream: a durable pull
 * consumer per queue, ack-wait as the lock, ack / nak / term as the settlement, KV for entities
 * and session state). So the line also sits here, at the operations: a `bus-nats` package
 * implements `Broker` directly, and the client, the HTTP API and the conformance suite
 * (`@hubbub/bus/broker/conformance`) work on it unchanged.
 *
 * What an implementation owns: lock tokens (opaque strings), sequence numbers (per queue or
 * topic, from 1), entity paths (case-insensitive), and when a message becomes visible. Every
 * operation is asynchronous except {@link Broker.entity}, which answers from entity definitions
 * the implementation keeps at hand (a JetStream KV watch does), so a sender or receiver for a
 * missing entity fails when it is created, as in the Azure SDK.
 * @module
 */
import type { TypedEmitter } from '@hubbub/kernel';
import type { BusAdmin } from '../admin.ts';
import type { StoredMessage } from '../engine/port.ts';
import type { BusError } from '../errors.ts';
import type { PropertyValue, ServiceBusMessage } from '../message.ts';

export type ReceiveMode = 'peekLock' | 'receiveAndDelete';

/** A message handed to a receiver: the stored message plus its lock. */
export interface Delivery {
  readonly msg: StoredMessage;
  /** Receiving entity path (`q`, `t/subscriptions/s`, `q/$deadletterqueue`). */
  readonly path: string;
  readonly lockToken: string | undefined;
  readonly lockedUntil: number | undefined;
}

/** What a session lock gives back. */
export interface SessionLock {
  readonly sessionId: string;
  readonly lockToken: string;
  readonly lockedUntil: number;
}

export type BusEvents = {
  /** Messages were accepted (durable) by a queue or topic. */
  sent: (e: { entity: string; count: number }) => void;
  /** A message moved to a dead-letter queue. */
  deadLettered: (e: { entity: string; sequenceNumber: bigint; reason: string }) => void;
  /** A message expired (dropped, or dead-lettered when the entity says so). */
  expired: (e: { entity: string; sequenceNumber: bigint }) => void;
  /** A peek-lock expired before settlement; the message is available again. */
  lockExpired: (e: { entity: string; sequenceNumber: bigint }) => void;
  /** A background write (lock expiry, schedule, TTL) failed. */
  error: (err: BusError) => void;
};

export interface ReceiveOptions {
  maxMessages: number;
  mode: ReceiveMode;
  /** Wait this long for the first message. 0 = return at once. */
  maxWaitTimeMs: number;
  /** Receive from this locked session only (its lock token). */
  session?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Which messages a peek returns. */
export interface PeekRange {
  /** @default 1n */
  fromSequenceNumber?: bigint;
  maxMessageCount: number;
  /** Only this session's messages. */
  sessionId?: string | undefined;
}

/** Application properties a settlement merges into the message. */
type Modify = Record<string, PropertyValue> | undefined;

/** How a peek-locked message is settled (AMQP calls it the delivery's outcome). */
export type Settlement =
  | { readonly kind: 'complete' }
  /** Unlocks it: delivery count + 1, dead-lettered past the maximum. */
  | { readonly kind: 'abandon'; readonly propertiesToModify?: Modify }
  | {
      readonly kind: 'deadLetter';
      /** ≤ 4096 characters. */
      readonly reason?: string | undefined;
      readonly errorDescription?: string | undefined;
      readonly propertiesToModify?: Modify;
    }
  /** Sets it aside until received by sequence number. */
  | { readonly kind: 'defer'; readonly propertiesToModify?: Modify };

/** What a sender or receiver needs to know of its entity when it is created. */
export interface EntityInfo {
  /** The entity's path as it was created (`orders`, `t/Subscriptions/s`). */
  readonly path: string;
  /** Receiving needs a session lock (queues and subscriptions with `requiresSession`). */
  readonly requiresSession: boolean;
}

/** Session locks and session state. A lock token here is the session's, not a message's. */
export interface BrokerSessions {
  /**
   * Locks a named session, or (`sessionId` undefined) the next unlocked session with messages,
   * waiting up to `maxWaitTimeMs` (then BUS_SESSION_CANNOT_BE_LOCKED).
   */
  accept(
    path: string,
    sessionId: string | undefined,
    options: { maxWaitTimeMs: number; signal?: AbortSignal | undefined },
  ): Promise<SessionLock>;
  /** Extends the lock (and its messages' locks) by the lock duration; resolves with the new expiry (ms). */
  renew(path: string, lockToken: string): Promise<number>;
  getState(path: string, lockToken: string): Promise<Uint8Array | undefined>;
  /** `null` clears it. */
  setState(path: string, lockToken: string, state: Uint8Array | null): Promise<void>;
  /** Gives the session up (receiver closed); its in-flight messages return with delivery count + 1. */
  release(path: string, lockToken: string): Promise<void>;
}

/** The operations of the bus. See the module comment for where this line sits. */
export interface Broker {
  /** sent, deadLettered, expired, lockExpired, error. */
  readonly events: TypedEmitter<BusEvents>;
  /** Queues, topics, subscriptions, rules and runtime counts. */
  readonly admin: BusAdmin;
  readonly sessions: BrokerSessions;
  readonly closed: boolean;
  /**
   * The entity a sender (`send`: a queue or topic) or receiver (`receive`: a queue, subscription
   * or dead-letter queue) would use; throws BUS_ENTITY_NOT_FOUND. Synchronous: see the module comment.
   */
  entity(path: string, use: 'send' | 'receive'): EntityInfo;
  /** Sends messages atomically; resolves with their sequence numbers (0n for a dropped duplicate) once durable. */
  send(entity: string, messages: readonly ServiceBusMessage[]): Promise<bigint[]>;
  /** Cancels scheduled messages of a queue or topic (BUS_MESSAGE_NOT_FOUND when one is not scheduled). */
  cancelScheduled(entity: string, sequenceNumbers: readonly bigint[]): Promise<void>;
  /** Receives up to `maxMessages`, waiting up to `maxWaitTimeMs` for the first one. */
  receive(path: string, options: ReceiveOptions): Promise<Delivery[]>;
  /** Receives deferred messages by sequence number (BUS_MESSAGE_NOT_FOUND when one is not deferred). */
  receiveDeferred(
    path: string,
    sequenceNumbers: readonly bigint[],
    mode: ReceiveMode,
    sessionToken?: string,
  ): Promise<Delivery[]>;
  /** Messages in sequence order without locking them (active, locked, deferred and scheduled). */
  peek(path: string, range: PeekRange): Promise<Delivery[]>;
  /** Settles a peek-locked message; BUS_LOCK_LOST (or BUS_SESSION_LOCK_LOST) when its lock is gone. */
  settle(path: string, lockToken: string, settlement: Settlement): Promise<void>;
  /** Extends a message lock by the entity's lock duration; resolves with the new expiry. */
  renewLock(path: string, lockToken: string): Promise<Date>;
  /** Stops: waiting receives reject with BUS_CLOSED; storage is released. */
  close(): Promise<void>;
}
