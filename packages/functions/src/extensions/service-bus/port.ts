/**
 * The port Service Bus triggers and outputs reach a bus through. The composition root adapts a
 * bus to it (`@hubbub/system` bridges Hubbub's bus); tests use a small in-memory one. Settlement
 * lives on the message. A bus error is recognised by its stable `code`, never by its class.
 * @module
 */
import type { Connection } from '../../connections.ts';

/** A peek-locked message as a trigger receives it. */
export interface BusReceivedMessage {
  readonly body: unknown;
  /**
   * Optional: the body as stored and how it was sent (`@hubbub/bus` messages have both), so a JSON
   * or text body reaches the function without a parse and a re-serialisation.
   */
  readonly bodyBytes?: Uint8Array;
  readonly bodyType?: 'bytes' | 'string' | 'json';
  readonly messageId?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly subject?: string | undefined;
  readonly contentType?: string | undefined;
  readonly to?: string | undefined;
  readonly replyTo?: string | undefined;
  readonly replyToSessionId?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly partitionKey?: string | undefined;
  readonly timeToLive?: number | undefined;
  readonly applicationProperties?: Readonly<Record<string, unknown>> | undefined;
  readonly sequenceNumber: bigint | number;
  readonly enqueuedTime: Date;
  readonly expiresAt?: Date | undefined;
  /** Earlier delivery attempts, as `@azure/service-bus` counts them (0 on the first delivery). */
  readonly deliveryCount: number;
  readonly lockToken?: string | undefined;
  readonly lockedUntil?: Date | undefined;
  readonly deadLetterSource?: string | undefined;
  complete(): Promise<void>;
  abandon(): Promise<void>;
  /** Extends the lock; the host renews while a function runs (up to maxAutoLockRenewalDuration). */
  renewLock?(): Promise<Date>;
}

/** A message an output binding sends. */
export interface BusOutgoingMessage {
  body: unknown;
  contentType?: string;
}

export type BusSource = { readonly queue: string } | { readonly topic: string; readonly subscription: string };

export interface BusReceiveOptions {
  /** Receive from sessions: one session's messages in order, by one consumer at a time. */
  readonly sessions: boolean;
  /** Ends the iteration. */
  readonly signal: AbortSignal;
  /**
   * Optional: messages the port may receive ahead of the iteration and hold locked (host.json
   * `prefetchCount`), so that one receive from the bus brings what is there. @default 0
   */
  readonly prefetch?: number;
}

export interface BusPort {
  /** Sends to a queue or topic. */
  send(entity: string, messages: readonly BusOutgoingMessage[]): Promise<void>;
  /** Peek-locked messages from a queue or subscription until `signal` aborts. */
  receive(source: BusSource, options: BusReceiveOptions): AsyncIterable<BusReceivedMessage>;
  /**
   * Optional, for `cardinality: 'many'`: batches of up to `maxMessages` peek-locked messages, each
   * batch what is available once the first message arrived. Without it batches hold one message.
   */
  receiveBatches?(
    source: BusSource,
    options: BusReceiveOptions & { readonly maxMessages: number },
  ): AsyncIterable<readonly BusReceivedMessage[]>;
}

/** Picks the bus for a connection setting (`{ name, value }`, e.g. ServiceBusConnection = memory://); undefined for none. */
export type BusResolver = (connection: Connection) => BusPort | undefined | Promise<BusPort | undefined>;
