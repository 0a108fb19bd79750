/**
 * Azure SignalR tokens: HS256 JWTs signed with an access key. Client tokens carry `aud` = the client
 * URL `{endpoint}/client/?hub={hub}` and the user id in `asrs.s.uid`; server (REST API) tokens carry
 * `aud` = the request URL. Verification tries every configured key (rotation) and compares `aud`
 * leniently: scheme, trailing slashes, query order and letter case do not matter.
 * @module
 */
import { createSecretKey } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Clock, systemClock } from '@hubbub/kernel';
import { type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { HubError, HubErrorCode } from '../errors.ts';
import { type ConnectionString, parseConnectionString } from './connection-string.ts';

export type AccessKey = string | Uint8Array;

/** What the Functions `signalRConnectionInfo` binding returns and the client follows. */
export interface ClientAccess {
  readonly url: string;
  readonly accessToken: string;
}

export interface ClientAccessOptions {
  /** The service's connection string (text or parsed); or give `endpoint` and `accessKey`. */
  connectionString?: string | ConnectionString;
  /** Origin clients connect to (the connection string's ClientEndpoint or Endpoint). */
  endpoint?: string;
  accessKey?: AccessKey;
  /** Hub name; lower-cased in the URL, as Azure's SDKs do. */
  hub: string;
  /** Put in `asrs.s.uid`; REST sends to this user reach the connection. */
  userId?: string;
  /** Extra claims copied into the token; reserved JWT names are renamed `asrs.u.<name>`. */
  claims?: Readonly<Record<string, unknown>>;
  /** Token lifetime in ms. @default 3_600_000 (one hour, like Azure) */
  lifetimeMs?: number;
  /** @default systemClock */
  clock?: Clock;
}

const reserved = new Set(['aud', 'exp', 'iat', 'nbf', 'iss', 'actort', 'acr', 'azp', 'c_hash', 'jti', 'nonce']);

export function keyBytes(key: AccessKey): Uint8Array {
  return typeof key === 'string' ? new TextEncoder().encode(key) : key;
}

/** `{endpoint}/client/?hub={hub}`: where negotiate sends clients, and the `aud` of their token. */
export function clientUrl(endpoint: string, hub: string): string {
  return `${endpoint.replace(/\/+$/, '')}/client/?hub=${encodeURIComponent(hub.toLowerCase())}`;
}

/** Builds the negotiate redirect `{url, accessToken}` for a hub, as Azure's SDKs do locally. */
export async function createClientAccess(options: ClientAccessOptions): Promise<ClientAccess> {
  const parsed =
    typeof options.connectionString === 'string'
      ? parseConnectionString(options.connectionString)
      : options.connectionString;
  const endpoint = options.endpoint ?? parsed?.clientEndpoint;
  const key = options.accessKey ?? parsed?.accessKey;
  if (endpoint === undefined || key === undefined) {
    throw new HubError(HubErrorCode.InvalidConnectionString, 'Give a connection string, or an endpoint and a key.');
  }
  const url = clientUrl(endpoint, options.hub);
  const { connectionString: _c, endpoint: _e, hub: _h, ...token } = options;
  return { url, accessToken: await createClientToken({ ...token, url, accessKey: key }) };
}

export interface ClientTokenOptions extends Pick<ClientAccessOptions, 'userId' | 'claims' | 'lifetimeMs' | 'clock'> {
  /** The URL the client connects to: the token's `aud`. */
  url: string;
  accessKey: AccessKey;
}

/** The access token a client presents at `url` (what {@link createClientAccess} returns with it). */
export function createClientToken(options: ClientTokenOptions): Promise<string> {
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    claims[reserved.has(name) ? `asrs.u.${name}` : name] = value;
  }
  if (options.userId !== undefined) claims['asrs.s.uid'] = options.userId;
  return sign(claims, options.url, options.accessKey, options.lifetimeMs ?? 3_600_000, options.clock ?? systemClock);
}

/**
 * The claims of a verified client token signed again for another client URL (a negotiate
 * redirect to another node): the same user and claims, `aud` = `url`, the same expiry.
 */
export function resignClientToken(
  payload: Readonly<Record<string, unknown>>,
  url: string,
  key: AccessKey,
  clock: Clock = systemClock,
): Promise<string> {
  const { aud: _a, exp, iat: _i, nbf: _n, ...claims } = payload;
  const lifetimeMs = typeof exp === 'number' ? exp * 1000 - clock.now() : 3_600_000;
  return sign(claims, url, key, Math.max(1_000, lifetimeMs), clock);
}

export interface ServerTokenOptions {
  /** The request URL the token is for (Azure's SDK includes the `?api-version=` query). */
  audience: string;
  accessKey: AccessKey;
  /** @default 3_600_000 */
  lifetimeMs?: number;
  /** Sent as `nameid`, as the Management SDK does. */
  userId?: string;
  clock?: Clock;
}

