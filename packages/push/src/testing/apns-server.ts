/**
 * A local APNs peer over h2c (HTTP/2 without TLS, loopback only): `POST /3/device/{token}` with
 * the provider JWT checked as Apple checks it (ES256 against the signing key named by `kid`,
 * `iss` the key's team, `iat` no older than an hour and not ahead) and the `apns-*` headers
 * (topic, push type, priority, expiration, id, collapse id), the 4 KB payload limit, and Apple's
 * documented `{"reason": …}` bodies — on its own findings, or on demand for a device token.
 * @module
 */
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '@hubbub/kernel';
import { verifyJwt } from './jwt.ts';

/** Apple's reasons with the status each comes with. */
export const apnsReasons = {
  BadCollapseId: 400,
  BadDeviceToken: 400,
  BadExpirationDate: 400,
  BadMessageId: 400,
  BadPriority: 400,
  BadTopic: 400,
  DeviceTokenNotForTopic: 400,
  DuplicateHeaders: 400,
  IdleTimeout: 400,
  InvalidPushType: 400,
  MissingDeviceToken: 400,
  MissingTopic: 400,
  PayloadEmpty: 400,
  TopicDisallowed: 400,
  BadCertificate: 403,
  BadCertificateEnvironment: 403,
  ExpiredProviderToken: 403,
  Forbidden: 403,
  InvalidProviderToken: 403,
  MissingProviderToken: 403,
  UnrelatedKeyIdInToken: 403,
  BadPath: 404,
  MethodNotAllowed: 405,
  ExpiredToken: 410,
  Unregistered: 410,
  PayloadTooLarge: 413,
  TooManyProviderTokenUpdates: 429,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  Shutdown: 503,
} as const;
export type ApnsReason = keyof typeof apnsReasons;

export interface ApnsSigningKey {
  readonly keyId: string;
  readonly teamId: string;
  /** The .p8 file's contents (PKCS#8 PEM, P-256). */
  readonly signingKey: string;
}

export interface ReceivedApnsNotification {
  readonly deviceToken: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: string;
  /** The provider JWT that authorized it. */
  readonly jwt: string;
  readonly iat: number;
}

export interface ApnsServerOptions {
  /** The bundle ids the key may push to (`apns-topic`). @default ['com.hubbub.delivery'] */
  readonly topics?: readonly string[];
  /** Reads `iat` against it. @default systemClock */
  readonly clock?: Clock;
  /** Serve HTTP/2 over TLS (ALPN h2) with this certificate and key (PEM), as APNs does, instead of h2c. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface ApnsServer {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`): the provider's endpoint. */
  readonly origin: string;
  /** A new signing key (its own P-256 pair, key id and team id) the server accepts. */
  createSigningKey(): ApnsSigningKey;
  readonly notifications: readonly ReceivedApnsNotification[];
  readonly refused: readonly { deviceToken: string; status: number; reason: ApnsReason }[];
  /** HTTP/2 sessions the server has seen. */
  readonly sessions: number;
  /** HTTP/2 sessions open now. */
  readonly openSessions: number;
  /** Answer notifications to `deviceToken` with `reason` (`times` of them; default all until {@link accept}). */
  failWith(deviceToken: string, reason: ApnsReason, options?: { times?: number }): void;
  /** Never answer notifications to `deviceToken`. */
  hang(deviceToken: string): void;
  accept(deviceToken: string): void;
  /** Sends GOAWAY on every open session (as APNs does before it shuts a connection). */
  goAway(): void;
  close(): Promise<void>;
}

type Behaviour = { kind: 'hang' } | { kind: 'fail'; reason: ApnsReason; times: number };

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
const maxPayload = 4096;

