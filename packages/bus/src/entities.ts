/**
 * Entity descriptions (queues, topics, subscriptions) with Service Bus property names, their
 * defaults, validation and path rules. Durations are milliseconds; ISO 8601 durations ("PT1M") are
 * accepted on input, as the Service Bus emulator's Config.json writes them.
 * @module
 */
import { BusError } from './errors.ts';
import type { RuleDescription } from './rules/index.ts';

/** "Never expires": Service Bus's TimeSpan.MaxValue, in milliseconds. */
export const MAX_TIME_TO_LIVE_MS = 922_337_203_685_477;

/** Input form of a duration: milliseconds or an ISO 8601 duration string such as `PT1M`. */
export type Duration = number | string;

export interface QueueOptions {
  /** How long a peek-lock receive keeps a message locked. @default 60_000 (1 min); 1 s … 5 min */
  lockDuration?: Duration;
  /** Deliveries before a message moves to the dead-letter queue. @default 10 */
  maxDeliveryCount?: number;
  /** Time to live of messages that set none (and cap for those that do). @default never */
  defaultMessageTimeToLive?: Duration;
  /** Move expired messages to the dead-letter queue instead of dropping them. @default false */
  deadLetteringOnMessageExpiration?: boolean;
  /** Drop sends whose messageId was seen within the window. @default false */
  requiresDuplicateDetection?: boolean;
  /** Duplicate detection window. @default 600_000 (10 min); 20 s … 7 days */
  duplicateDetectionHistoryTimeWindow?: Duration;
  /** Every message must carry a sessionId; receivers lock whole sessions. @default false */
  requiresSession?: boolean;
  /** Auto-forward every message to this queue or topic. @default none */
  forwardTo?: string;
  /** Auto-forward dead-lettered messages to this queue or topic. @default none */
  forwardDeadLetteredMessagesTo?: string;
  /** Largest accepted message (body + properties). @default 256 */
  maxMessageSizeInKilobytes?: number;
  /**
   * Most the queue (with its dead-letter queue) may hold, in MiB of message bytes; a send past it
   * fails with BUS_QUOTA_EXCEEDED (`QuotaExceeded` in the SDK). @default 1024; 1 … 81920
   */
  maxSizeInMegabytes?: number;
}

export interface TopicOptions {
  /** @default never */
  defaultMessageTimeToLive?: Duration;
  /** @default false */
  requiresDuplicateDetection?: boolean;
  /** @default 600_000 */
  duplicateDetectionHistoryTimeWindow?: Duration;
  /** @default 256 */
  maxMessageSizeInKilobytes?: number;
  /** Most its subscriptions (each copy counted) and their dead-letter queues may hold, in MiB. @default 1024; 1 … 81920 */
  maxSizeInMegabytes?: number;
}

export interface SubscriptionOptions {
  /** @default 60_000 */
  lockDuration?: Duration;
  /** @default 10 */
  maxDeliveryCount?: number;
  /** @default never */
  defaultMessageTimeToLive?: Duration;
  /** @default false */
  deadLetteringOnMessageExpiration?: boolean;
  /** Dead-letter messages whose filter evaluation throws. @default false */
  deadLetteringOnFilterEvaluationExceptions?: boolean;
  /** @default false */
  requiresSession?: boolean;
  /** @default none */
  forwardTo?: string;
  /** @default none */
  forwardDeadLetteredMessagesTo?: string;
  /** Rules to create instead of `$Default` (a true filter). @default [$Default] */
  rules?: RuleDescription[];
}

export interface QueueProperties {
  readonly name: string;
  readonly lockDuration: number;
  readonly maxDeliveryCount: number;
  readonly defaultMessageTimeToLive: number;
  readonly deadLetteringOnMessageExpiration: boolean;
  readonly requiresDuplicateDetection: boolean;
  readonly duplicateDetectionHistoryTimeWindow: number;
  readonly requiresSession: boolean;
  readonly forwardTo: string | undefined;
  readonly forwardDeadLetteredMessagesTo: string | undefined;
  readonly maxMessageSizeInKilobytes: number;
  readonly maxSizeInMegabytes: number;
  readonly createdAt: Date;
}

