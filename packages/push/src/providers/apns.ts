/**
 * APNs over HTTP/2 (`node:http2`): one session to the endpoint, shared by every delivery as
 * concurrent streams, replaced after a GOAWAY, an error or a close (streams in flight finish on
 * the old one); `POST /3/device/{hex token}` with the provider JWT ({@link ProviderTokens}) and
 * the `apns-*` headers. Apple's `reason` decides the outcome; ExpiredProviderToken signs a new
 * JWT and tries once more. A local `http://` endpoint (h2c) is allowed only on loopback, for tests.
 * @module
 */

import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { type Clock, InvalidOptionError, systemClock } from '@hubbub/kernel';
import { PushError, PushErrorCode } from '../errors.ts';
import { ProviderTokens } from './apns-token.ts';
import { maxAnswerBytes } from './http-exchange.ts';
import type { Delivery, DeliveryOutcome, PushProvider } from './provider.ts';
import { header, platformUrl, positiveInteger } from './shared.ts';

export interface ApnsProviderOptions {
  /** The token-signing key from Apple's developer account (.p8 PEM, P-256), or its KeyObject. Required. */
  readonly signingKey: string | KeyObject;
  /** The key's 10-character id (the JWT's `kid`). Required. */
  readonly keyId: string;
  /** The 10-character team id (the JWT's `iss`). Required. */
  readonly teamId: string;
  /** `apns-topic` when the delivery names none: the app's bundle id. Required. */
  readonly topic: string;
  /** `production`, `sandbox`, or a URL (`https://…`, or `http://` h2c on a loopback host for tests). @default 'production' */
  readonly endpoint?: string;
  /** The provider JWT is signed anew after this long (20 to 50 minutes). @default 2_400_000 (40 min) */
  readonly tokenRefreshMs?: number;
  /** Deadline of one request, answer included; past it the outcome is `retry` (`timeout`). @default 10_000 */
  readonly timeoutMs?: number;
  /** An idle session is closed after this long. @default 300_000 */
  readonly idleTimeoutMs?: number;
  /** Extra CA certificates (PEM) trusted for an https endpoint. */
  readonly ca?: string | Buffer;
  /** @default systemClock */
  readonly clock?: Clock;
}

export const apnsMaxPayloadBytes = 4096;

const endpoints: Record<string, string> = {
  production: 'https://api.push.apple.com',
  sandbox: 'https://api.sandbox.push.apple.com',
};
const pushTypes = new Set([
  'alert',
  'background',
  'location',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'pushtotalk',
  'widgets',
  'controls',
]);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ApnsProvider extends PushProvider {
  /** Provider JWTs signed so far. */
  readonly tokensSigned: number;
  /** HTTP/2 sessions opened so far. */
  readonly sessionsOpened: number;
}

type Answer =
  | { status: number; reason: string | undefined }
  | { failure: 'timeout' | 'aborted' | 'network'; detail?: string };

