/**
 * Shared access signatures, as Service Bus and Notification Hubs (and their SDKs) make them:
 * `SharedAccessSignature sr=<E(resource)>&sig=<E(base64 HMAC-SHA256)>&se=<expiry, s>&skn=<E(key name)>`
 * with `E = encodeURIComponent`, signed with the key's UTF-8 bytes over `sr + "\n" + se`, `sr` as
 * it travels (still percent-encoded). This module parses, signs and checks signatures; what a
 * token's resource must cover and which rights a route needs stay with each service.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a key may do, as shared access policies grant it. `Manage` includes the others. */
export type SasRight = 'Send' | 'Listen' | 'Manage';

/** The fields of a token: `sr` as sent and decoded, the signature's bytes, the expiry and key name. */
export interface SasToken {
  /** The resource exactly as it travels (percent-encoded): what was signed. */
  readonly sr: string;
  /** The resource, decoded. */
  readonly resource: string;
  readonly signature: Buffer;
  /** Expiry in seconds since the epoch, as sent (digits). */
  readonly se: string;
  readonly keyName: string;
}

/** The largest Authorization header taken. */
const MAX_HEADER = 4096;
const SCHEME = 'sharedaccesssignature ';

/** Parses an `Authorization` value into its fields, or says what is wrong with it. Never throws. */
export function parseSasToken(header: string | undefined): SasToken | { readonly error: string } {
  if (header === undefined || header === '') return { error: 'the Authorization header is missing' };
  if (header.length > MAX_HEADER) return { error: 'the Authorization header is too long' };
  if (header.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
    return { error: 'Authorization is not a SharedAccessSignature' };
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(SCHEME.length).trim().split('&')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).toLowerCase();
    if (eq <= 0 || fields.has(name)) return { error: 'the SharedAccessSignature is malformed' };
    fields.set(name, part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined) {
    return { error: 'the SharedAccessSignature needs sr, sig, se and skn' };
  }
  if (!/^\d{1,12}$/.test(se)) return { error: 'se must be the expiry in seconds since the epoch' };
  try {
    return {
      sr,
      resource: decodeURIComponent(sr),
      signature: Buffer.from(decodeURIComponent(sig), 'base64'),
      se,
      keyName: decodeURIComponent(skn),
    };
  } catch {
    return { error: 'the SharedAccessSignature has malformed percent-encoding' };
  }
}

/** The base64 signature of `sr` and `se` with `key` (its UTF-8 bytes). */
export function sasSignature(key: string, sr: string, se: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(`${sr}\n${se}`).digest('base64');
}

/** Whether `token` is signed with `key` over `sr` (its own by default), compared in constant time. */
export function sasSignatureMatches(token: SasToken, key: string, sr: string = token.sr): boolean {
  const expected = Buffer.from(sasSignature(key, sr, token.se), 'base64');
  return expected.length === token.signature.length && timingSafeEqual(expected, token.signature);
}

/** A token for `resource` signed with a named key; `resource` is encoded as given. */
export function signSasToken(resource: string, key: { name: string; key: string }, expiresAtSeconds: number): string {
  const sr = encodeURIComponent(resource);
  const se = String(Math.floor(expiresAtSeconds));
  const sig = sasSignature(key.key, sr, se);
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(key.name)}`;
}

/** Whether rights include `needed` (`Manage` includes every right). */
export function grantsRight(rights: readonly SasRight[], needed: SasRight): boolean {
  return rights.includes('Manage') || rights.includes(needed);
}
