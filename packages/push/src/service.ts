/**
 * `createPushService()`: the push service with Azure Notification Hubs' model — installations
 * (create or update, JSON Patch, get, delete), tags and tag expressions, templates, and durable
 * sends (broadcast, tag expression, one installation, one handle, scheduled) whose deliveries are
 * retried with back-off, expire, remove gone channels and are counted per notification.
 *
 * The Notification Hubs REST front (`src/http/`), the CLI and the composition root all drive this
 * interface; it speaks the service's own terms (platform `apns`, not the send format `apple`).
 * The factory validates its options and starts nothing; `start()` opens the repository and the
 * queue and begins consuming jobs.
 * @module
 */
import { type BackoffOptions, type Clock, type IdSource, type Logger, type Part, TypedEmitter } from '@hubbub/kernel';
import { PushError, PushErrorCode } from './errors.ts';
import type {
  Installation,
  InstallationInput,
  InstallationPage,
  InstallationPatchOperation,
  Notification,
  NotificationOutcome,
  Platform,
  SendOptions,
  SendResult,
  SendTarget,
  TestSendOutcome,
} from './model.ts';
import type { PushProvider } from './providers/provider.ts';
import type { PushQueue } from './queue.ts';
import type { InstallationRepository } from './repository.ts';

export type * from './model.ts';

export interface PushServiceOptions {
  /** One provider per platform delivered to; an installation or send for a platform without one is PUSH_PLATFORM_NOT_CONFIGURED. */
  providers: readonly PushProvider[];
  /** Where installations live. @default a new memory repository (lost on exit) */
  repository?: InstallationRepository;
  /** Where send jobs wait. @default a new memory queue: **not durable**, for tests and standalone use */
  queue?: PushQueue;
  /** A delivery not handed to its platform this long after the send counts `expired`. @default 1_800_000 (30 min) */
  expiryMs?: number;
  /** Delay before each retry of a `retry` outcome (a `throttled` one waits at least its `retryAfterMs`). @default { initialMs: 1_000, maxMs: 60_000 } */
  backoff?: BackoffOptions;
  /** Jobs processed at once. @default 8 */
  concurrency?: number;
  /** Deliveries in flight at once within one job. @default 32 */
  deliveryConcurrency?: number;
  /** Deliveries per delivery job a fan-out is cut into. @default 500 */
  batchSize?: number;
  /** A provider call is aborted (and retried) after this long. @default 10_000 */
  deliveryTimeoutMs?: number;
  /** How far ahead a send may be scheduled. @default 604_800_000 (7 days) */
  maxScheduleAheadMs?: number;
  /** Lifetime given to installations that bring no `expirationTime`. @default none: they never expire */
  installationTtlMs?: number;
  /** How long an `idempotencyKey` maps to its first send. @default 600_000 (10 min) */
  idempotencyWindowMs?: number;
  /** How long a finished notification's outcome stays readable. @default 86_400_000 (1 day) */
  outcomeRetentionMs?: number;
  /** Deliveries a test send makes at most. @default 10 */
  testSendLimit?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Notification ids. @default randomIds */
  ids?: IdSource;
  /** @default silentLogger */
  logger?: Logger;
}

/** A delivery that ended without success. */
export interface DeliveryFailedEvent {
  readonly notificationId: string;
  readonly platform: Platform;
  readonly installationId?: string;
  readonly template?: string;
  /** Which count it went to. */
  readonly outcome: 'gone' | 'invalid' | 'expired' | 'failed';
  readonly reason: string;
}

export interface DeliveryRetryEvent {
  readonly notificationId: string;
  readonly platform: Platform;
  /** Deliveries rescheduled together. */
  readonly count: number;
  /** The attempt the retry will be (2 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

export interface ChannelRemovedEvent {
  readonly installationId: string;
  readonly platform: Platform;
  readonly reason: string;
}

export type PushServiceEvents = {
  /** A send was accepted and its first job stored. */
  'notification:enqueued': (event: { notificationId: string; scheduledAt?: number }) => void;
  /** Every delivery of a notification is final (or none was found): its outcome as `getNotificationOutcome` reads it. */
  'notification:completed': (outcome: NotificationOutcome) => void;
  'delivery:failed': (event: DeliveryFailedEvent) => void;
  'delivery:retry': (event: DeliveryRetryEvent) => void;
  /** A platform reported a channel gone; the installation is now `pushChannelExpired`. */
  'channel:removed': (event: ChannelRemovedEvent) => void;
  /** A background failure (queue or repository); the job concerned is abandoned and handed out again. */
  error: (error: Error) => void;
};