export function createApnsProvider(options: ApnsProviderOptions): ApnsProvider {
  const origin = platformUrl(
    'endpoint',
    endpoints[options.endpoint ?? 'production'] ?? (options.endpoint as string),
  ).origin;
  if (typeof options.topic !== 'string' || options.topic === '')
    throw new InvalidOptionError('topic', 'is required (the bundle id).');
  const refreshMs = positiveInteger('tokenRefreshMs', options.tokenRefreshMs, 2_400_000);
  if (refreshMs < 1_200_000 || refreshMs > 3_000_000)
    throw new InvalidOptionError('tokenRefreshMs', 'must be between 20 and 50 minutes.');
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 10_000);
  const idleTimeoutMs = positiveInteger('idleTimeoutMs', options.idleTimeoutMs, 300_000);
  const clock = options.clock ?? systemClock;
  const tokens = new ProviderTokens(options.signingKey, options.keyId, options.teamId, clock, refreshMs);
  let session: ClientHttp2Session | undefined;
  let sessionsOpened = 0;
  let closed = false;
  const open = new Set<ClientHttp2Session>();

  const currentSession = (): ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const s = connect(origin, options.ca === undefined ? {} : { ca: options.ca });
    sessionsOpened++;
    open.add(s);
    const retire = () => {
      if (session === s) session = undefined;
    };
    s.on('error', retire); // the streams in flight get their own errors
    s.on('goaway', () => {
      retire();
      s.close(); // lets streams below lastStreamID finish
    });
    s.on('close', () => {
      retire();
      open.delete(s);
    });
    s.setTimeout(idleTimeoutMs, () => s.close());
    session = s;
    return s;
  };

  const post = (
    path: string,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<Answer> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve({ failure: 'aborted' });
      let stream: ClientHttp2Stream;
      const current = currentSession();
      try {
        stream = current.request({ ':method': 'POST', ':path': path, ...headers }, { endStream: false });
      } catch (error) {
        // A session that cannot take a stream (closing, out of stream ids) is replaced for the next one.
        if (session === current) session = undefined;
        current.close();
        return resolve({ failure: 'network', detail: (error as { code?: string }).code ?? 'request' });
      }
      let status = 0;
      let text = '';
      let settled = false;
      const finish = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        resolve(answer);
      };
      const onAbort = () => finish({ failure: 'aborted' });
      const timer = setTimeout(() => finish({ failure: 'timeout' }), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.setEncoding('utf8');
      stream.on('response', (h) => {
        status = Number(h[':status']);
      });
      stream.on('data', (chunk: string) => {
        if (text.length < maxAnswerBytes) text += chunk;
      });
      stream.on('error', (error: Error & { code?: string }) =>
        finish({ failure: 'network', detail: error.code ?? 'stream' }),
      );
      stream.on('close', () => {
        if (status === 0) finish({ failure: 'network', detail: `stream closed (${stream.rstCode})` });
        else finish({ status, reason: reasonOf(text) });
      });
      stream.end(body);
    });

  const send = async (
    path: string,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal | undefined,
    retried: boolean,
  ): Promise<DeliveryOutcome> => {
    let jwt: string;
    try {
      jwt = await tokens.get();
    } catch {
      return { kind: 'auth', reason: 'the provider token could not be signed' };
    }
    const answer = await post(path, { ...headers, authorization: `bearer ${jwt}` }, body, signal);
    if ('failure' in answer)
      return {
        kind: 'retry',
        reason: answer.detail === undefined ? answer.failure : `${answer.failure}: ${answer.detail}`,
      };
    if (answer.reason === 'ExpiredProviderToken' && !retried) {
      tokens.expire(jwt);
      return send(path, headers, body, signal, true);
    }
    return apnsOutcome(answer.status, answer.reason);
  };

  return {
    platform: 'apns',
    maxPayloadBytes: apnsMaxPayloadBytes,
    get tokensSigned() {
      return tokens.signed;
    },
    get sessionsOpened() {
      return sessionsOpened;
    },
    validateChannel(channel) {
      deviceToken(channel);
    },
    async deliver(delivery: Delivery): Promise<DeliveryOutcome> {
      if (closed) throw new PushError(PushErrorCode.ProviderClosed, 'The APNs provider is closed.');
      let token: string;
      try {
        token = deviceToken(delivery.channel);
      } catch {
        return { kind: 'invalid', reason: PushErrorCode.InvalidChannel };
      }
      if (Buffer.byteLength(delivery.body) > apnsMaxPayloadBytes)
        return { kind: 'invalid', reason: PushErrorCode.PayloadTooLarge };
      const headers = apnsHeaders(delivery, options.topic, clock.now());
      if (typeof headers === 'string') return { kind: 'invalid', reason: headers };
      return send(`/3/device/${token}`, headers, delivery.body, delivery.signal, false);
    },
    async close() {
      closed = true;
      session = undefined;
      await Promise.all(
        [...open].map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.destroyed) return resolve();
              const force = setTimeout(() => s.destroy(), 1_000); // streams still open after a second are cut
              s.once('close', () => {
                clearTimeout(force);
                resolve();
              });
              s.close();
            }),
        ),
      );
    },
  };
}

/** The outcome an APNs status and `reason` mean. */
export function apnsOutcome(status: number, reason: string | undefined): DeliveryOutcome {
  if (status === 200) return { kind: 'delivered', status };
  const why = reason ?? `HTTP ${status}`;
  const kind = reason === undefined ? undefined : reasonKinds[reason];
  if (kind !== undefined) return { kind, status, reason: why };
  if (status === 410) return { kind: 'gone', status, reason: why };
  if (status === 429) return { kind: 'throttled', status, reason: why };
  if (status >= 500) return { kind: 'retry', status, reason: why };
  if (status === 403) return { kind: 'auth', status, reason: why };
  return { kind: 'invalid', status, reason: why };
}

