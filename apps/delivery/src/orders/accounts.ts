/**
 * Accounts and sessions in the store. An account's id is derived from its email (so a second
 * sign-up with the same email is a create conflict, not a race); a session is a random 32-byte
 * token handed to the client, stored only as its SHA-256 (a copy of the store grants no session),
 * with an expiry the API checks on its clock and a TTL the store sweeps with.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
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
}

export function createAccounts(options: AccountsOptions) {
  const { accounts, sessions, clock, sessionTtlSeconds } = options;

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
    const session = (await sessions.item(id, id).read<SessionRecord>()).resource;
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
