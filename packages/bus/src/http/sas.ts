/**
 * Service Bus shared access signatures:
 * `SharedAccessSignature sr=<urlencoded resource>&sig=<base64 HMAC-SHA256>&se=<expiry, s>&skn=<key name>`,
 * the signature computed with the named key over `urlencode(resource) + "\n" + expiry`.
 * @module
 */
import { parseSasToken, type SasRight, sasSignatureMatches, signSasToken } from '@hubbub/kernel';

export type { SasRight };

/** A named key that may sign tokens (Service Bus "SharedAccessKeyName" / "SharedAccessKey"). */
export interface SasKey {
  readonly name: string;
  readonly key: string;
  /** What tokens signed with this key may do (`Manage` implies the others). @default ['Manage'] */
  readonly rights?: readonly SasRight[];
}

/** Builds a token the way the Azure SDKs do; used by the CLI and tests. */
export function createSasToken(resource: string, key: SasKey, expiresAtSeconds: number): string {
  return signSasToken(resource, key, expiresAtSeconds);
}

/** `expiresAtMs`: when the token expires (its `se`, in ms since the epoch). */
export type SasResult = { ok: true; keyName: string; expiresAtMs: number } | { ok: false; reason: string };

/**
 * Checks an `Authorization` header value: known key, valid signature, not expired, and a resource
 * that covers `entityPath` (the token's resource path is the namespace root or a prefix of the entity).
 */
export function verifySasToken(
  header: string | undefined,
  keys: ReadonlyMap<string, string>,
  entityPath: string,
  nowMs: number,
  requestPath = entityPath,
): SasResult {
  const token = parseSasToken(header);
  if ('error' in token) return { ok: false, reason: token.error };
  const key = keys.get(token.keyName);
  if (key === undefined) return { ok: false, reason: `unknown key '${token.keyName.slice(0, 64)}'` };
  // Check what the client signed: the resource exactly as it appears in the token, and also the
  // canonical encoding (clients differ in percent-encoding case).
  const signed = sasSignatureMatches(token, key) || sasSignatureMatches(token, key, encodeURIComponent(token.resource));
  if (!signed) return { ok: false, reason: 'signature does not match' };
  const expiresAtMs = Number(token.se) * 1000;
  if (expiresAtMs <= nowMs) return { ok: false, reason: 'token expired' };
  if (!covers(token.resource, entityPath, requestPath)) {
    return { ok: false, reason: `token resource '${token.resource.slice(0, 128)}' does not cover '${entityPath}'` };
  }
  return { ok: true, keyName: token.keyName, expiresAtMs };
}

/** Whether a token resource (`http://host/prefix/queue`, `sb://ns/`, `queue`) grants access to `entityPath`. */
function covers(resource: string, entityPath: string, requestPath: string): boolean {
  let path = resource;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (scheme !== null) path = path.slice(scheme[0].length);
  path = path.replace(/^\/+|\/+$/g, '').toLowerCase();
  if (path === '') return true;
  const full = requestPath.replace(/^\/+|\/+$/g, '').toLowerCase();
  if (full === path || full.startsWith(`${path}/`)) return true;
  const entity = entityPath.replace(/^\/+|\/+$/g, '').toLowerCase();
  // The resource may include the mount prefix (`/bus/queue1`): accept any suffix-aligned match.
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const tail = segments.slice(i).join('/');
    if (entity === tail || entity.startsWith(`${tail}/`)) return true;
  }
  return false;
}
