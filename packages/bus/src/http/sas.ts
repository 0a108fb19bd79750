/**
 * Service Bus shared access signatures:
 * `SharedAccessSignature sr=<urlencoded resource>&sig=<base64 HMAC-SHA256>&se=<expiry, s>&skn=<key name>`,
 * the signature computed with the named key over `urlencode(resource) + "\n" + expiry`.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a key may do, as Service Bus shared access policies grant it. */
export type SasRight = 'Send' | 'Listen' | 'Manage';

/** A named key that may sign tokens (Service Bus "SharedAccessKeyName" / "SharedAccessKey"). */
export interface SasKey {
  readonly name: string;
  readonly key: string;
  /** What tokens signed with this key may do (`Manage` implies the others). @default ['Manage'] */
  readonly rights?: readonly SasRight[];
}

/** Builds a token the way the Azure SDKs do; used by the CLI and tests. */
export function createSasToken(resource: string, key: SasKey, expiresAtSeconds: number): string {
  const sr = encodeURIComponent(resource);
  const se = String(Math.floor(expiresAtSeconds));
  const sig = createHmac('sha256', key.key).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(key.name)}`;
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
  if (header === undefined || header === '') return { ok: false, reason: 'missing Authorization header' };
  const prefix = 'SharedAccessSignature ';
  if (!header.startsWith(prefix)) return { ok: false, reason: 'Authorization is not a SharedAccessSignature' };
  const raw = new Map<string, string>();
  for (const part of header.slice(prefix.length).trim().split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed SharedAccessSignature' };
    raw.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  const sr = raw.get('sr');
  const sig = raw.get('sig');
  const se = raw.get('se');
  const skn = raw.get('skn');
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined) {
    return { ok: false, reason: 'SharedAccessSignature needs sr, sig, se and skn' };
  }
  let keyName: string;
  let signature: Buffer;
  let resource: string;
  try {
    keyName = decodeURIComponent(skn);
    signature = Buffer.from(decodeURIComponent(sig), 'base64');
    resource = decodeURIComponent(sr);
  } catch {
    return { ok: false, reason: 'malformed SharedAccessSignature encoding' };
  }
  const key = keys.get(keyName);
  if (key === undefined) return { ok: false, reason: `unknown key '${keyName}'` };
  if (!/^\d+$/.test(se)) return { ok: false, reason: 'se must be an expiry in seconds' };
  // Sign what the client signed: the resource exactly as it appears in the token, and also the
  // canonical encoding (clients differ in percent-encoding case).
  const candidates = new Set([sr, encodeURIComponent(resource)]);
  const valid = [...candidates].some((s) => {
    const expected = createHmac('sha256', key).update(`${s}\n${se}`).digest();
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  });
  if (!valid) return { ok: false, reason: 'signature does not match' };
  if (Number(se) * 1000 <= nowMs) return { ok: false, reason: 'token expired' };
  if (!covers(resource, entityPath, requestPath))
    return { ok: false, reason: `token resource '${resource}' does not cover '${entityPath}'` };
  return { ok: true, keyName, expiresAtMs: Number(se) * 1000 };
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
