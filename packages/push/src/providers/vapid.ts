/**
 * VAPID (RFC 8292) for the Web Push provider: key generation, checking the hub's keys once at
 * construction, and one signed `Authorization` header per push-service origin, reused until half
 * its lifetime has passed (the JWT names the origin, not the subscription, so signing per message
 * would only burn CPU). Signing is the `web-push` library's.
 * @module
 */
import { createECDH, createPublicKey } from 'node:crypto';
import { type Clock, InvalidOptionError } from '@hubbub/kernel';
import webpush from 'web-push';
import type { VapidKeys } from './vapid-keys.ts';

export { generateVapidKeys, type VapidKeys } from './vapid-keys.ts';

export interface VapidDetails extends VapidKeys {
  /** Contact for the push service operator: a `mailto:` or `https:` URL. */
  readonly subject: string;
}

/** Throws KERNEL_INVALID_OPTION unless the keys are a matching P-256 pair and the subject a contact URL. */
export function checkVapidDetails(option: string, vapid: VapidDetails | undefined): void {
  if (vapid === undefined) throw new InvalidOptionError(option, 'VAPID keys and subject are required.');
  let subject: URL;
  try {
    subject = new URL(vapid.subject);
  } catch {
    throw new InvalidOptionError(`${option}.subject`, 'must be a mailto: or https: URL.');
  }
  if (subject.protocol !== 'mailto:' && subject.protocol !== 'https:') {
    throw new InvalidOptionError(`${option}.subject`, 'must be a mailto: or https: URL.');
  }
  if (subject.protocol === 'https:' && subject.hostname === 'localhost') {
    throw new InvalidOptionError(
      `${option}.subject`,
      "must be a contact push services can reach; Apple's refuses localhost.",
    );
  }
  const pub = decodeB64url(vapid.publicKey);
  if (pub?.length !== 65 || pub[0] !== 4) {
    throw new InvalidOptionError(`${option}.publicKey`, 'must be an uncompressed P-256 point (65 bytes), base64url.');
  }
  const d = decodeB64url(vapid.privateKey);
  if (d?.length !== 32) throw new InvalidOptionError(`${option}.privateKey`, 'must be 32 bytes, base64url.');
  let derived: Buffer;
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: pub.subarray(1, 33).toString('base64url'),
        y: pub.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    derived = ecdh.getPublicKey();
  } catch {
    throw new InvalidOptionError(`${option}.publicKey`, 'is not a valid P-256 key pair.');
  }
  if (!derived.equals(pub))
    throw new InvalidOptionError(`${option}.privateKey`, 'is not the private key of publicKey.');
}

/** Strict base64url (the `+/` alphabet and padding tolerated); undefined when it is not. */
export function decodeB64url(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_+/-]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64url');
}

/** Signs and caches one VAPID `Authorization` header per push-service origin. */
export class VapidSigner {
  readonly #vapid: VapidDetails;
  readonly #clock: Clock;
  readonly #lifetimeSeconds: number;
  readonly #cache = new Map<string, { header: string; renewAt: number }>();

  constructor(vapid: VapidDetails, clock: Clock, lifetimeSeconds: number) {
    this.#vapid = vapid;
    this.#clock = clock;
    this.#lifetimeSeconds = lifetimeSeconds;
  }

  /** The header for `origin` (`https://push.example.net`), signed again once half its lifetime passed. */
  authorization(origin: string): string {
    const now = this.#clock.now();
    const cached = this.#cache.get(origin);
    if (cached !== undefined && now < cached.renewAt) return cached.header;
    const exp = Math.floor(now / 1000) + this.#lifetimeSeconds;
    const { Authorization } = webpush.getVapidHeaders(
      origin,
      this.#vapid.subject,
      this.#vapid.publicKey,
      this.#vapid.privateKey,
      'aes128gcm',
      exp,
    ) as { Authorization: string };
    if (this.#cache.size >= 1024) this.#cache.clear(); // origins are few; a flood of them is bounded
    this.#cache.set(origin, { header: Authorization, renewAt: now + (this.#lifetimeSeconds * 1000) / 2 });
    return Authorization;
  }
}