const reasonKinds: Record<string, 'gone' | 'invalid' | 'throttled' | 'retry' | 'auth'> = {
  BadDeviceToken: 'gone',
  Unregistered: 'gone',
  ExpiredToken: 'gone',
  BadCollapseId: 'invalid',
  BadExpirationDate: 'invalid',
  BadMessageId: 'invalid',
  BadPriority: 'invalid',
  BadTopic: 'invalid',
  DeviceTokenNotForTopic: 'invalid',
  DuplicateHeaders: 'invalid',
  InvalidPushType: 'invalid',
  MissingDeviceToken: 'invalid',
  MissingTopic: 'invalid',
  PayloadEmpty: 'invalid',
  TopicDisallowed: 'invalid',
  PayloadTooLarge: 'invalid',
  BadPath: 'invalid',
  MethodNotAllowed: 'invalid',
  BadCertificate: 'auth',
  BadCertificateEnvironment: 'auth',
  ExpiredProviderToken: 'auth',
  Forbidden: 'auth',
  InvalidProviderToken: 'auth',
  MissingProviderToken: 'auth',
  UnrelatedKeyIdInToken: 'auth',
  TooManyProviderTokenUpdates: 'throttled',
  TooManyRequests: 'throttled',
  IdleTimeout: 'retry',
  InternalServerError: 'retry',
  ServiceUnavailable: 'retry',
  Shutdown: 'retry',
};

function reasonOf(text: string): string | undefined {
  try {
    const reason = (JSON.parse(text) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}

/** The `apns-*` headers of a delivery, or the reason its values are refused. */
function apnsHeaders(delivery: Delivery, defaultTopic: string, now: number): Record<string, string> | string {
  const pushType = header(delivery.headers, 'apns-push-type') ?? 'alert';
  if (!pushTypes.has(pushType)) return `apns-push-type must be one of ${[...pushTypes].join(', ')}`;
  const priority = header(delivery.headers, 'apns-priority') ?? (pushType === 'background' ? '5' : '10');
  if (!['1', '5', '10'].includes(priority)) return 'apns-priority must be 1, 5 or 10';
  const id = header(delivery.headers, 'apns-id') ?? randomUUID();
  if (!uuid.test(id)) return 'apns-id must be a UUID';
  const out: Record<string, string> = {
    'apns-topic': header(delivery.headers, 'apns-topic') ?? defaultTopic,
    'apns-push-type': pushType,
    'apns-priority': priority,
    'apns-id': id,
    'content-type': 'application/json',
  };
  const expiration =
    header(delivery.headers, 'apns-expiration') ??
    (delivery.ttlSeconds === undefined ? undefined : expirationOf(delivery.ttlSeconds, now));
  if (expiration !== undefined) {
    if (!/^\d{1,12}$/.test(expiration)) return 'apns-expiration must be a UNIX time in seconds';
    out['apns-expiration'] = expiration;
  }
  const collapse = header(delivery.headers, 'apns-collapse-id');
  if (collapse !== undefined) {
    if (Buffer.byteLength(collapse) > 64) return 'apns-collapse-id must be at most 64 bytes';
    out['apns-collapse-id'] = collapse;
  }
  return out;
}

/** `apns-expiration` for a TTL: 0 means "try once, keep nothing" to APNs as well; else now + TTL. */
function expirationOf(ttlSeconds: number, now: number): string {
  return ttlSeconds <= 0 ? '0' : String(Math.floor(now / 1000) + Math.floor(ttlSeconds));
}

/** A device token: hexadecimal, an even number of digits, 32 to 100 bytes. */
export function deviceToken(channel: unknown): string {
  if (typeof channel !== 'string' || !/^(?:[0-9a-fA-F]{2}){32,100}$/.test(channel)) {
    throw new PushError(
      PushErrorCode.InvalidChannel,
      'An APNs channel is a device token: 64 to 200 hexadecimal digits.',
      {
        detail: { platform: 'apns', reason: 'token' },
      },
    );
  }
  return channel;
}
