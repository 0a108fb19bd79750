/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and `aes128gcm` message encryption (RFC 8291/8188):
 * the payload is encrypted for the subscription with the `web-push` library, signed for the push
 * service's origin (one cached JWT per origin), and POSTed to the subscription's endpoint over a
 * keep-alive agent. The answer becomes a {@link DeliveryOutcome}: 201 delivered, 404/410 gone,
 * 400/413 and other 4xx invalid, 429 throttled, 401/403 auth, 5xx and transport failures retry.
 * @module
 */
import { createPublicKey } from 'node:crypto';
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';
import webpush from 'web-push';
import { PushError, PushErrorCode } from '../errors.ts';
import { type Agents, createAgents, exchange, isLoopbackHost, retryAfterMs } from './http-exchange.ts';
import type { BrowserChannel, Delivery, DeliveryOutcome, PushProvider } from './provider.ts';
import { header, positiveInteger, transportOutcome } from './shared.ts';
import { checkVapidDetails, decodeB64url, type VapidDetails, VapidSigner } from './vapid.ts';

export interface WebPushProviderOptions {
  /** The hub's VAPID keys and contact subject (required). Make keys with `generateVapidKeys()`. */
  readonly vapid: VapidDetails;
  /** Seconds a push service may keep a message for an offline browser when the delivery names none. @default 86_400 */
  readonly defaultTtlSeconds?: number;
  /** Lifetime of the VAPID JWT, at most 24 h (RFC 8292); it is re-signed at half of it. @default 43_200 */
  readonly vapidLifetimeSeconds?: number;
  /** Deadline of one POST, answer included; past it the outcome is `retry` (`timeout`). @default 10_000 */
  readonly timeoutMs?: number;
  /** Open connections per push-service origin. @default 16 */
  readonly maxSocketsPerOrigin?: number;
  /** Extra CA certificates (PEM) trusted for https endpoints, e.g. a local test CA. */
  readonly ca?: string | Buffer;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * The largest plaintext one aes128gcm record carries within the 4096 bytes a push service must
 * accept: 4096 − 86 (header) − 16 (tag) − 1 (padding delimiter) (RFC 8291 §4).
 */
export const webPushMaxPayloadBytes = 3993;

const urgencies = new Set(['very-low', 'low', 'normal', 'high']);
const maxEndpointLength = 2048;

export function createWebPushProvider(options: WebPushProviderOptions): PushProvider {
  checkVapidDetails('vapid', options.vapid);
  const lifetime = positiveInteger('vapidLifetimeSeconds', options.vapidLifetimeSeconds, 43_200);
  if (lifetime > 86_400) throw new InvalidOptionError('vapidLifetimeSeconds', 'must be at most 86400 (RFC 8292).');
  const defaultTtl = nonNegative('defaultTtlSeconds', options.defaultTtlSeconds, 86_400);
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 10_000);
  const clock = options.clock ?? systemClock;
  const signer = new VapidSigner(options.vapid, clock, lifetime);
  const agents: Agents = createAgents({
    maxSockets: positiveInteger('maxSocketsPerOrigin', options.maxSocketsPerOrigin, 16),
    ca: options.ca,
  });
  let closed = false;

  return {
    platform: 'browser',
    maxPayloadBytes: webPushMaxPayloadBytes,
    validateChannel(channel) {
      browserChannel(channel);
    },
    async deliver(delivery: Delivery): Promise<DeliveryOutcome> {
      if (closed) throw new PushError(PushErrorCode.ProviderClosed, 'The Web Push provider is closed.');
      let channel: BrowserChannel & { url: URL };
      try {
        channel = browserChannel(delivery.channel);
      } catch {
        return { kind: 'invalid', reason: PushErrorCode.InvalidChannel };
      }
      const size = Buffer.byteLength(delivery.body);
      if (size > webPushMaxPayloadBytes) return { kind: 'invalid', reason: PushErrorCode.PayloadTooLarge };
      const headers = pushHeaders(delivery, defaultTtl);
      if (typeof headers === 'string') return { kind: 'invalid', reason: headers };
      let body: Buffer;
      try {
        body = webpush.encrypt(channel.p256dh, channel.auth, delivery.body, 'aes128gcm').cipherText;
      } catch {
        return { kind: 'invalid', reason: PushErrorCode.InvalidChannel }; // keys the checks let through but ECDH refused
      }
      const answer = await exchange(agents, {
        url: channel.url,
        method: 'POST',
        headers: {
          ...headers,
          Authorization: signer.authorization(channel.url.origin),
          'Content-Encoding': 'aes128gcm',
          'Content-Type': 'application/octet-stream',
          'Content-Length': body.length,
        },
        body,
        timeoutMs,
        signal: delivery.signal,
      });
      if (!answer.ok) return transportOutcome(answer);
      return webPushOutcome(answer.status, answer.headers['retry-after'], clock.now());
    },
    async close() {
      closed = true;
      agents.destroy();
    },
  };
}

