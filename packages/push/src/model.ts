/**
 * The push service's domain, in Azure Notification Hubs' terms: installations (a device's channel,
 * tags and templates), notifications (native per platform, or template properties), targets
 * (broadcast, tag expression, one installation, one handle) and per-notification outcomes.
 * JSON-shaped throughout, so the Notification Hubs front can hand the SDK's bodies straight in.
 * @module
 */
import type { BrowserChannel, Platform } from './providers/provider.ts';

export type { BrowserChannel, Platform };

/** A named template inside an installation: one push per matching template on a template send. */
export interface InstallationTemplate {
  /** JSON (or XML) whose string values may hold template expressions: `$(name)`, `{'Hi ' + $(name)}` … */
  readonly body: string;
  /** Platform headers sent with the rendered body (`apns-push-type`, `TTL` …); values may hold expressions. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Tags that hold for this template only (they join the installation's tags when a send is matched). */
  readonly tags?: readonly string[];
}

/** What a caller brings to create or replace an installation (Notification Hubs' Installation JSON). */
export interface InstallationInput {
  /** The client-chosen id: 1–256 characters, no control characters. */
  readonly installationId: string;
  /** `browser` (Web Push), `fcmv1` or `apns`; anything else is PUSH_UNKNOWN_PLATFORM. */
  readonly platform: string;
  /** `{ endpoint, p256dh, auth }` for `browser`, the token string otherwise; checked by the platform's provider. */
  readonly pushChannel: unknown;
  readonly tags?: readonly string[];
  readonly templates?: Readonly<Record<string, InstallationTemplate>>;
  /** Becomes the tag `$UserId:{userId}`. */
  readonly userId?: string;
  /** ISO 8601; past it the installation is gone. @default the service's `installationTtlMs`, or never */
  readonly expirationTime?: string;
}

/** An installation as stored and returned (what `getInstallation` answers). */
export interface Installation {
  readonly installationId: string;
  readonly platform: Platform;
  readonly pushChannel: BrowserChannel | string;
  /** The caller's tags, validated, deduplicated, in the order given (without `$UserId`/`$InstallationId`). */
  readonly tags: readonly string[];
  readonly templates: Readonly<Record<string, InstallationTemplate>>;
  readonly userId?: string;
  /** ISO 8601, when the installation expires; absent: never. */
  readonly expirationTime?: string;
  /** ISO 8601, the last create, update or patch. */
  readonly lastUpdate: string;
  /** True once a platform reported the channel gone; nothing is sent to it until a new channel arrives. */
  readonly pushChannelExpired: boolean;
}

/** One JSON Patch operation as the SDK sends it (`value` is a string; template values are JSON text or objects). */
export interface InstallationPatchOperation {
  readonly op: 'add' | 'remove' | 'replace';
  /** `/tags`, `/tags/{tag}`, `/templates/{name}`, `/templates/{name}/tags`, `/userId`, `/pushChannel`. */
  readonly path: string;
  readonly value?: unknown;
}