export interface ListInstallationsOptions {
  /** Only installations carrying this tag (or `$UserId:…` / `$InstallationId:…`). */
  readonly tag?: string;
  readonly platform?: Platform;
  /** The `next` of the previous page. */
  readonly after?: string;
  /** @default 100, at most 1000 */
  readonly limit?: number;
}

/**
 * The push service. Every method validates its input and rejects with a {@link PushError} whose
 * code says what was wrong (PUSH_UNKNOWN_PLATFORM, PUSH_INVALID_CHANNEL, PUSH_INVALID_TAG,
 * PUSH_TAG_EXPRESSION_INVALID with `detail.position`, PUSH_TAG_EXPRESSION_TOO_COMPLEX,
 * PUSH_TEMPLATE_…, PUSH_PAYLOAD_TOO_LARGE …). Calls before `start()` or after `close()` reject
 * with PUSH_CLOSED.
 */
export interface PushService extends Part<PushServiceEvents> {
  /** Creates or replaces an installation (Notification Hubs' idempotent PUT); templates are checked here. */
  upsertInstallation(input: InstallationInput): Promise<Installation>;
  /** Applies JSON Patch operations in order, all or nothing; PUSH_INSTALLATION_NOT_FOUND for an unknown id. */
  patchInstallation(installationId: string, operations: readonly InstallationPatchOperation[]): Promise<Installation>;
  /** The installation, or undefined when unknown or expired. */
  getInstallation(installationId: string): Promise<Installation | undefined>;
  /** True when it existed. */
  deleteInstallation(installationId: string): Promise<boolean>;
  /** Installations in id order, a page at a time. */
  listInstallations(options?: ListInstallationsOptions): Promise<InstallationPage>;
  /**
   * Queues a notification for `target` (now, or at `options.scheduledAt`) and resolves with its id
   * once the job is stored. A native body over its provider's `maxPayloadBytes` is refused here
   * with PUSH_PAYLOAD_TOO_LARGE; a rendered template over it counts `invalid`.
   */
  send(notification: Notification, target: SendTarget, options?: SendOptions): Promise<SendResult>;
  /** Delivers at once to at most `testSendLimit` targets, each tried once, and answers every outcome (not queued, not counted). */
  testSend(notification: Notification, target: SendTarget): Promise<TestSendOutcome>;
  /** Cancels a scheduled send not yet begun; false when there is none (unknown, not scheduled, or already processing). */
  cancelScheduled(notificationId: string): Promise<boolean>;
  /** The notification's state and counts, or undefined when unknown (or past `outcomeRetentionMs`). */
  getNotificationOutcome(notificationId: string): Promise<NotificationOutcome | undefined>;
}

/** Makes the push service; validates `options` (KERNEL_INVALID_OPTION) and starts nothing. */
export function createPushService(options: PushServiceOptions): PushService {
  return new PushServiceImpl(options);
}

const pending = (): Promise<never> =>
  Promise.reject(new PushError(PushErrorCode.Closed, 'The push service is not implemented yet.', { status: 503 }));

/** This first commit holds the lifecycle only, so the Notification Hubs front can code against the interface. */
class PushServiceImpl extends TypedEmitter<PushServiceEvents> implements PushService {
  readonly options: PushServiceOptions;

  constructor(options: PushServiceOptions) {
    super();
    this.options = options;
  }

  async start(): Promise<void> {}
  async close(): Promise<void> {}
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
  upsertInstallation = pending;
  patchInstallation = pending;
  getInstallation = pending;
  deleteInstallation = pending;
  listInstallations = pending;
  send = pending;
  testSend = pending;
  cancelScheduled = pending;
  getNotificationOutcome = pending;
}