/** The outcome an RFC 8030 push service's status code means. */
export function webPushOutcome(
  status: number,
  retryAfter: string | string[] | undefined,
  now: number,
): DeliveryOutcome {
  const reason = `HTTP ${status}`;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 404 || status === 410) return { kind: 'gone', status, reason };
  if (status === 401 || status === 403) return { kind: 'auth', status, reason };
  const after = retryAfterMs(retryAfter, now);
  if (status === 429)
    return after === undefined
      ? { kind: 'throttled', status, reason }
      : { kind: 'throttled', status, reason, retryAfterMs: after };
  if (status >= 500)
    return after === undefined
      ? { kind: 'retry', status, reason }
      : { kind: 'retry', status, reason, retryAfterMs: after };
  return { kind: 'invalid', status, reason };
}

/**
 * Checks a PushSubscription as an installation holds it: an https endpoint (http only on a
 * loopback host), `p256dh` an uncompressed P-256 point of 65 bytes on the curve, `auth` 16 bytes,
 * both base64url. Throws PUSH_INVALID_CHANNEL with `detail.reason`.
 */
export function browserChannel(value: unknown): BrowserChannel & { url: URL } {
  if (typeof value !== 'object' || value === null)
    throw invalid('not-an-object', 'The channel must be a PushSubscription object.');
  const { endpoint, p256dh, auth } = value as Record<string, unknown>;
  if (typeof endpoint !== 'string' || endpoint.length > maxEndpointLength) {
    throw invalid('endpoint', `The endpoint must be a URL of at most ${maxEndpointLength} characters.`);
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid('endpoint', 'The endpoint is not a URL.');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw invalid('endpoint', 'The endpoint must be https (plain http only for a loopback host).');
  }
  if (url.username !== '' || url.password !== '') throw invalid('endpoint', 'The endpoint must not carry credentials.');
  const key = decodeB64url(p256dh);
  if (key?.length !== 65 || key[0] !== 4 || !onCurve(key)) {
    throw invalid('p256dh', 'p256dh must be an uncompressed P-256 public key (65 bytes), base64url.');
  }
  if (decodeB64url(auth)?.length !== 16) throw invalid('auth', 'auth must be 16 bytes, base64url.');
  return { endpoint, p256dh: p256dh as string, auth: auth as string, url };
}

/**
 * Keys (their 65 bytes) already found on the curve. Every delivery checks its channel, and the
 * check (an EC public key import) cost as much as a third of the encryption: a subscription's key
 * never changes, so a key checked once is not checked again. Bounded; the oldest go first.
 */
const pointsOnCurve = new Set<string>();
const maxPointsRemembered = 10_000;

function onCurve(key: Buffer): boolean {
  const raw = key.toString('latin1');
  if (pointsOnCurve.has(raw)) return true;
  const x = key.subarray(1, 33).toString('base64url');
  const y = key.subarray(33).toString('base64url');
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  } catch {
    return false;
  }
  if (pointsOnCurve.size >= maxPointsRemembered) pointsOnCurve.delete(pointsOnCurve.values().next().value as string);
  pointsOnCurve.add(raw);
  return true;
}

/** TTL, Urgency and Topic for the POST, or the reason the delivery's values are refused. */
function pushHeaders(delivery: Delivery, defaultTtl: number): Record<string, string> | string {
  const ttlText = header(delivery.headers, 'ttl');
  const ttl = delivery.ttlSeconds ?? (ttlText === undefined ? defaultTtl : Number(ttlText));
  if (!Number.isInteger(ttl) || ttl < 0) return 'TTL must be a whole number of seconds';
  const out: Record<string, string> = { TTL: String(ttl) };
  const urgency = header(delivery.headers, 'urgency');
  if (urgency !== undefined) {
    if (!urgencies.has(urgency)) return 'Urgency must be very-low, low, normal or high';
    out.Urgency = urgency;
  }
  const topic = header(delivery.headers, 'topic');
  if (topic !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return 'Topic must be 1 to 32 base64url characters';
    out.Topic = topic;
  }
  return out;
}

function invalid(reason: string, message: string): PushError {
  return new PushError(PushErrorCode.InvalidChannel, message, { detail: { platform: 'browser', reason } });
}

function nonNegative(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new InvalidOptionError(option, 'must be a whole number ≥ 0.');
  return value;
}
