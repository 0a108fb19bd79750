/**
 * The `sys.` scope: Service Bus system properties a filter may read and an action may write.
 * Names are case-insensitive; `Label` and `Subject` are the same property.
 * @module
 */
import type { RoutableMessage } from './types.ts';

type Read = (m: RoutableMessage) => string | number | bigint | Date | undefined;
type StringField =
  | 'messageId'
  | 'correlationId'
  | 'subject'
  | 'contentType'
  | 'to'
  | 'replyTo'
  | 'replyToSessionId'
  | 'sessionId'
  | 'partitionKey';

export interface SystemProperty {
  /** The canonical Service Bus name (for messages). */
  readonly name: string;
  readonly read: Read;
  /** Present when an action may SET / REMOVE it: the string field of the message it writes. */
  readonly field?: StringField;
}

const stringProperty = (name: string, field: StringField): SystemProperty => ({
  name,
  read: (m) => m[field],
  field,
});

const expiresAt = (m: RoutableMessage): Date | undefined =>
  m.enqueuedTime !== undefined && m.timeToLive !== undefined
    ? new Date(m.enqueuedTime.getTime() + m.timeToLive)
    : undefined;

const table: readonly SystemProperty[] = [
  stringProperty('MessageId', 'messageId'),
  stringProperty('CorrelationId', 'correlationId'),
  stringProperty('Label', 'subject'),
  stringProperty('Subject', 'subject'),
  stringProperty('ContentType', 'contentType'),
  stringProperty('To', 'to'),
  stringProperty('ReplyTo', 'replyTo'),
  stringProperty('ReplyToSessionId', 'replyToSessionId'),
  stringProperty('SessionId', 'sessionId'),
  stringProperty('PartitionKey', 'partitionKey'),
  { name: 'SequenceNumber', read: (m) => m.sequenceNumber },
  { name: 'EnqueuedTimeUtc', read: (m) => m.enqueuedTime },
  { name: 'DeliveryCount', read: (m) => m.deliveryCount },
  { name: 'TimeToLive', read: (m) => m.timeToLive },
  { name: 'ScheduledEnqueueTimeUtc', read: (m) => m.scheduledEnqueueTime },
  { name: 'ExpiresAtUtc', read: expiresAt },
];

export const systemProperties: ReadonlyMap<string, SystemProperty> = new Map(
  table.map((p) => [p.name.toLowerCase(), p]),
);

/** The names an action may write, for error messages and docs. */
export const writableSystemProperties: readonly string[] = table.filter((p) => p.field).map((p) => p.name);
