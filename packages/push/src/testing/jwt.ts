/**
 * Compact JWS verification for the local protocol servers, with node:crypto alone (independent of
 * the `jose` and `web-push` code that signs): split, decode, check the algorithm the protocol
 * demands and the signature against the key the protocol names. Claims are the caller's to judge.
 * @module
 */
import { type KeyObject, verify } from 'node:crypto';

export interface VerifiedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Returns the header and claims, or a string saying why the token is refused. */
export function verifyJwt(token: string, alg: 'ES256' | 'RS256', key: KeyObject): VerifiedJwt | string {
  const parts = token.split('.');
  if (parts.length !== 3) return 'not a compact JWS';
  const [h = '', c = '', s = ''] = parts;
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  } catch {
    return 'header or claims are not base64url JSON';
  }
  if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) {
    return 'header or claims are not JSON objects';
  }
  if (header.alg !== alg) return `alg must be ${alg}, is ${String(header.alg)}`;
  const signature = Buffer.from(s, 'base64url');
  if (alg === 'ES256' && signature.length !== 64) return 'an ES256 signature is 64 bytes (r ‖ s)';
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${c}`),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
    signature,
  );
  return ok ? { header, claims } : 'bad signature';
}
