/**
 * Notification Hubs shared access signatures, as `@azure/notification-hubs` makes them:
 * `SharedAccessSignature sr=<E(lower(base))>&sig=<E(base64 HMAC-SHA256)>&se=<unix s>&skn=<E(name)>`
 * with `E = encodeURIComponent`, `base` the connection string's endpoint (`sb://` → `https://`),
 * and the signature computed with the key's UTF-8 bytes over `sr + "\n" + se`, `sr` exactly as it
 * travels (still percent-encoded). Verification looks the key up by name, checks the expiry, the
 * signature (constant time), that the token's audience covers the request (same origin as one the
 * front answers on, path a prefix of the request's), and that the key's policy grants the right
 * the route needs.
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a policy's key may do. `Manage` includes `Send` and `Listen`. */
export type AccessRight = 'Listen' | 'Send' | 'Manage';

/** A shared access policy of the hub: a key name, its key, and its rights. */
export interface AccessPolicy {
  /** `SharedAccessKeyName`, e.g. `DefaultFullSharedAccessSignature`. */
  readonly name: string;
  /** `SharedAccessKey`: any string of at least 32 characters (Azure's are 44-character base64). */
  readonly key: string;
  readonly rights: readonly AccessRight[];
}

/** A fresh key in Azure's shape: 32 random bytes, base64. */
export function generateAccessKey(): string {
  return randomBytes(32).toString('base64');
}

/** The two policies every Notification Hub has: full (Listen, Send, Manage) and listen-only, with the given keys. */
export function defaultAccessPolicies(keys: { full: string; listen: string }): AccessPolicy[] {
  return [
    { name: 'DefaultFullSharedAccessSignature', key: keys.full, rights: ['Listen', 'Send', 'Manage'] },
    { name: 'DefaultListenSharedAccessSignature', key: keys.listen, rights: ['Listen'] },
  ];
}

/** A token as the SDK builds it; for the CLI, the TypeScript client and tests. */
export function createSasToken(resource: string, policy: Pick<AccessPolicy, 'name' | 'key'>, expiresAtSeconds: number) {
  const sr = encodeURIComponent(resource.toLowerCase());
  const se = String(Math.floor(expiresAtSeconds));
  const sig = createHmac('sha256', Buffer.from(policy.key, 'utf8')).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(policy.name)}`;
}

export interface VerifyInput {
  /** The `Authorization` header value. */
  readonly header: string | undefined;
  /** Origins (`https://127.0.0.1:7443`, lower case, no trailing slash) the front answers on. */
  readonly origins: ReadonlySet<string>;
  /** The request path as sent (`/hub/messages/`). */
  readonly path: string;
  /** The right the route needs. */
  readonly right: AccessRight;
  readonly nowMs: number;
  /** Tolerated clock difference for the expiry. */
  readonly skewMs: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly policy: AccessPolicy }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

const scheme = 'sharedaccesssignature ';

/** Checks a request's token against the hub's policies. Never throws. */
export function verifySasToken(policies: ReadonlyMap<string, AccessPolicy>, input: VerifyInput): VerifyResult {
  const fail = (reason: string): VerifyResult => ({ ok: false, status: 401, reason });
  const header = input.header;
  if (header === undefined || header === '') return fail('the Authorization header is missing');
  if (header.length > 4096) return fail('the Authorization header is too long');
  if (header.slice(0, scheme.length).toLowerCase() !== scheme)
    return fail('Authorization is not a SharedAccessSignature');
  const fields = new Map<string, string>();
  for (const part of header.slice(scheme.length).trim().split('&')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).toLowerCase();
    if (eq <= 0 || fields.has(name)) return fail('the SharedAccessSignature is malformed');
    fields.set(name, part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined)
    return fail('the SharedAccessSignature needs sr, sig, se and skn');
  let keyName: string;
  let signature: Buffer;
  let audience: string;
  try {
    keyName = decodeURIComponent(skn);
    signature = Buffer.from(decodeURIComponent(sig), 'base64');
    audience = decodeURIComponent(sr);
  } catch {
    return fail('the SharedAccessSignature has malformed percent-encoding');
  }
  if (!/^\d{1,12}$/.test(se)) return fail('se must be the expiry in seconds since the epoch');
  const policy = policies.get(keyName);
  if (policy === undefined) return fail(`the key name '${keyName.slice(0, 64)}' is not a policy of this hub`);
  const expected = createHmac('sha256', Buffer.from(policy.key, 'utf8')).update(`${sr}\n${se}`).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected))
    return fail('the signature does not match');
  if (Number(se) * 1000 + input.skewMs <= input.nowMs) return fail('the token has expired');
  if (!covers(audience, input.origins, input.path))
    return fail(`the token's audience '${audience.slice(0, 128)}' does not cover this hub`);
  if (!grants(policy, input.right))
    return { ok: false, status: 403, reason: `the policy '${policy.name}' lacks the ${input.right} right` };
  return { ok: true, policy };
}

export function grants(policy: AccessPolicy, right: AccessRight): boolean {
  return policy.rights.includes('Manage') || policy.rights.includes(right);
}

/** The audience with `sb://`/`http://` read as `https://` and a trailing `/` covers `origin + path` when it prefixes it. */
function covers(audience: string, origins: ReadonlySet<string>, path: string): boolean {
  const match = /^(?:sb|https?):\/\/([^/?#]+)(\/[^?#]*)?$/i.exec(audience.trim());
  if (match === null) return false;
  const origin = `https://${match[1]!.toLowerCase()}`;
  if (!origins.has(origin)) return false;
  const prefix = (match[2] ?? '/').toLowerCase().replace(/\/?$/, '/');
  return `${path.toLowerCase()}/`.startsWith(prefix);
}
