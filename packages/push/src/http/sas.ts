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
import { randomBytes } from 'node:crypto';
import { grantsRight, parseSasToken, type SasRight, sasSignatureMatches, signSasToken } from '@hubbub/kernel';

/** What a policy's key may do. `Manage` includes `Send` and `Listen`. */
export type AccessRight = SasRight;

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
  return signSasToken(resource.toLowerCase(), policy, expiresAtSeconds);
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

/** Checks a request's token against the hub's policies. Never throws. */
export function verifySasToken(policies: ReadonlyMap<string, AccessPolicy>, input: VerifyInput): VerifyResult {
  const fail = (reason: string): VerifyResult => ({ ok: false, status: 401, reason });
  const token = parseSasToken(input.header);
  if ('error' in token) return fail(token.error);
  const policy = policies.get(token.keyName);
  if (policy === undefined) return fail(`the key name '${token.keyName.slice(0, 64)}' is not a policy of this hub`);
  if (!sasSignatureMatches(token, policy.key)) return fail('the signature does not match');
  if (Number(token.se) * 1000 + input.skewMs <= input.nowMs) return fail('the token has expired');
  if (!covers(token.resource, input.origins, input.path))
    return fail(`the token's audience '${token.resource.slice(0, 128)}' does not cover this hub`);
  if (!grants(policy, input.right))
    return { ok: false, status: 403, reason: `the policy '${policy.name}' lacks the ${input.right} right` };
  return { ok: true, policy };
}

export function grants(policy: AccessPolicy, right: AccessRight): boolean {
  return grantsRight(policy.rights, right);
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
