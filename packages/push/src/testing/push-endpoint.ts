/**
 * A local RFC 8030 push service that also plays the browser: it creates subscriptions (a P-256
 * key pair and a 16-byte auth secret each, as `PushManager.subscribe` would), and for every
 * POST to a subscription it checks what a real push service checks — the VAPID JWT (RFC 8292:
 * ES256 against the `k=` key, `aud` its own origin, `exp` within 24 h, `sub` a contact), `TTL`,
 * `Urgency`, `Topic`, `Content-Encoding: aes128gcm`, the 4096-byte body limit — then decrypts the
 * body as the browser would (RFC 8291) and records it, or hands it on to `onMessage`. A
 * subscription can be told to answer 404/410/429/5xx, or to hang, for the provider's error paths.
 * @module
 */
import { createECDH, createPublicKey, type ECDH, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, closeHttpServer, HttpError, readBody, systemClock } from '@hubbub/kernel';
import { decryptWebPush, EceError } from './ece.ts';
import { verifyJwt } from './jwt.ts';
import { serverFor } from './serve.ts';

export interface ReceivedPush {
  readonly subscriptionId: string;
  /** The decrypted payload. */
  readonly payload: Buffer;
  readonly text: string;
  readonly ttl: number;
  readonly urgency: string | undefined;
  readonly topic: string | undefined;
  /** The VAPID JWT's claims and the `k=` public key (base64url) that verified it. */
  readonly vapid: {
    readonly claims: Readonly<Record<string, unknown>>;
    readonly publicKey: string;
    readonly token: string;
  };
  /** Length of the encrypted body. */
  readonly bodyLength: number;
}

/** A request the endpoint refused, and why (for tests that expect a refusal). */
export interface RefusedPush {
  readonly subscriptionId: string | undefined;
  readonly status: number;
  readonly reason: string;
}

export interface SubscribeOptions {
  /** The VAPID public key the subscription is bound to (as `applicationServerKey`); a push signed with another key is refused 403. */
  readonly applicationServerKey?: string;
  /** Called with each decrypted message, e.g. to hand it on to a browser's service worker. */
  readonly onMessage?: (message: ReceivedPush) => void;
}

export interface TestSubscription {
  readonly id: string;
  readonly endpoint: string;
  /** The subscription's public key, uncompressed P-256, base64url. */
  readonly p256dh: string;
  /** The 16-byte auth secret, base64url. */
  readonly auth: string;
  /** Messages received and decrypted for this subscription, oldest first. */
  readonly messages: readonly ReceivedPush[];
  /** The PushSubscription JSON a browser gives (`{endpoint, keys: {p256dh, auth}}`). */
  toJSON(): { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
  /** Answer the next `times` pushes (default: every one until {@link accept}) with `status`, after checking them. */
  respondWith(status: number, options?: { retryAfter?: string; times?: number }): void;
  /** Never answer pushes (until {@link accept}); the request stays open until the sender gives up. */
  hang(): void;
  /** Back to accepting pushes with 201. */
  accept(): void;
  /** Unsubscribes: pushes are answered 410 Gone from now on. */
  unsubscribe(): void;
}

export interface PushEndpointOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 */
  readonly port?: number;
  /** Reads `exp` against it. @default systemClock */
  readonly clock?: Clock;
  /** Keep every message in `received` and `sub.messages`; off for long runs that only count (`onMessage`). @default true */
  readonly record?: boolean;
  /** Serve https with this certificate and key (PEM) instead of plain http, e.g. from `@hubbub/tls`. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface PushEndpoint {
  /** `http://127.0.0.1:PORT`, the `aud` a VAPID JWT must name. */
  readonly origin: string;
  subscribe(options?: SubscribeOptions): TestSubscription;
  /** Every message received, all subscriptions, oldest first. */
  readonly received: readonly ReceivedPush[];
  readonly refused: readonly RefusedPush[];
  /** Requests being held open by {@link TestSubscription.hang}. */
  readonly hanging: number;
  /** Connections open to the server now (a closed client leaves none). */
  openConnections(): Promise<number>;
  close(): Promise<void>;
}

