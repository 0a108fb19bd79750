/**
 * Cosmos DB master-key authorization: every request carries `x-ms-date` and
 * `authorization: type=master&ver=1.0&sig=<signature>` (URL-encoded), the signature being
 * base64(HMAC-SHA256(base64-decoded key, `verb\nresourceType\nresourceLink\ndate\n\n`)) with verb,
 * resource type and date lower-cased. A request more than `maxSkewMs` away from the server's clock
 * is refused, which bounds replay.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignInput {
  /** GET, POST, PUT, PATCH, DELETE. */
  readonly verb: string;
  /** `dbs`, `colls` or `docs`. */
  readonly resourceType: string;
  /** `dbs/shop/colls/orders` (ids as they are, not URL-encoded); '' for the database list. */
  readonly resourceLink: string;
  /** The `x-ms-date` header value (an HTTP date). */
  readonly date: string;
}

function signature(key: Buffer, input: SignInput): string {
  const text = `${input.verb.toLowerCase()}\n${input.resourceType.toLowerCase()}\n${input.resourceLink}\n${input.date.toLowerCase()}\n\n`;
  return createHmac('sha256', key).update(text).digest('base64');
}

/** The `authorization` header for a request, as the Cosmos DB SDKs compute it. */
export function signRequest(key: string, input: SignInput): string {
  return encodeURIComponent(`type=master&ver=1.0&sig=${signature(Buffer.from(key, 'base64'), input)}`);
}

export type AuthResult = { ok: true; readOnly: boolean } | { ok: false; reason: string };

export interface AuthKeys {
  readonly key: Buffer;
  readonly readOnlyKey?: Buffer;
}

/** Checks a request's `authorization` and `x-ms-date` against the keys and the clock. */
export function verifyRequest(
  keys: AuthKeys,
  header: string | undefined,
  input: Omit<SignInput, 'date'> & { date: string | undefined },
  now: number,
  maxSkewMs: number,
): AuthResult {
  if (header === undefined || header === '') return { ok: false, reason: 'the authorization header is missing' };
  if (input.date === undefined) return { ok: false, reason: 'the x-ms-date header is missing' };
  const at = Date.parse(input.date);
  if (!Number.isFinite(at) || Math.abs(at - now) > maxSkewMs) {
    return { ok: false, reason: 'x-ms-date is not a date within the allowed clock skew' };
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(header);
  } catch {
    return { ok: false, reason: 'the authorization header is not URL-encoded' };
  }
  const parts = new Map(
    decoded.split('&').map((p) => [p.slice(0, p.indexOf('=')).toLowerCase(), p.slice(p.indexOf('=') + 1)]),
  );
  if (parts.get('type') !== 'master' || parts.get('ver') !== '1.0' || !parts.has('sig')) {
    return { ok: false, reason: 'authorization must be type=master&ver=1.0&sig=…' };
  }
  const given = Buffer.from(parts.get('sig')!, 'base64');
  const matches = (key: Buffer): boolean => {
    const expected = Buffer.from(signature(key, { ...input, date: input.date! }), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  if (matches(keys.key)) return { ok: true, readOnly: false };
  if (keys.readOnlyKey !== undefined && matches(keys.readOnlyKey)) return { ok: true, readOnly: true };
  return { ok: false, reason: 'the signature does not match' };
}
