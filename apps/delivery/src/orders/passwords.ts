/**
 * Password hashing with scrypt (`node:crypto`), the memory-hard KDF of RFC 7914:
 *
 *   N = 2^15, r = 8, p = 1 — 128·N·r = 32 MiB of memory and ~50-100 ms of one core per hash,
 *   a 16-byte random salt, a 32-byte key,
 *
 * OWASP's minimum for scrypt is N = 2^17 with r = 8 at p = 1 or an equivalent cost; 2^15 keeps a
 * sign-in under a tenth of a second on this machine class, and the parameters are stored with each
 * hash (`scrypt$15$8$1$<salt>$<key>`, base64url), so raising them later re-hashes nobody's password
 * yet checks old hashes. Comparison is constant-time (`timingSafeEqual`); an unknown account is
 * checked against a dummy hash so its answer takes as long as a wrong password's.
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. @default 15 */
  readonly logN: number;
  /** Block size. @default 8 */
  readonly r: number;
  /** Parallelism. @default 1 */
  readonly p: number;
}

export const defaultScrypt: ScryptParams = { logN: 15, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_BYTES,
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1_048_576 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** `scrypt$logN$r$p$salt$key` for a password. */
export async function hashPassword(password: string, params: ScryptParams = defaultScrypt): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return ['scrypt', params.logN, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `stored`; false (never a throw) for a malformed or out-of-range hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  // Bounds on what a stored hash may ask for, so a tampered record cannot make a sign-in cost gigabytes.
  if (![logN, r, p].every(Number.isInteger) || !(logN >= 10 && logN <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 4))
    return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, salt, { logN, r, p });
  return timingSafeEqual(key, expected);
}

let dummy: Promise<string> | undefined;

/** Spends what checking a real hash costs, for a sign-in with an unknown email. */
export async function verifyNothing(password: string): Promise<false> {
  dummy ??= hashPassword('not a password of anyone');
  await verifyPassword(password, await dummy);
  return false;
}
