/**
 * OAuth 2.0 access tokens for FCM HTTP v1 from a Google service account (RFC 7523 JWT bearer
 * grant): an RS256 assertion signed with the account's private key (`iss` the client email,
 * `aud` the token endpoint, `scope` firebase.messaging, one hour), exchanged at the token
 * endpoint. A token is reused until shortly before it expires; at most one exchange is in flight,
 * every caller waiting for it shares its result; a refused exchange is not cached.
 * @module
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { type Clock, InvalidOptionError } from '@hubbub/kernel';
import { SignJWT } from 'jose';
import { type Agents, exchange } from './http-exchange.ts';
import type { DeliveryOutcome } from './provider.ts';
import { transportOutcome } from './shared.ts';

/** The fields of a service-account key file (`type: service_account`) that FCM needs. */
export interface ServiceAccount {
  readonly project_id: string;
  readonly client_email: string;
  /** PKCS#8 PEM. */
  readonly private_key: string;
  readonly private_key_id?: string;
  /** @default 'https://oauth2.googleapis.com/token' */
  readonly token_uri?: string;
}

export const fcmScope = 'https://www.googleapis.com/auth/firebase.messaging';

/** A token, or the outcome a delivery gets when none could be had (`auth` refused, `retry` transient). */
export type TokenResult = { readonly token: string } | { readonly outcome: DeliveryOutcome };

export interface TokenSourceOptions {
  readonly account: ServiceAccount;
  readonly tokenUrl: URL;
  readonly agents: Agents;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Refresh this long before the token expires. */
  readonly refreshMarginMs: number;
}

export class AccessTokenSource {
  readonly #options: TokenSourceOptions;
  readonly #key: KeyObject;
  #current: { token: string; refreshAt: number } | undefined;
  #inFlight: Promise<TokenResult> | undefined;
  /** Exchanges made, for tests and metrics. */
  exchanges = 0;

  constructor(options: TokenSourceOptions) {
    this.#options = options;
    try {
      this.#key = createPrivateKey(options.account.private_key);
    } catch (cause) {
      throw Object.assign(new InvalidOptionError('serviceAccount.private_key', 'is not a PEM private key.'), { cause });
    }
    if (this.#key.asymmetricKeyType !== 'rsa') {
      throw new InvalidOptionError('serviceAccount.private_key', 'must be an RSA key (RS256).');
    }
  }

  /** A valid token: the cached one, or the result of the one exchange in flight. */
  get(): Promise<TokenResult> {
    const current = this.#current;
    if (current !== undefined && this.#options.clock.now() < current.refreshAt)
      return Promise.resolve({ token: current.token });
    this.#inFlight ??= this.#exchange()
      .catch((): TokenResult => ({ outcome: { kind: 'auth', reason: 'the assertion could not be signed' } }))
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  /** Forgets `token` after FCM refused it (401), unless a newer one already replaced it. */
  invalidate(token: string): void {
    if (this.#current?.token === token) this.#current = undefined;
  }

  async #exchange(): Promise<TokenResult> {
    const { account, tokenUrl, clock } = this.#options;
    this.exchanges++;
    const now = Math.floor(clock.now() / 1000);
    const header =
      account.private_key_id === undefined
        ? { alg: 'RS256', typ: 'JWT' }
        : { alg: 'RS256', typ: 'JWT', kid: account.private_key_id };
    const assertion = await new SignJWT({ scope: fcmScope })
      .setProtectedHeader(header)
      .setIssuer(account.client_email)
      .setSubject(account.client_email)
      .setAudience(tokenUrl.href)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(this.#key);
    const body = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion,
    }).toString();
    const answer = await exchange(this.#options.agents, {
      url: tokenUrl,
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
      body,
      timeoutMs: this.#options.timeoutMs,
    });
    if (!answer.ok) return { outcome: transportOutcome(answer) };
    const reason = `token endpoint HTTP ${answer.status}`;
    if (answer.status >= 500 || answer.status === 429)
      return { outcome: { kind: 'retry', status: answer.status, reason } };
    if (answer.status !== 200)
      return { outcome: { kind: 'auth', status: answer.status, reason: describe(answer.body, reason) } };
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      return { outcome: { kind: 'retry', reason: 'token endpoint answered no JSON' } };
    }
    const token = parsed.access_token;
    const expiresIn = Number(parsed.expires_in ?? 3600);
    if (typeof token !== 'string' || token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      return { outcome: { kind: 'retry', reason: 'token endpoint answered no access_token' } };
    }
    const lifetimeMs = expiresIn * 1000;
    const refreshAt = clock.now() + Math.max(lifetimeMs / 2, lifetimeMs - this.#options.refreshMarginMs);
    this.#current = { token, refreshAt };
    return { token };
  }
}

/** `invalid_grant: Invalid JWT Signature.` from an OAuth error body, else `fallback`. */
function describe(body: string, fallback: string): string {
  try {
    const { error, error_description } = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    if (typeof error === 'string')
      return typeof error_description === 'string' ? `${error}: ${error_description}` : error;
  } catch {
    // not JSON: the status says enough
  }
  return fallback;
}