export async function startApnsServer(options: ApnsServerOptions = {}): Promise<ApnsServer> {
  const clock = options.clock ?? systemClock;
  const topics = new Set(options.topics ?? ['com.hubbub.delivery']);
  const keys = new Map<string, { key: KeyObject; teamId: string }>();
  const behaviours = new Map<string, Behaviour>();
  const notifications: ReceivedApnsNotification[] = [];
  const refused: { deviceToken: string; status: number; reason: ApnsReason }[] = [];
  const sessions = new Set<Http2Session>();
  let sessionCount = 0;

  const server: Http2Server | Http2SecureServer =
    options.tls === undefined ? createServer() : createSecureServer({ cert: options.tls.cert, key: options.tls.key });
  server.on('session', (session) => {
    sessionCount++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxPayload + 1) chunks.push(chunk);
    });
    stream.on('end', () => handle(stream, headers, Buffer.concat(chunks).subarray(0, maxPayload + 1), size));
  });

  const answer = (stream: ServerHttp2Stream, deviceToken: string, reason: ApnsReason, id: string | undefined) => {
    const status = apnsReasons[reason];
    refused.push({ deviceToken, status, reason });
    const body = JSON.stringify(status === 410 ? { reason, timestamp: clock.now() } : { reason });
    if (stream.destroyed) return;
    stream.respond({
      ':status': status,
      'content-type': 'application/json',
      ...(id === undefined ? {} : { 'apns-id': id }),
    });
    stream.end(body);
  };

  const handle = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer, size: number) => {
    const path = String(headers[':path'] ?? '');
    const match = /^\/3\/device\/([^/?]*)$/.exec(path);
    const token = match?.[1] ?? '';
    const id = typeof headers['apns-id'] === 'string' ? headers['apns-id'] : undefined;
    const fail = (reason: ApnsReason) => answer(stream, token, reason, id);
    if (headers[':method'] !== 'POST') return fail('MethodNotAllowed');
    if (match === null) return fail('BadPath');
    const auth = checkJwt(headers.authorization, keys, clock.now());
    if (typeof auth === 'string') return fail(auth as ApnsReason);
    if (token === '') return fail('MissingDeviceToken');
    if (!/^(?:[0-9a-fA-F]{2}){32,100}$/.test(token)) return fail('BadDeviceToken');
    const topic = headers['apns-topic'];
    if (typeof topic !== 'string' || topic === '') return fail('MissingTopic');
    if (!topics.has(topic)) return fail('TopicDisallowed');
    const pushType = headers['apns-push-type'];
    if (pushType !== undefined && !pushTypes.has(String(pushType))) return fail('InvalidPushType');
    const priority = headers['apns-priority'];
    if (priority !== undefined && !['1', '5', '10'].includes(String(priority))) return fail('BadPriority');
    if (priority === '10' && pushType === 'background') return fail('BadPriority');
    const expiration = headers['apns-expiration'];
    if (expiration !== undefined && !/^\d+$/.test(String(expiration))) return fail('BadExpirationDate');
    if (id !== undefined && !uuid.test(id)) return fail('BadMessageId');
    const collapse = headers['apns-collapse-id'];
    if (collapse !== undefined && Buffer.byteLength(String(collapse)) > 64) return fail('BadCollapseId');
    if (size === 0) return fail('PayloadEmpty');
    if (size > maxPayload) return fail('PayloadTooLarge');
    const behaviour = behaviours.get(token);
    if (behaviour?.kind === 'hang') return; // the stream stays open until the client cancels it
    if (behaviour?.kind === 'fail') {
      if (--behaviour.times <= 0) behaviours.delete(token);
      return fail(behaviour.reason);
    }
    const apnsHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers))
      if (k.startsWith('apns-') && typeof v === 'string') apnsHeaders[k] = v;
    notifications.push({
      deviceToken: token,
      headers: apnsHeaders,
      payload: body.toString('utf8'),
      jwt: auth.jwt,
      iat: auth.iat,
    });
    stream.respond({ ':status': 200, 'apns-id': id ?? randomUUID() });
    stream.end();
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    notifications,
    refused,
    get sessions() {
      return sessionCount;
    },
    get openSessions() {
      return sessions.size;
    },
    createSigningKey() {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const keyId = randomBytes(5).toString('hex').toUpperCase();
      const teamId = randomBytes(5).toString('hex').toUpperCase();
      keys.set(keyId, { key: publicKey, teamId });
      return { keyId, teamId, signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    },
    failWith(deviceToken, reason, o = {}) {
      behaviours.set(deviceToken, { kind: 'fail', reason, times: o.times ?? Number.POSITIVE_INFINITY });
    },
    hang(deviceToken) {
      behaviours.set(deviceToken, { kind: 'hang' });
    },
    accept(deviceToken) {
      behaviours.delete(deviceToken);
    },
    goAway() {
      for (const session of sessions) session.goaway();
    },
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Apple's checks of the provider token; the reason it fails, or the token and its iat. */
function checkJwt(
  authorization: string | undefined,
  keys: Map<string, { key: KeyObject; teamId: string }>,
  now: number,
): { jwt: string; iat: number } | ApnsReason {
  const jwt = /^bearer (.+)$/i.exec(authorization ?? '')?.[1];
  if (jwt === undefined) return 'MissingProviderToken';
  let kid: unknown;
  try {
    kid = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8')).kid;
  } catch {
    return 'InvalidProviderToken';
  }
  const entry = typeof kid === 'string' ? keys.get(kid) : undefined;
  if (entry === undefined) return 'InvalidProviderToken';
  const verified = verifyJwt(jwt, 'ES256', entry.key);
  if (typeof verified === 'string') return 'InvalidProviderToken';
  const { iss, iat } = verified.claims;
  if (iss !== entry.teamId) return 'InvalidProviderToken';
  if (typeof iat !== 'number') return 'InvalidProviderToken';
  const seconds = Math.floor(now / 1000);
  if (iat > seconds + 60) return 'InvalidProviderToken';
  if (seconds - iat > 3600) return 'ExpiredProviderToken';
  return { jwt, iat };
}