/** A token for the data-plane REST API. */
export function createServerToken(options: ServerTokenOptions): Promise<string> {
  const claims = options.userId === undefined ? {} : { nameid: options.userId };
  return sign(
    claims,
    options.audience,
    options.accessKey,
    options.lifetimeMs ?? 3_600_000,
    options.clock ?? systemClock,
  );
}

async function sign(claims: Record<string, unknown>, aud: string, key: AccessKey, lifetimeMs: number, clock: Clock) {
  if (!Number.isFinite(lifetimeMs) || lifetimeMs <= 0) {
    throw new HubError(HubErrorCode.BadRequest, `lifetimeMs must be a positive number, got ${lifetimeMs}.`);
  }
  const now = Math.floor(clock.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(aud)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + Math.max(1, Math.round(lifetimeMs / 1000)))
    .sign(keyBytes(key));
}

export interface TokenVerifierOptions {
  keys: readonly AccessKey[];
  clock: Clock;
  /** Leeway for `exp`/`nbf`, in seconds. @default 5 */
  toleranceSeconds?: number;
  /** Verified tokens remembered, so a token used again skips the HMAC check (its times are rechecked). @default 1024 */
  cacheSize?: number;
}

export type TokenVerifier = (token: string) => Promise<JWTPayload>;

/**
 * Verifies HS256 tokens against every key (`exp` required; throws HUB_UNAUTHORIZED). SDKs reuse a
 * token for many requests, so verified tokens are kept in a small LRU; a hit only rechecks the
 * token's `exp` and `nbf` against the clock.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const keys = options.keys.map((k) => createSecretKey(keyBytes(k)));
  const tolerance = options.toleranceSeconds ?? 5;
  const cacheSize = options.cacheSize ?? 1024;
  const cache = new Map<string, JWTPayload>();
  return async (token) => {
    const cached = cache.get(token);
    if (cached !== undefined) {
      const now = options.clock.now() / 1000;
      if (typeof cached.exp === 'number' && now > cached.exp + tolerance) {
        cache.delete(token);
        throw new HubError(HubErrorCode.Unauthorized, 'The access token has expired.');
      }
      if (typeof cached.nbf === 'number' && now < cached.nbf - tolerance) {
        throw new HubError(HubErrorCode.Unauthorized, "The access token's 'nbf' claim is invalid.");
      }
      cache.delete(token);
      cache.set(token, cached);
      return cached;
    }
    let last: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          currentDate: new Date(options.clock.now()),
          clockTolerance: tolerance,
          requiredClaims: ['exp'],
        });
        if (cacheSize > 0) {
          if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
          cache.set(token, payload);
        }
        return payload;
      } catch (err) {
        last = err;
        // A bad signature may just mean another key signed it; anything else is final.
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw new HubError(HubErrorCode.Unauthorized, describe(last), { cause: last });
  };
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The access token has expired.';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token signature is invalid.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The access token's '${err.claim}' claim is invalid.`;
  return 'The access token is malformed.';
}

interface AudienceShape {
  host: string;
  path: string;
  hub: string | undefined;
}

function normalizePath(pathname: string): string {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    path = pathname;
  }
  return path.replace(/\/+$/, '').toLowerCase();
}

function shape(url: string): AudienceShape | undefined {
  try {
    const u = new URL(url);
    return {
      host: u.host.toLowerCase(),
      path: normalizePath(u.pathname),
      hub: u.searchParams.get('hub')?.toLowerCase(),
    };
  } catch {
    return undefined;
  }
}

/** Where a token's `aud` may point: hosts and path prefixes of the configured endpoints, and the request's own Host. */
export interface AudienceScope {
  readonly hosts: ReadonlySet<string>;
  /** `''` plus each endpoint's path (a service behind a proxy at `https://x/signalr` has `/signalr`). */
  readonly prefixes: ReadonlySet<string>;
}

export function audienceScope(endpoints: readonly string[], request: IncomingMessage): AudienceScope {
  const hosts = new Set<string>();
  const prefixes = new Set<string>(['']);
  for (const e of endpoints) {
    const s = shape(e);
    if (s === undefined) continue;
    hosts.add(s.host);
    prefixes.add(s.path);
  }
  if (request.headers.host !== undefined) hosts.add(request.headers.host.toLowerCase());
  return { hosts, prefixes };
}

/**
 * Whether `aud` (a string or list) names `expectedPath` as served here: a host in scope, the same
 * path (after one of the scope's prefixes) ignoring case, percent-encoding and trailing slashes,
 * and, when `hub` is given, the same `hub` query value. Other query parameters (`api-version`,
 * `asrs.op`, …) are ignored.
 */
export function audienceMatches(aud: unknown, expectedPath: string, scope: AudienceScope, hub?: string): boolean {
  const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  const path = normalizePath(expectedPath);
  return list.some((a) => {
    if (typeof a !== 'string') return false;
    const s = shape(a);
    if (s === undefined || !scope.hosts.has(s.host)) return false;
    if (![...scope.prefixes].some((prefix) => s.path === prefix + path)) return false;
    return hub === undefined || s.hub === hub.toLowerCase();
  });
}
