/**
 * `createPushService()`: the push service with Azure Notification Hubs' model — installations
 * (create or update, JSON Patch, get, delete), tags and tag expressions, templates, and durable
 * sends (broadcast, tag expression, one installation, one handle, scheduled) whose deliveries are
 * retried with back-off, expire, remove gone channels and are counted per notification.
 *
 * The Notification Hubs REST front (`src/http/`), the CLI and the composition root all drive this
 * interface; it speaks the service's own terms (platform `apns`, not the send format `apple`).
 * The factory validates its options and starts nothing; `start()` opens the queue and begins
 * consuming jobs; `close()` lets the jobs in hand finish, then closes the queue, the repository,
 * the outcome store and the providers.
 *
 * The parts behind it: installations.ts and notifications.ts check what arrives; tags.ts and
 * templates.ts are the two small languages; targets.ts finds a send's audience; pipeline.ts runs
 * fan-out and delivery jobs, runner.ts consumes them from the queue; outcomes.ts counts.
 * @module
 */
import {
  type BackoffOptions,
  type Clock,
  type IdSource,
  InvalidOptionError,
  type Logger,
  type Part,
  randomIds,
  silentLogger,
  systemClock,
  TypedEmitter,
} from '@hubbub/kernel';
import { PushError, PushErrorCode } from './errors.ts';
import { applyPatch, normalizeInstallation, validateId } from './installations.ts';
import { createMemoryPushQueue } from './memory/queue.ts';
import { createMemoryInstallationRepository } from './memory/repository.ts';
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
import { checkNotification, checkTarget, describeTarget } from './notifications.ts';
import { createMemoryOutcomeStore, DEFAULT_WRITE_WINDOW_MS, OutcomeLedger, type OutcomeStore } from './outcomes.ts';
import { DeliveryPipeline, type FanoutJob } from './pipeline.ts';
import type { PushProvider } from './providers/provider.ts';
import type { PushQueue } from './queue.ts';
import type { InstallationRepository } from './repository.ts';
import { runJobs } from './runner.ts';
import { validateTag } from './tags.ts';

export type * from './model.ts';

