/**
 * Accounts and sessions in the store. An account's id is derived from its email (so a second
 * sign-up with the same email is a create conflict, not a race); a session is a random 32-byte
 * token handed to the client, stored only as its SHA-256 (a copy of the store grants no session),
 * with an expiry the API checks on its clock and a TTL the store sweeps with.
 *
 * A session read is cached (`sessionCacheMs`, 5 s by default) in the system's cache under the
 * token's hash, so a request's session costs no store read while cached; the expiry is checked on
 * every request all the same. Sign-out deletes the record, then the cached copy: it takes effect at
 * once in this process and in every process sharing the cache (Redis). The bound: a process with a
 * cache of its own (`memory://` beside another process), or a read of the session that raced the
 * sign-out and cached what it read just before, may take the signed-out token for up to
 * `sessionCacheMs` more. A cache that fails or loses its entries only sends reads to the store.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Cache, isCacheError } from '@hubbub/cache';
import type { Clock } from '@hubbub/kernel';
import { type Container, isStoreError } from '@hubbub/store';
import { DeliveryError } from './errors.ts';
import { hashPassword, verifyNothing, verifyPassword } from './passwords.ts';
import type { Actor, Role } from './rules.ts';

export interface AccountRecord {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly restaurantId?: string;
  readonly passwordHash: string;
  readonly createdAt: string;
}

export type PublicAccount = Omit<AccountRecord, 'passwordHash'>;

interface SessionRecord {
  readonly id: string;
  readonly accountId: string;
  readonly role: Role;
  readonly restaurantId?: string;
  readonly expiresAt: number;
  readonly ttl: number;
}

/** What a request's session grants. */
export interface Principal extends Actor {
  readonly sessionId: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The account id of an email (lower-cased): `u-` and 24 hex digits of its SHA-256. */
export const accountIdOf = (email: string): string => `u-${sha256(email.trim().toLowerCase()).slice(0, 24)}`;

export const publicAccount = ({ passwordHash: _, ...account }: AccountRecord): PublicAccount => account;

export interface AccountsOptions {
  readonly accounts: Container;
  readonly sessions: Container;
  readonly clock: Clock;
  /** How long a session lasts, in seconds. */
  readonly sessionTtlSeconds: number;
  /** Session reads are cached here (see the module comment). @default none: each request reads the store */
  readonly cache?: Cache | undefined;
  /** How long a session read stays cached, in ms: the bound on a sign-out elsewhere. @default 5_000 */
  readonly sessionCacheMs?: number | undefined;
}

export function createAccounts(options: AccountsOptions) {
  const { accounts, sessions, clock, sessionTtlSeconds, cache } = options;
  const sessionCacheMs = options.sessionCacheMs ?? 5_000;
  const cacheKey = (id: string) => `delivery:session:${id}`;

  async function readSession(id: string): Promise<SessionRecord | undefined> {
    const load = async () => (await sessions.item(id, id).read<SessionRecord>()).resource;
    if (cache === undefined || sessionCacheMs <= 0) return load();
    try {
      // An unknown token is not cached: a made-up one is one store read, as before.
      return await cache.getOrLoad<SessionRecord | undefined>(cacheKey(id), load, { ttlMs: sessionCacheMs });
    } catch (err) {
      if (isCacheError(err)) return load();
      throw err;
    }
  }

  async function create(input: {
    email: string;
    password: string;
    name: string;
    role: Role;
    restaurantId?: string | undefined;
  }): Promise<AccountRecord> {
    const email = input.email.trim().toLowerCase();
    const record: AccountRecord = {
      id: accountIdOf(email),
      email,
      name: input.name,
      role: input.role,
      ...(input.restaurantId === undefined ? {} : { restaurantId: input.restaurantId }),
      passwordHash: await hashPassword(input.password),
      createdAt: new Date(clock.now()).toISOString(),
    };
    try {
      await accounts.items.create(record);
    } catch (err) {
      if (isStoreError(err, 'STORE_CONFLICT')) {
        throw new DeliveryError('DELIVERY_EMAIL_TAKEN', 'An account with this email exists: sign in.', {
          detail: { field: 'email' },
        });
      }
      throw err;
    }
    return record;
  }

  async function read(id: string): Promise<AccountRecord | undefined> {
    return (await accounts.item(id, id).read<AccountRecord>()).resource;
  }

  /** The account for an email and password; DELIVERY_INVALID_CREDENTIALS otherwise (which of the two is not said). */
  async function authenticate(email: string, password: string): Promise<AccountRecord> {
    const account = await read(accountIdOf(email));
    const ok =
      account === undefined ? await verifyNothing(password) : await verifyPassword(password, account.passwordHash);
    if (!ok || account === undefined) {
      throw new DeliveryError('DELIVERY_INVALID_CREDENTIALS', 'The email or the password is wrong.');
    }
    return account;
  }

  /** A new session for the account: the token to hand out (never stored) and its expiry. */
  async function openSession(account: AccountRecord): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = clock.now() + sessionTtlSeconds * 1000;
    const record: SessionRecord = {
      id: sha256(token),
      accountId: account.id,
      role: account.role,
      ...(account.restaurantId === undefined ? {} : { restaurantId: account.restaurantId }),
      expiresAt,
      ttl: sessionTtlSeconds,
    };
    await sessions.items.create(record);
    return { token, expiresAt };
  }

  /** The principal of a token; DELIVERY_UNAUTHORIZED (`detail.reason`) for a malformed, unknown or expired one. */
  async function resolve(token: string): Promise<Principal> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw unauthorized('malformed');
    const id = sha256(token);
    const session = await readSession(id);
    if (session === undefined) throw unauthorized('unknown');
    if (session.expiresAt <= clock.now()) throw unauthorized('expired');
    return {
      sessionId: id,
      id: session.accountId,
      role: session.role,
      ...(session.restaurantId === undefined ? {} : { restaurantId: session.restaurantId }),
    };
  }

  async function closeSession(principal: Principal): Promise<void> {
    try {
      await sessions.item(principal.sessionId, principal.sessionId).delete();
    } catch (err) {
      if (!isStoreError(err, 'STORE_NOT_FOUND')) throw err;
    }
    // After the store: a read that misses the cache from now on finds no session.
    await cache?.delete(cacheKey(principal.sessionId)).catch((err: unknown) => {
      if (!isCacheError(err)) throw err;
    });
  }

  return { create, read, authenticate, openSession, resolve, closeSession };
}

export type Accounts = ReturnType<typeof createAccounts>;

export function unauthorized(reason: 'missing' | 'malformed' | 'unknown' | 'expired'): DeliveryError {
  return new DeliveryError(
    'DELIVERY_UNAUTHORIZED',
    reason === 'expired' ? 'The session has expired: sign in again.' : 'Sign in first.',
    { detail: { reason } },
  );
}
