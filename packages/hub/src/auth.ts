/**
 * Bearer-token authentication for negotiate and transport requests: the token comes from the
 * `Authorization` header or, where browsers cannot set headers (WebSocket, EventSource), the
 * `access_token` query parameter; it is an HS256 JWT checked against the configured keys, or
 * whatever a verification callback accepts.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { type Clock, queryParam } from '@hubbub/kernel';
import { errors as joseErrors, jwtVerify } from 'jose';
import { HubError, HubErrorCode } from './errors.ts';

export interface HubAuthOptions {
  /** HS256 secrets accepted for access tokens (strings are used as UTF-8 bytes). Several allow key rotation. */
  keys?: readonly (string | Uint8Array)[];
  /** Verifies a token yourself (e.g. RS256 from an identity provider); throw to reject. Used instead of `keys`. */
  verify?: (token: string, request: IncomingMessage) => Principal | Promise<Principal>;
  /** Claims that carry the user id; the first present wins. @default ['asrs.s.uid', 'nameid', 'sub'] */
  userIdClaims?: readonly string[];
  /** Expected `aud` for a hub, or undefined to skip the check. @default no check */
  audience?: (hub: string, request: IncomingMessage) => string | readonly string[] | undefined;
  /** Refuse connections without a token. @default true when `keys` or `verify` is set */
  required?: boolean;
  /** Leeway for `exp`/`nbf`, in seconds. @default 5 */
  clockToleranceSeconds?: number;
}

/** Who is on the other end, as established by the access token. */
export interface Principal {
  readonly userId: string | undefined;
  readonly claims: Readonly<Record<string, unknown>>;
}

export type Authenticator = (request: IncomingMessage, url: URL, hub: string) => Promise<Principal>;

const anonymous: Principal = { userId: undefined, claims: {} };

/** Reads the bearer token of a request, header first. */
export function bearerToken(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    return match?.[1];
  }
  return queryParam(url.searchParams, 'access_token');
}

export function createAuthenticator(options: HubAuthOptions | undefined, clock: Clock): Authenticator {
  const keys = (options?.keys ?? []).map((k) => (typeof k === 'string' ? new TextEncoder().encode(k) : k));
  const verify = options?.verify;
  const required = options?.required ?? (keys.length > 0 || verify !== undefined);
  const userIdClaims = options?.userIdClaims ?? ['asrs.s.uid', 'nameid', 'sub'];
  const tolerance = options?.clockToleranceSeconds ?? 5;

  return async (request, url, hub) => {
    const token = bearerToken(request, url);
    if (token === undefined || token === '') {
      if (required) throw new HubError(HubErrorCode.Unauthorized, 'An access token is required.');
      return anonymous;
    }
    if (verify !== undefined) {
      try {
        return await verify(token, request);
      } catch (err) {
        throw new HubError(HubErrorCode.Unauthorized, 'The access token was rejected.', { cause: err });
      }
    }
    if (keys.length === 0) {
      if (required) throw new HubError(HubErrorCode.Unauthorized, 'No key is configured to verify access tokens.');
      return anonymous;
    }
    const audience = options?.audience?.(hub, request);
    let last: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          currentDate: new Date(clock.now()),
          clockTolerance: tolerance,
          requiredClaims: ['exp'],
          ...(audience === undefined ? {} : { audience: audience as string | string[] }),
        });
        return { userId: userIdOf(payload, userIdClaims), claims: payload };
      } catch (err) {
        last = err;
        // A bad signature may just mean another key signed it; anything else is final.
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw new HubError(HubErrorCode.Unauthorized, describe(last), { cause: last });
  };
}

function userIdOf(payload: Record<string, unknown>, claims: readonly string[]): string | undefined {
  for (const claim of claims) {
    const value = payload[claim];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The access token has expired.';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token signature is invalid.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The access token's '${err.claim}' claim is invalid.`;
  return 'The access token is malformed.';
}
