/**
 * The contract between the push service and the platforms it delivers through (Web Push, FCM,
 * APNs). The service decides *what* to send to *which* channel (installations, tags, templates,
 * retries, expiry, outcome counts); a provider only delivers one rendered payload to one channel
 * and says how it went, in the service's own terms. Providers never retry and never touch
 * installations: a {@link DeliveryOutcome} of `gone` is what makes the service remove a channel.
 * @module
 */

/** The platforms Hubbub delivers to, named as Notification Hubs names them in installations. */
export type Platform = 'browser' | 'fcmv1' | 'apns';

/** One rendered notification for one channel. */
export interface Delivery {
  readonly platform: Platform;
  /**
   * The channel as the installation holds it: for `browser` the PushSubscription
   * (`{ endpoint, p256dh, auth }`), for `fcmv1` the registration token, for `apns` the device
   * token (hex).
   */
  readonly channel: BrowserChannel | string;
  /** The payload after template rendering: the bytes that reach the device (JSON for FCM and APNs). */
  readonly body: string;
  /** Platform headers the sender gave (`apns-push-type`, `apns-priority`, `TTL`, `Urgency`, …). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Seconds the platform may hold the message for an offline device. */
  readonly ttlSeconds?: number;
  /** Aborts the HTTP exchange (the service's timeout, or shutdown). */
  readonly signal?: AbortSignal;
}

export interface BrowserChannel {
  readonly endpoint: string;
  readonly p256dh: string;
  readonly auth: string;
}

/**
 * How one delivery went.
 * - `delivered`: the platform accepted it.
 * - `gone`: the channel no longer exists (HTTP 404/410, FCM `UNREGISTERED`, APNs `BadDeviceToken`,
 *   `Unregistered`); the service removes it from its installation.
 * - `invalid`: the platform refused this payload or channel for good (bad format, too large,
 *   bad topic); not retried, counted as invalid.
 * - `throttled`: the platform asked to slow down (429, `QUOTA_EXCEEDED`, `TooManyRequests`);
 *   retried after `retryAfterMs` when given.
 * - `retry`: a transient failure (5xx, network error, timeout); retried with backoff.
 * - `auth`: the provider's own credentials were refused (bad VAPID key, FCM token exchange failed,
 *   APNs `InvalidProviderToken`); not the channel's fault, counted as a failure and logged.
 */
export type DeliveryOutcome =
  | { readonly kind: 'delivered'; readonly status?: number }
  | { readonly kind: 'gone'; readonly status?: number; readonly reason: string }
  | { readonly kind: 'invalid'; readonly status?: number; readonly reason: string }
  | { readonly kind: 'throttled'; readonly status?: number; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'retry'; readonly status?: number; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'auth'; readonly status?: number; readonly reason: string };

export interface PushProvider {
  readonly platform: Platform;
  /**
   * Checks a channel an installation brings before it is stored; throws a PushError
   * (`PUSH_INVALID_CHANNEL`) naming what is wrong.
   */
  validateChannel(channel: unknown): void;
  /** Largest payload in bytes the platform takes (4096 for APNs and FCM, 3993 of plaintext for Web Push). */
  readonly maxPayloadBytes: number;
  /**
   * Delivers; resolves with the outcome and never rejects for a platform answer, a transport
   * failure (a `retry` outcome naming `timeout`, `aborted` or `network: CODE`) or a delivery it
   * refuses before sending (an `invalid` outcome whose reason is `PUSH_INVALID_CHANNEL`,
   * `PUSH_PAYLOAD_TOO_LARGE`, or names the bad header). Rejects only with
   * `PUSH_PROVIDER_CLOSED` after {@link close}.
   */
  deliver(delivery: Delivery): Promise<DeliveryOutcome>;
  /** Refuses new deliveries and closes the provider's connections. */
  close(): Promise<void>;
}
