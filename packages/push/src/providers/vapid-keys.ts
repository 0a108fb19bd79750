/**
 * VAPID key generation apart from the Web Push provider (and the `web-push` library it loads), for
 * code that makes a hub's keys without sending: `@hubbub/push/vapid-keys`.
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';

export interface VapidKeys {
  /** The uncompressed P-256 public key (65 bytes), base64url: the browser's `applicationServerKey`. */
  readonly publicKey: string;
  /** The private scalar (32 bytes), base64url. */
  readonly privateKey: string;
}

/** A fresh VAPID key pair (P-256), in the base64url forms browsers and hubs exchange. */
export function generateVapidKeys(): VapidKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([
    Buffer.of(4),
    Buffer.from(pub.x ?? '', 'base64url'),
    Buffer.from(pub.y ?? '', 'base64url'),
  ]);
  return { publicKey: raw.toString('base64url'), privateKey: jwk.d ?? '' };
}