export interface TopicProperties {
  readonly name: string;
  readonly defaultMessageTimeToLive: number;
  readonly requiresDuplicateDetection: boolean;
  readonly duplicateDetectionHistoryTimeWindow: number;
  readonly maxMessageSizeInKilobytes: number;
  readonly maxSizeInMegabytes: number;
  readonly createdAt: Date;
}

export interface SubscriptionProperties {
  readonly topicName: string;
  readonly subscriptionName: string;
  readonly lockDuration: number;
  readonly maxDeliveryCount: number;
  readonly defaultMessageTimeToLive: number;
  readonly deadLetteringOnMessageExpiration: boolean;
  readonly deadLetteringOnFilterEvaluationExceptions: boolean;
  readonly requiresSession: boolean;
  readonly forwardTo: string | undefined;
  readonly forwardDeadLetteredMessagesTo: string | undefined;
  readonly createdAt: Date;
}

/** Runtime counts of a queue, subscription or dead-letter queue. */
export interface EntityRuntimeProperties {
  readonly path: string;
  readonly activeMessageCount: number;
  readonly deadLetterMessageCount: number;
  readonly scheduledMessageCount: number;
  readonly deferredMessageCount: number;
  readonly lockedMessageCount: number;
  readonly totalMessageCount: number;
}

/** Entities declared up front (config file or `createBus({ entities })`). */
export interface EntitiesConfig {
  queues?: Array<QueueOptions & { name: string }>;
  topics?: Array<TopicOptions & { name: string; subscriptions?: Array<SubscriptionOptions & { name: string }> }>;
}

const ISO_DURATION = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds from a number of ms or an ISO 8601 duration (days, hours, minutes, seconds). */
export function toMilliseconds(option: string, value: Duration): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.min(Math.round(value), MAX_TIME_TO_LIVE_MS);
  } else {
    const m = ISO_DURATION.exec(value.trim());
    if (m !== null && value.trim() !== 'P' && value.trim() !== 'PT') {
      const [d = '0', h = '0', min = '0', s = '0'] = m.slice(1).map((x) => x ?? '0');
      const ms = ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s) * 1000;
      return Math.min(Math.round(ms), MAX_TIME_TO_LIVE_MS);
    }
  }
  throw invalidOption(option, `must be milliseconds or an ISO 8601 duration, got ${JSON.stringify(value)}`);
}

export function invalidOption(option: string, message: string): BusError {
  return new BusError('BUS_INVALID_OPTION', `${option}: ${message}`, { detail: { option } });
}

function range(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(option, `must be an integer in ${min}…${max}, got ${value}`);
  }
  return value;
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(option, 'must be a boolean');
  return value;
}

const PATH = /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/;
const SHORT_NAME = /^[A-Za-z0-9$][A-Za-z0-9._\-$]*$/;

/** Validates a queue or topic name (≤ 260 chars, letters, digits, `.` `-` `_` `/`). */
export function checkEntityName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 260 ||
    !PATH.test(name) ||
    name.endsWith('/') ||
    name.includes('//') ||
    name.toLowerCase().split('/').includes('subscriptions')
  ) {
    throw new BusError('BUS_INVALID_ENTITY_NAME', `Invalid entity name ${JSON.stringify(name)}.`, {
      detail: { name },
    });
  }
  return name;
}

/** Validates a subscription or rule name (≤ 50 chars, letters, digits, `.` `-` `_`). */
export function checkShortName(name: unknown, what = 'subscription'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 50 || !SHORT_NAME.test(name)) {
    throw new BusError('BUS_INVALID_ENTITY_NAME', `Invalid ${what} name ${JSON.stringify(name)}.`, {
      detail: { name },
    });
  }
  return name;
}

function optionalPath(option: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidOption(option, 'must be an entity name');
  checkEntityName(value);
  return value;
}

export function queueProperties(name: string, o: QueueOptions, createdAt: Date): QueueProperties {
  return {
    name: checkEntityName(name),
    ...receiving(o),
    ...duplicateDetection(o),
    requiresSession: bool('requiresSession', o.requiresSession, false),
    ...forwarding(o),
    maxMessageSizeInKilobytes: maxMessageSize(o),
    maxSizeInMegabytes: maxSize(o),
    createdAt,
  };
}

