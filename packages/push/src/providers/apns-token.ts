/**
 * The APNs provider authentication token: an ES256 JWT signed with the team's .p8 key, header
 * `kid` the key id, claims `iss` the team id and `iat`. Apple refuses one older than an hour and
 * throttles one renewed more often than every 20 minutes, so it is signed once and reused by every
 * request until `refreshMs` has passed (or APNs says ExpiredProviderToken), never per request.
 * @module
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { type Clock, InvalidOptionError } from '@hubbub/kernel';
import { SignJWT } from 'jose';

export class ProviderTokens {
  readonly #key: KeyObject;
  readonly #keyId: string;
  readonly #teamId: string;
  readonly #clock: Clock;
  readonly #refreshMs: number;
  #current: { jwt: string; issuedAt: number } | undefined;
  #signing: Promise<string> | undefined;
  /** Tokens signed so far. */
  signed = 0;

  constructor(signingKey: string | KeyObject, keyId: string, teamId: string, clock: Clock, refreshMs: number) {
    try {
      this.#key = typeof signingKey === 'string' ? createPrivateKey(signingKey) : signingKey;
    } catch (cause) {
      throw Object.assign(new InvalidOptionError('signingKey', 'is not a PEM private key (.p8).'), { cause });
    }
    if (
      this.#key.type !== 'private' ||
      this.#key.asymmetricKeyType !== 'ec' ||
      this.#key.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
    ) {
      throw new InvalidOptionError('signingKey', 'must be a P-256 private key (ES256), as Apple issues .p8 keys.');
    }
    if (!/^[A-Z0-9]{10}$/.test(keyId)) throw new InvalidOptionError('keyId', 'must be the 10-character key id.');
    if (!/^[A-Z0-9]{10}$/.test(teamId)) throw new InvalidOptionError('teamId', 'must be the 10-character team id.');
    this.#keyId = keyId;
    this.#teamId = teamId;
    this.#clock = clock;
    this.#refreshMs = refreshMs;
  }

  /** The token in force, signed anew once `refreshMs` has passed since the last one. */
  get(): Promise<string> {
    const current = this.#current;
    if (current !== undefined && this.#clock.now() - current.issuedAt < this.#refreshMs)
      return Promise.resolve(current.jwt);
    this.#signing ??= this.#sign().finally(() => {
      this.#signing = undefined;
    });
    return this.#signing;
  }

  /** APNs called `jwt` expired: the next {@link get} signs a new one (unless another request already did). */
  expire(jwt: string): void {
    if (this.#current?.jwt === jwt) this.#current = undefined;
  }

  async #sign(): Promise<string> {
    const issuedAt = this.#clock.now();
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.#keyId })
      .setIssuer(this.#teamId)
      .setIssuedAt(Math.floor(issuedAt / 1000))
      .sign(this.#key);
    this.signed++;
    this.#current = { jwt, issuedAt };
    return jwt;
  }
}