/** A payload in one platform's own format, sent only to installations (or a handle) of that platform. */
export interface NativeNotification {
  readonly format: Platform;
  /** The bytes that reach the device: JSON for `fcmv1` and `apns`, anything for `browser`. */
  readonly body: string;
  /** Platform headers (`apns-push-type`, `apns-priority`, `TTL`, `Urgency` …). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Properties rendered into each installation template; sent only to installations that have templates. */
export interface TemplateNotification {
  readonly format: 'template';
  /** Flat property map; names are matched case-insensitively by `$(name)`. */
  readonly properties: Readonly<Record<string, string | number | boolean>>;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Notification = NativeNotification | TemplateNotification;

/** Whom a send reaches. */
export type SendTarget =
  /** Every installation (of the format's platform, or with templates for a template send). */
  | { readonly kind: 'broadcast' }
  /** Installations whose tags satisfy the expression (`(a || b) && !c`); see the limits in tags.ts. */
  | { readonly kind: 'tags'; readonly expression: string }
  /** One installation by id (the `$InstallationId:{id}` tag). */
  | { readonly kind: 'installation'; readonly installationId: string }
  /** One channel with no installation (Notification Hubs' direct send); native notifications only. */
  | { readonly kind: 'handle'; readonly platform: Platform; readonly channel: BrowserChannel | string };

export interface SendOptions {
  /** Deliver at this time (ms since the epoch or a Date), at most `maxScheduleAheadMs` ahead; cancel with its id. */
  readonly scheduledAt?: number | Date;
  /**
   * De-duplicates retried requests: a second send with the same key within `idempotencyWindowMs`
   * returns the first send's result and sends nothing (the front passes `x-ms-client-request-id`).
   */
  readonly idempotencyKey?: string;
}

/** What a send answers at once: the notification is durably queued, not yet delivered. */
export interface SendResult {
  /** Reads outcomes (`getNotificationOutcome`) and cancels a scheduled send. URL-safe, no `/`. */
  readonly notificationId: string;
  /** When it will be processed (scheduled sends), ms since the epoch. */
  readonly scheduledAt?: number;
}

/** Final and intermediate results of one notification's deliveries on one platform. */
export interface OutcomeCounts {
  /** The platform accepted the delivery. */
  success: number;
  /** The channel no longer exists; the installation was marked `pushChannelExpired`. */
  gone: number;
  /** The platform refused payload or channel for good, or the rendered payload was too large / the template failed. */
  invalid: number;
  /** Throttling answers seen (a throttled delivery is retried and also ends in one of the final counts). */
  throttled: number;
  /** Not handed to the platform before the notification's expiry (`expiryMs`, 30 minutes by default). */
  expired: number;
  /** The provider's credentials were refused, or the delivery failed in a way not retried. */
  failed: number;
}

/** Notification Hubs' `NotificationDetails` states. */
export type NotificationState =
  | 'Enqueued'
  | 'Processing'
  | 'Completed'
  | 'NoTargetFound'
  | 'Cancelled'
  | 'Abandoned'
  | 'Unknown';

/** What `getNotificationOutcomeDetails` needs. Times are ms since the epoch. */
export interface NotificationOutcome {
  readonly notificationId: string;
  readonly state: NotificationState;
  readonly format: Notification['format'];
  /** `broadcast`, the tag expression, `$InstallationId:{id}`, or `direct`. */
  readonly target: string;
  readonly enqueueTime: number;
  readonly scheduledAt?: number;
  readonly startTime?: number;
  readonly endTime?: number;
  /** Platforms deliveries went to. */
  readonly targetPlatforms: readonly Platform[];
  /** Deliveries planned (one per installation, or per installation template for template sends). */
  readonly deliveries: number;
  /** Deliveries not yet final. */
  readonly pending: number;
  readonly counts: Readonly<Partial<Record<Platform, Readonly<OutcomeCounts>>>>;
}

/** One delivery of a synchronous test send. */
export interface TestSendResult {
  readonly platform: Platform;
  readonly installationId?: string;
  /** The channel's handle: the token, or the browser endpoint. */
  readonly handle: string;
  readonly template?: string;
  /** `delivered`, `gone`, `invalid`, `throttled`, `retry`, `auth`, or `too-large` / `template-error`. */
  readonly outcome: string;
  readonly reason?: string;
}

/** A test send's answer (Notification Hubs' `NotificationOutcome`): at most `testSendLimit` deliveries, each tried once. */
export interface TestSendOutcome {
  readonly success: number;
  readonly failure: number;
  readonly results: readonly TestSendResult[];
}

/** A page of `listInstallations`. */
export interface InstallationPage {
  readonly installations: readonly Installation[];
  /** Pass as `after` for the next page; absent on the last. */
  readonly next?: string;
}
