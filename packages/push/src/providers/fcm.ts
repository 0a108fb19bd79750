/**
 * FCM HTTP v1: one `POST {endpoint}/v1/projects/{project}/messages:send` per delivery with an
 * OAuth access token from the service account ({@link AccessTokenSource}). The rendered body is
 * Notification Hubs' FCM v1 format, `{"message": {...}}`; the provider addresses it to the
 * channel's registration token. Errors are read from FCM's `FcmError.errorCode` first, then the
 * RPC status, then the HTTP status. A 401 drops the token and tries once more with a fresh one.
 * @module
 */
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';
import { PushError, PushErrorCode } from '../errors.ts';
import { AccessTokenSource, type ServiceAccount } from './fcm-token.ts';
import { type Agents, createAgents, exchange, retryAfterMs } from './http-exchange.ts';
import type { Delivery, DeliveryOutcome, PushProvider } from './provider.ts';
import { platformUrl, positiveInteger, transportOutcome } from './shared.ts';

export type { ServiceAccount } from './fcm-token.ts';

export interface FcmProviderOptions {
  /** The service-account key (the parsed JSON file, or its text). Required. */
  readonly serviceAccount: ServiceAccount | string;
  /** Where FCM is. @default 'https://fcm.googleapis.com' */
  readonly endpoint?: string;
  /** The OAuth token endpoint. @default the account's `token_uri`, else 'https://oauth2.googleapis.com/token' */
  readonly tokenUri?: string;
  /** Deadline of one HTTP exchange (send or token). @default 10_000 */
  readonly timeoutMs?: number;
  /** An access token is refreshed this long before it expires. @default 300_000 */
  readonly tokenRefreshMarginMs?: number;
  /** Open connections to FCM. @default 16 */
  readonly maxSockets?: number;
  /** Extra CA certificates (PEM) trusted for https endpoints. */
  readonly ca?: string | Buffer;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** FCM refuses messages over 4096 bytes. */
export const fcmMaxPayloadBytes = 4096;

const maxTokenLength = 4096;

/** An FCM provider that also tells how many token exchanges it made. */
export interface FcmProvider extends PushProvider {
  readonly tokenExchanges: number;
}

export function createFcmProvider(options: FcmProviderOptions): FcmProvider {
  const account = serviceAccountOf(options.serviceAccount);
  const endpoint = platformUrl('endpoint', options.endpoint ?? 'https://fcm.googleapis.com');
  const tokenUrl = platformUrl(
    'tokenUri',
    options.tokenUri ?? account.token_uri ?? 'https://oauth2.googleapis.com/token',
  );
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 10_000);
  const clock = options.clock ?? systemClock;
  const agents: Agents = createAgents({
    maxSockets: positiveInteger('maxSockets', options.maxSockets, 16),
    ca: options.ca,
  });
  const tokens = new AccessTokenSource({
    account,
    tokenUrl,
    agents,
    clock,
    timeoutMs,
    refreshMarginMs: positiveInteger('tokenRefreshMarginMs', options.tokenRefreshMarginMs, 300_000),
  });
  const sendUrl = new URL(
    `${endpoint.href.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`,
  );
  let closed = false;

  const send = async (body: string, signal: AbortSignal | undefined, retried: boolean): Promise<DeliveryOutcome> => {
    const got = await tokens.get();
    if ('outcome' in got) return got.outcome;
    const answer = await exchange(agents, {
      url: sendUrl,
      method: 'POST',
      headers: {
        Authorization: `Bearer ${got.token}`,
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      },
      body,
      timeoutMs,
      signal,
    });
    if (!answer.ok) return transportOutcome(answer);
    // Our access token refused (not THIRD_PARTY_AUTH_ERROR, which is about the app's APNs or Web Push credentials).
    if (answer.status === 401 && !retried && fcmError(answer.body).errorCode === undefined) {
      tokens.invalidate(got.token);
      return send(body, signal, true);
    }
    return fcmOutcome(answer.status, answer.body, answer.headers['retry-after'], clock.now());
  };

  return {
    platform: 'fcmv1',
    maxPayloadBytes: fcmMaxPayloadBytes,
    get tokenExchanges() {
      return tokens.exchanges;
    },
    validateChannel(channel) {
      registrationToken(channel);
    },
    async deliver(delivery: Delivery): Promise<DeliveryOutcome> {
      if (closed) throw new PushError(PushErrorCode.ProviderClosed, 'The FCM provider is closed.');
      let token: string;
      try {
        token = registrationToken(delivery.channel);
      } catch {
        return { kind: 'invalid', reason: PushErrorCode.InvalidChannel };
      }
      if (Buffer.byteLength(delivery.body) > fcmMaxPayloadBytes)
        return { kind: 'invalid', reason: PushErrorCode.PayloadTooLarge };
      const body = addressed(delivery, token);
      if (body === undefined)
        return {
          kind: 'invalid',
          reason: 'the body must be FCM v1 JSON: {"message": {...}} without token, topic or condition',
        };
      return send(body, delivery.signal, false);
    },
    async close() {
      closed = true;
      agents.destroy();
    },
  };
}

