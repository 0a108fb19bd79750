/**
 * Messages as Service Bus defines them: what a sender sets, and what the broker adds.
 * @module
 */

/** Application property values Service Bus allows (AMQP simple types). */
export type PropertyValue = string | number | boolean | bigint | Date | null;

/** What a sender sets. Every field but `body` is optional. */
export interface ServiceBusMessage {
  /** Bytes, a string, or any JSON value (stored as JSON with `contentType` application/json if unset). */
  body: unknown;
  messageId?: string;
  correlationId?: string;
  /** Also known as `label` (the seeds' test script sets label "driveby"). */
  subject?: string;
  contentType?: string;
  to?: string;
  replyTo?: string;
  replyToSessionId?: string;
  sessionId?: string;
  partitionKey?: string;
  /** Milliseconds the message lives after enqueue; capped by the entity's default. */
  timeToLive?: number;
  /** Enqueue (make visible) no earlier than this time. */
  scheduledEnqueueTime?: Date;
  applicationProperties?: Record<string, PropertyValue>;
}

/** The sender's string fields, in the order codecs write them. */
export const MESSAGE_STRING_FIELDS = [
  'messageId',
  'correlationId',
  'subject',
  'contentType',
  'to',
  'replyTo',
  'replyToSessionId',
  'sessionId',
  'partitionKey',
] as const satisfies ReadonlyArray<keyof ServiceBusMessage>;

export const MessageState = { Active: 'active', Deferred: 'deferred', Scheduled: 'scheduled' } as const;
export type MessageState = (typeof MessageState)[keyof typeof MessageState];

/** The optional sender fields as a receiver reads them (absent or undefined when unset). */
export type SenderFields = {
  readonly [K in Exclude<keyof ServiceBusMessage, 'body' | 'applicationProperties'>]?: ServiceBusMessage[K] | undefined;
};

/** A message as a receiver sees it: the sender's fields plus the broker's. */
export interface ReceivedMessage extends SenderFields {
  readonly body: unknown;
  readonly applicationProperties: Readonly<Record<string, PropertyValue>>;
  readonly sequenceNumber: bigint;
  readonly enqueuedTime: Date;
  readonly expiresAt: Date | undefined;
  readonly deliveryCount: number;
  readonly state: MessageState;
  /** Peek-lock only. */
  readonly lockToken: string | undefined;
  readonly lockedUntil: Date | undefined;
  readonly deadLetterReason: string | undefined;
  readonly deadLetterErrorDescription: string | undefined;
  /** The entity the message was dead-lettered from. */
  readonly deadLetterSource: string | undefined;
}