export interface PushServiceOptions {
  /** One provider per platform delivered to; an installation or send for a platform without one is PUSH_PLATFORM_NOT_CONFIGURED. */
  providers: readonly PushProvider[];
  /** Where installations live. @default a new memory repository (lost on exit) */
  repository?: InstallationRepository;
  /** Where send jobs wait. @default a new memory queue: **not durable**, for tests and standalone use */
  queue?: PushQueue;
  /** Where per-notification outcomes are kept. @default a new memory store (lost on exit) */
  outcomes?: OutcomeStore;
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
  /**
   * On an outcome store that writes several records at once (`createMany`): how long a finished
   * record waits for others to be written with it. Its job completes after the write; its
   * delivery slot is free meanwhile. Longer windows make larger groups (on PGlite a group of 30
   * costs ≈ 50 µs CPU per record, one record alone ≈ 250–500). @default 20
   */
  outcomeWriteWindowMs?: number;
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

const DEFAULTS = {
  expiryMs: 30 * 60_000,
  concurrency: 8,
  deliveryConcurrency: 32,
  batchSize: 500,
  deliveryTimeoutMs: 10_000,
  maxScheduleAheadMs: 7 * 24 * 3_600_000,
  idempotencyWindowMs: 10 * 60_000,
  outcomeRetentionMs: 24 * 3_600_000,
  outcomeWriteWindowMs: DEFAULT_WRITE_WINDOW_MS,
  testSendLimit: 10,
} as const;

type NumberOption = keyof typeof DEFAULTS;

function positive(options: PushServiceOptions, name: NumberOption | 'installationTtlMs'): number | undefined {
  const value = options[name];
  if (value === undefined) return name === 'installationTtlMs' ? undefined : DEFAULTS[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(name, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

type State = 'idle' | 'running' | 'closing' | 'closed';

class PushServiceImpl extends TypedEmitter<PushServiceEvents> implements PushService {
  readonly #providers = new Map<Platform, PushProvider>();
  readonly #repository: InstallationRepository;
  readonly #queue: PushQueue;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #logger: Logger;
  readonly #backoff: BackoffOptions;
  readonly #n: Record<NumberOption, number>;
  readonly #installationTtlMs: number | undefined;
  readonly #ledger: OutcomeLedger;
  readonly #pipeline: DeliveryPipeline;
  readonly #idempotency = new Map<string, { result: SendResult; at: number }>();
  readonly #abort = new AbortController();
  #state: State = 'idle';
  #consuming: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PushServiceOptions) {
    super();
    if (!Array.isArray(options?.providers)) throw new InvalidOptionError('providers', 'must be an array of providers');
    for (const provider of options.providers) {
      if (this.#providers.has(provider.platform)) {
        throw new InvalidOptionError('providers', `two providers for platform '${provider.platform}'`);
      }
      this.#providers.set(provider.platform, provider);
    }
    this.#n = Object.fromEntries(
      (Object.keys(DEFAULTS) as NumberOption[]).map((k) => [k, positive(options, k)]),
    ) as Record<NumberOption, number>;
    this.#installationTtlMs = positive(options, 'installationTtlMs');
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? randomIds;
    this.#logger = options.logger ?? silentLogger;
    this.#backoff = { initialMs: 1_000, maxMs: 60_000, ...options.backoff };
    this.#repository = options.repository ?? createMemoryInstallationRepository();
    this.#queue = options.queue ?? createMemoryPushQueue({ clock: this.#clock });
    this.#ledger = new OutcomeLedger(options.outcomes ?? createMemoryOutcomeStore(), {
      retentionMs: this.#n.outcomeRetentionMs,
      writeWindowMs: this.#n.outcomeWriteWindowMs,
      clock: this.#clock,
    });
    this.#pipeline = new DeliveryPipeline({
      providers: this.#providers,
      repository: this.#repository,
      queue: this.#queue,
      ledger: this.#ledger,
      clock: this.#clock,
      backoff: this.#backoff,
      batchSize: this.#n.batchSize,
      deliveryConcurrency: this.#n.deliveryConcurrency,
      deliveryTimeoutMs: this.#n.deliveryTimeoutMs,
      events: {
        completed: (outcome) => this.emit('notification:completed', outcome),
        failed: (event) => this.emit('delivery:failed', event),
        retry: (event) => this.emit('delivery:retry', event),
        channelRemoved: (event) => this.emit('channel:removed', event),
      },
    });
  }

  /** Opens the queue and begins consuming; a second call shares the first's promise. */
  start(): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'running') return Promise.reject(this.#closed());
    this.#starting ??= this.#open().catch((err: unknown) => {
      this.#starting = undefined;
      throw err;
    });
    return this.#starting;
  }

  async #open(): Promise<void> {
    await this.#queue.open();
    if (this.#state !== 'idle') throw this.#closed(); // closed while the queue opened
    this.#state = 'running';
    this.#consuming = runJobs(
      {
        queue: this.#queue,
        pipeline: this.#pipeline,
        concurrency: this.#n.concurrency,
        clock: this.#clock,
        backoff: this.#backoff,
        logger: this.#logger,
        onError: (error) => this.emit('error', error),
      },
      this.#abort.signal,
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async upsertInstallation(input: InstallationInput): Promise<Installation> {
    this.#running();
    const installation = normalizeInstallation(input, this.#context());
    await this.#repository.put(installation);
    return installation;
  }

  async patchInstallation(
    installationId: string,
    operations: readonly InstallationPatchOperation[],
  ): Promise<Installation> {
    this.#running();
    const current = await this.#live(validateId(installationId, 'installationId'));
    if (current === undefined) throw notFound(installationId);
    const patched = applyPatch(current, operations);
    const next = normalizeInstallation(patched, this.#context());
    const sameChannel = JSON.stringify(next.pushChannel) === JSON.stringify(current.pushChannel);
    const installation: Installation = {
      ...next,
      pushChannelExpired: sameChannel && current.pushChannelExpired && patched.pushChannelExpired !== false,
    };
    await this.#repository.put(installation);
    return installation;
  }

  async getInstallation(installationId: string): Promise<Installation | undefined> {
    this.#running();
    return this.#live(validateId(installationId, 'installationId'));
  }

  async deleteInstallation(installationId: string): Promise<boolean> {
    this.#running();
    return this.#repository.delete(validateId(installationId, 'installationId'));
  }

  async listInstallations(options: ListInstallationsOptions = {}): Promise<InstallationPage> {
    this.#running();
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1_000) {
      throw new PushError(PushErrorCode.InvalidInstallation, 'limit must be 1 to 1000.', {
        status: 400,
        detail: { field: 'limit' },
      });
    }
    const tag =
      options.tag === undefined ? undefined : options.tag.startsWith('$') ? options.tag : validateTag(options.tag);
    const installations: Installation[] = [];
    const now = this.#clock.now();
    let more = false;
    for await (const installation of this.#repository.find({
      ...(tag === undefined ? {} : { tags: [tag] }),
      ...(options.platform === undefined ? {} : { platform: options.platform }),
      ...(options.after === undefined ? {} : { after: options.after }),
    })) {
      if (expired(installation, now)) continue;
      if (installations.length === limit) {
        more = true;
        break;
      }
      installations.push(installation);
    }
    const last = installations.at(-1);
    return more && last !== undefined ? { installations, next: last.installationId } : { installations };
  }

  async send(notification: Notification, target: SendTarget, options: SendOptions = {}): Promise<SendResult> {
    this.#running();
    const checked = checkNotification(notification, this.#providers);
    const to = checkTarget(target, checked, this.#providers);
    const now = this.#clock.now();
    const scheduledAt = this.#scheduledAt(options.scheduledAt, now);
    const key = options.idempotencyKey;
    if (key !== undefined) {
      this.#sweepIdempotency(now);
      const seen = this.#idempotency.get(key);
      if (seen !== undefined) return seen.result;
    }
    const notificationId = this.#ids.next();
    const result: SendResult = scheduledAt === undefined ? { notificationId } : { notificationId, scheduledAt };
    if (key !== undefined) this.#idempotency.set(key, { result, at: now });
    await this.#ledger.create({
      notificationId,
      format: checked.format,
      target: describeTarget(to),
      enqueueTime: now,
      ...(scheduledAt === undefined ? {} : { scheduledAt }),
    });
    const job: FanoutJob = {
      type: 'fanout',
      notificationId,
      notification: checked,
      target: to,
      enqueueTime: now,
      expiresAt: (scheduledAt ?? now) + this.#n.expiryMs,
    };
    try {
      const jobId = await this.#queue.enqueue(
        job as unknown as Record<string, unknown>,
        scheduledAt === undefined ? {} : { scheduledAt },
      );
      // Only a scheduled send can be cancelled, so only its job id is stored.
      if (scheduledAt !== undefined) await this.#ledger.setJobId(notificationId, jobId);
    } catch (err) {
      if (key !== undefined) this.#idempotency.delete(key);
      await this.#ledger.cancel(notificationId).catch(() => {});
      throw err;
    }
    this.emit(
      'notification:enqueued',
      scheduledAt === undefined ? { notificationId } : { notificationId, scheduledAt },
    );
    return result;
  }

  async testSend(notification: Notification, target: SendTarget): Promise<TestSendOutcome> {
    this.#running();
    const checked = checkNotification(notification, this.#providers);
    return this.#pipeline.testSend(checked, checkTarget(target, checked, this.#providers), this.#n.testSendLimit);
  }

  async cancelScheduled(notificationId: string): Promise<boolean> {
    this.#running();
    const jobId = await this.#ledger.cancellable(notificationId);
    if (jobId === undefined || !(await this.#queue.cancel(jobId))) return false;
    await this.#ledger.cancel(notificationId);
    return true;
  }

  async getNotificationOutcome(notificationId: string): Promise<NotificationOutcome | undefined> {
    this.#running();
    return this.#ledger.get(notificationId);
  }

  #context() {
    return { providers: this.#providers, now: this.#clock.now(), installationTtlMs: this.#installationTtlMs };
  }

  /** The installation unless unknown or expired; an expired one read here is deleted. */
  async #live(installationId: string): Promise<Installation | undefined> {
    const installation = await this.#repository.get(installationId);
    if (installation === undefined || !expired(installation, this.#clock.now())) return installation;
    await this.#repository.delete(installationId);
    return undefined;
  }

  #scheduledAt(value: SendOptions['scheduledAt'], now: number): number | undefined {
    if (value === undefined) return undefined;
    const at = value instanceof Date ? value.getTime() : value;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new PushError(PushErrorCode.InvalidSchedule, 'scheduledAt must be a time.', {
        status: 400,
        detail: { maxAheadMs: this.#n.maxScheduleAheadMs },
      });
    }
    if (at - now > this.#n.maxScheduleAheadMs) {
      throw new PushError(
        PushErrorCode.InvalidSchedule,
        `A send may be scheduled at most ${this.#n.maxScheduleAheadMs} ms ahead.`,
        { status: 400, detail: { maxAheadMs: this.#n.maxScheduleAheadMs } },
      );
    }
    return Math.max(at, now);
  }

  #sweepIdempotency(now: number): void {
    for (const [key, { at }] of this.#idempotency) {
      if (now - at <= this.#n.idempotencyWindowMs) break;
      this.#idempotency.delete(key);
    }
  }

  #running(): void {
    if (this.#state !== 'running') throw this.#closed();
  }

  #closed(): PushError {
    return new PushError(
      PushErrorCode.Closed,
      this.#state === 'idle' ? 'The push service is not started.' : 'The push service is closed.',
      { status: 503 },
    );
  }

  async #shutdown(): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'closing';
    this.#abort.abort();
    if (wasRunning) await this.#consuming;
    await this.#queue.close();
    await this.#repository.close();
    await this.#ledger.close();
    await Promise.all([...this.#providers.values()].map((p) => p.close()));
    this.#state = 'closed';
  }
}

function expired(installation: Installation, now: number): boolean {
  return installation.expirationTime !== undefined && Date.parse(installation.expirationTime) <= now;
}

function notFound(installationId: string): PushError {
  return new PushError(PushErrorCode.InstallationNotFound, `No installation '${installationId.slice(0, 80)}'.`, {
    status: 404,
    detail: { installationId: installationId.slice(0, 256) },
  });
}