interface Subscription extends TestSubscription {
  readonly ecdh: ECDH;
  readonly authSecret: Buffer;
  readonly options: SubscribeOptions;
  readonly log: ReceivedPush[];
  mode:
    | { kind: 'accept' }
    | { kind: 'hang' }
    | { kind: 'gone' }
    | { kind: 'status'; status: number; retryAfter?: string; times: number };
}

const maxBody = 4096;
const day = 86_400;

/** Starts a push endpoint on loopback. */
export async function startPushEndpoint(options: PushEndpointOptions = {}): Promise<PushEndpoint> {
  const clock = options.clock ?? systemClock;
  const subscriptions = new Map<string, Subscription>();
  const received: ReceivedPush[] = [];
  const refused: RefusedPush[] = [];
  const hanging = new Set<ServerResponse>();
  let origin = '';

  const refuse = (id: string | undefined, status: number, reason: string, response: ServerResponse) => {
    refused.push({ subscriptionId: id, status, reason });
    const body = JSON.stringify({ code: status, error: reason });
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    response.end(body);
  };

  const route = (request: IncomingMessage, response: ServerResponse) => {
    const match = /^\/push\/([A-Za-z0-9-]+)$/.exec(request.url ?? '');
    if (request.method !== 'POST' || match === null) return false; // 404 KERNEL_NOT_FOUND
    return handle(request, response, match[1] ?? '');
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, id: string) => {
    let body: Buffer;
    try {
      body = await readBody(request, maxBody);
    } catch (error) {
      if (error instanceof HttpError && error.status === 413) {
        refuse(id, 413, 'payload too large', response);
        return true;
      }
      throw error;
    }
    const sub = subscriptions.get(id);
    if (sub === undefined) return refuse(id, 404, 'no such subscription', response);
    if (sub.mode.kind === 'gone') return refuse(id, 410, 'unsubscribed', response);
    const checked = checkPush(request, body, sub, origin, clock.now());
    if (typeof checked === 'string') return refuse(id, statusOf(checked), checked, response);
    const mode = sub.mode;
    if (mode.kind === 'hang') {
      hanging.add(response);
      response.on('close', () => hanging.delete(response));
      return true;
    }
    if (mode.kind === 'status') {
      if (--mode.times <= 0) sub.mode = { kind: 'accept' };
      const headers: Record<string, string> = { 'Content-Length': '0' };
      if (mode.retryAfter !== undefined) headers['Retry-After'] = mode.retryAfter;
      refused.push({ subscriptionId: id, status: mode.status, reason: 'told to' });
      response.writeHead(mode.status, headers).end();
      return true;
    }
    if (options.record !== false) {
      sub.log.push(checked);
      received.push(checked);
    }
    response.writeHead(201, {
      Location: `${origin}/message/${randomUUID()}`,
      TTL: String(checked.ttl),
      'Content-Length': '0',
    });
    response.end();
    try {
      sub.options.onMessage?.(checked);
    } catch {
      // the test's callback failing is the test's business, not the push service's
    }
    return true;
  };

  const server: Server = serverFor(route, options.tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  origin = `${options.tls === undefined ? 'http' : 'https'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  return {
    origin,
    received,
    refused,
    get hanging() {
      return hanging.size;
    },
    subscribe(subscribeOptions = {}) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const authSecret = randomBytes(16);
      const id = randomUUID();
      const endpoint = `${origin}/push/${id}`;
      const p256dh = ecdh.getPublicKey().toString('base64url');
      const auth = authSecret.toString('base64url');
      const log: ReceivedPush[] = [];
      const sub: Subscription = {
        id,
        endpoint,
        p256dh,
        auth,
        ecdh,
        authSecret,
        options: subscribeOptions,
        log,
        messages: log,
        mode: { kind: 'accept' },
        toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
        respondWith(status, o = {}) {
          sub.mode = {
            kind: 'status',
            status,
            times: o.times ?? Number.POSITIVE_INFINITY,
            ...(o.retryAfter === undefined ? {} : { retryAfter: o.retryAfter }),
          };
        },
        hang() {
          sub.mode = { kind: 'hang' };
        },
        accept() {
          sub.mode = { kind: 'accept' };
        },
        unsubscribe() {
          sub.mode = { kind: 'gone' };
        },
      };
      subscriptions.set(id, sub);
      return sub;
    },
    openConnections() {
      return new Promise<number>((resolve, reject) =>
        server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
    },
    async close() {
      for (const response of hanging) response.destroy();
      await closeHttpServer(server);
    },
  };
}

function statusOf(reason: string): number {
  return Number(reason.slice(0, 3)) || 400;
}

/** Checks a push as a push service and a browser would; returns the message or `"<status> reason"`. */
function checkPush(
  request: IncomingMessage,
  body: Buffer,
  sub: Subscription,
  origin: string,
  now: number,
): ReceivedPush | string {
  const vapid = checkVapid(request.headers.authorization, origin, now);
  if (typeof vapid === 'string') return vapid;
  if (sub.options.applicationServerKey !== undefined && sub.options.applicationServerKey !== vapid.publicKey) {
    return '403 VAPID key is not the subscription applicationServerKey';
  }
  const ttlText = request.headers.ttl;
  if (typeof ttlText !== 'string' || !/^\d+$/.test(ttlText)) return '400 TTL header missing or not a number';
  const urgency = request.headers.urgency;
  if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(urgency as string))
    return '400 bad Urgency';
  const topic = request.headers.topic;
  if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic as string)) return '400 bad Topic';
  if (request.headers['content-encoding'] !== 'aes128gcm') return '415 Content-Encoding must be aes128gcm';
  let payload: Buffer;
  try {
    payload = decryptWebPush(body, sub.ecdh, sub.authSecret);
  } catch (error) {
    if (error instanceof EceError) return `400 decryption failed: ${error.message}`;
    throw error;
  }
  return {
    subscriptionId: sub.id,
    payload,
    text: payload.toString('utf8'),
    ttl: Number(ttlText),
    urgency: urgency as string | undefined,
    topic: topic as string | undefined,
    vapid,
    bodyLength: body.length,
  };
}

/** RFC 8292 §3: `vapid t=JWT, k=KEY`; ES256 against k; aud = our origin; exp in (now, now + 24 h]; sub a contact. */
function checkVapid(authorization: string | undefined, origin: string, now: number): ReceivedPush['vapid'] | string {
  const match = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (match === null) return '401 Authorization must be a vapid credential';
  const params = new Map<string, string>();
  for (const part of (match[1] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const token = params.get('t');
  const k = params.get('k');
  if (token === undefined || k === undefined) return '401 vapid credential needs t= and k=';
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) return '401 k= is not an uncompressed P-256 key';
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: raw.subarray(1, 33).toString('base64url'),
        y: raw.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    return '401 k= is not on P-256';
  }
  const verified = verifyJwt(token, 'ES256', key);
  if (typeof verified === 'string') return `401 VAPID JWT: ${verified}`;
  const { claims } = verified;
  if (claims.aud !== origin) return `401 VAPID aud must be ${origin}`;
  const seconds = Math.floor(now / 1000);
  if (typeof claims.exp !== 'number') return '401 VAPID exp missing';
  if (claims.exp <= seconds) return '401 VAPID JWT expired';
  if (claims.exp > seconds + day) return '401 VAPID exp more than 24 hours ahead';
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub))
    return '401 VAPID sub must be mailto: or https:';
  return { claims, publicKey: k, token };
}
