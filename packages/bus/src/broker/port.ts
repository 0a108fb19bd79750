/**
 * What the broker hands out and takes: deliveries, session locks, receive options and its events.
 * @module
 */
import type { StoredMessage } from '../engine/port.ts';
import type { BusError } from '../errors.ts';

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