/** The outcome an FCM v1 answer means. */
export function fcmOutcome(
  status: number,
  body: string,
  retryAfter: string | string[] | undefined,
  now: number,
): DeliveryOutcome {
  if (status === 200) return { kind: 'delivered', status };
  const { errorCode, rpcStatus } = fcmError(body);
  const reason = errorCode ?? rpcStatus ?? `HTTP ${status}`;
  const after = retryAfterMs(retryAfter, now);
  const later = after === undefined ? {} : { retryAfterMs: after };
  switch (errorCode ?? rpcStatus) {
    case 'UNREGISTERED':
    case 'NOT_FOUND':
      return { kind: 'gone', status, reason };
    case 'INVALID_ARGUMENT':
    case 'SENDER_ID_MISMATCH':
      return { kind: 'invalid', status, reason };
    case 'QUOTA_EXCEEDED':
    case 'RESOURCE_EXHAUSTED':
      return { kind: 'throttled', status, reason, ...later };
    case 'UNAVAILABLE':
    case 'INTERNAL':
      return { kind: 'retry', status, reason, ...later };
    case 'THIRD_PARTY_AUTH_ERROR':
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return { kind: 'auth', status, reason };
  }
  if (status === 404) return { kind: 'gone', status, reason };
  if (status === 429) return { kind: 'throttled', status, reason, ...later };
  if (status >= 500) return { kind: 'retry', status, reason, ...later };
  if (status === 401 || status === 403) return { kind: 'auth', status, reason };
  return { kind: 'invalid', status, reason };
}

/** `error.details[].errorCode` of the `google.firebase.fcm.v1.FcmError` detail, and `error.status`. */
function fcmError(body: string): { errorCode?: string; rpcStatus?: string } {
  try {
    const error = (JSON.parse(body) as { error?: { status?: unknown; details?: unknown } }).error;
    const details = Array.isArray(error?.details)
      ? (error.details as { '@type'?: unknown; errorCode?: unknown }[])
      : [];
    const fcm = details.find(
      (d) => typeof d?.['@type'] === 'string' && d['@type'].endsWith('google.firebase.fcm.v1.FcmError'),
    );
    return {
      ...(typeof fcm?.errorCode === 'string' ? { errorCode: fcm.errorCode } : {}),
      ...(typeof error?.status === 'string' ? { rpcStatus: error.status } : {}),
    };
  } catch {
    return {};
  }
}

/** The body with `message.token` set to the channel, or undefined when it is not `{"message": {...}}`. */
function addressed(delivery: Delivery, token: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(delivery.body);
  } catch {
    return undefined;
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  const m = message as Record<string, unknown>;
  if ('token' in m || 'topic' in m || 'condition' in m) return undefined;
  const out: Record<string, unknown> = { ...m, token };
  if (delivery.ttlSeconds !== undefined) {
    const android = typeof m.android === 'object' && m.android !== null ? (m.android as Record<string, unknown>) : {};
    if (android.ttl === undefined) out.android = { ...android, ttl: `${delivery.ttlSeconds}s` };
  }
  return JSON.stringify({ message: out });
}

/** A registration token: a non-empty string of URL-safe characters and `:` (as FCM issues them). */
export function registrationToken(channel: unknown): string {
  if (
    typeof channel !== 'string' ||
    channel.length === 0 ||
    channel.length > maxTokenLength ||
    !/^[A-Za-z0-9_:.-]+$/.test(channel)
  ) {
    throw new PushError(
      PushErrorCode.InvalidChannel,
      'An FCM channel is a registration token: letters, digits, "_", "-", ":" and ".".',
      {
        detail: { platform: 'fcmv1', reason: 'token' },
      },
    );
  }
  return channel;
}

function serviceAccountOf(value: ServiceAccount | string | undefined): ServiceAccount {
  let account: unknown = value;
  if (typeof value === 'string') {
    try {
      account = JSON.parse(value);
    } catch {
      throw new InvalidOptionError('serviceAccount', 'is not JSON.');
    }
  }
  if (typeof account !== 'object' || account === null) throw new InvalidOptionError('serviceAccount', 'is required.');
  const a = account as Record<string, unknown>;
  for (const field of ['project_id', 'client_email', 'private_key'] as const) {
    if (typeof a[field] !== 'string' || a[field] === '')
      throw new InvalidOptionError(`serviceAccount.${field}`, 'is required.');
  }
  if (a.token_uri !== undefined && typeof a.token_uri !== 'string')
    throw new InvalidOptionError('serviceAccount.token_uri', 'must be a URL.');
  if (a.private_key_id !== undefined && typeof a.private_key_id !== 'string') {
    throw new InvalidOptionError('serviceAccount.private_key_id', 'must be a string.');
  }
  return a as unknown as ServiceAccount;
}