export function topicProperties(name: string, o: TopicOptions, createdAt: Date): TopicProperties {
  return {
    name: checkEntityName(name),
    defaultMessageTimeToLive: defaultTimeToLive(o),
    ...duplicateDetection(o),
    maxMessageSizeInKilobytes: maxMessageSize(o),
    maxSizeInMegabytes: maxSize(o),
    createdAt,
  };
}

export function subscriptionProperties(
  topicName: string,
  name: string,
  o: SubscriptionOptions,
  createdAt: Date,
): SubscriptionProperties {
  return {
    topicName: checkEntityName(topicName),
    subscriptionName: checkShortName(name),
    ...receiving(o),
    deadLetteringOnFilterEvaluationExceptions: bool(
      'deadLetteringOnFilterEvaluationExceptions',
      o.deadLetteringOnFilterEvaluationExceptions,
      false,
    ),
    requiresSession: bool('requiresSession', o.requiresSession, false),
    ...forwarding(o),
    createdAt,
  };
}

/** Properties every entity that is received from (queue, subscription) has, with Service Bus's defaults. */
function receiving(o: QueueOptions | SubscriptionOptions) {
  return {
    lockDuration: range('lockDuration', toMilliseconds('lockDuration', o.lockDuration ?? 60_000), 1, 300_000),
    maxDeliveryCount: range('maxDeliveryCount', o.maxDeliveryCount ?? 10, 1, 2_147_483_647),
    defaultMessageTimeToLive: defaultTimeToLive(o),
    deadLetteringOnMessageExpiration: bool(
      'deadLetteringOnMessageExpiration',
      o.deadLetteringOnMessageExpiration,
      false,
    ),
  };
}

/** Duplicate detection, which every entity that is sent to (queue, topic) has. */
function duplicateDetection(o: QueueOptions | TopicOptions) {
  return {
    requiresDuplicateDetection: bool('requiresDuplicateDetection', o.requiresDuplicateDetection, false),
    duplicateDetectionHistoryTimeWindow: window(o.duplicateDetectionHistoryTimeWindow),
  };
}

function forwarding(o: QueueOptions | SubscriptionOptions) {
  return {
    forwardTo: optionalPath('forwardTo', o.forwardTo),
    forwardDeadLetteredMessagesTo: optionalPath('forwardDeadLetteredMessagesTo', o.forwardDeadLetteredMessagesTo),
  };
}

function defaultTimeToLive(o: { defaultMessageTimeToLive?: Duration }): number {
  const ttl = toMilliseconds('defaultMessageTimeToLive', o.defaultMessageTimeToLive ?? MAX_TIME_TO_LIVE_MS);
  return positive('defaultMessageTimeToLive', ttl);
}

function maxSize(o: { maxSizeInMegabytes?: number }): number {
  return range('maxSizeInMegabytes', o.maxSizeInMegabytes ?? DEFAULT_MAX_SIZE_MB, 1, 81_920);
}

/** Service Bus's default entity size (and what entities stored before the option existed get). */
export const DEFAULT_MAX_SIZE_MB = 1024;

function maxMessageSize(o: { maxMessageSizeInKilobytes?: number }): number {
  return range('maxMessageSizeInKilobytes', o.maxMessageSizeInKilobytes ?? 256, 1, 102_400);
}

function positive(option: string, ms: number): number {
  if (ms < 1) throw invalidOption(option, 'must be at least 1 ms');
  return ms;
}

function window(value: Duration | undefined): number {
  const ms = toMilliseconds('duplicateDetectionHistoryTimeWindow', value ?? 600_000);
  return range('duplicateDetectionHistoryTimeWindow', ms, 1_000, 7 * 24 * 3_600_000);
}

/** Lower-cased storage key of a queue or topic. */
export const entityKey = (name: string): string => name.toLowerCase();
/** Storage key of a subscription. */
export const subscriptionKey = (topic: string, subscription: string): string =>
  `${topic}/subscriptions/${subscription}`.toLowerCase();
/** Storage key of an entity's dead-letter queue. */
export const deadLetterKey = (key: string): string => `${key}/$deadletterqueue`;
export const DEAD_LETTER_SUFFIX = '/$deadletterqueue';
