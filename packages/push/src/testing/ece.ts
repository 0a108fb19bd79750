/**
 * The user agent's half of Web Push message encryption, written from the RFCs for the local push
 * endpoint: parse the `aes128gcm` content coding (RFC 8188 §2), derive the key as a browser does
 * (RFC 8291 §3.3–3.4: ECDH with the sender's key from the header's keyid, HKDF with the
 * subscription's auth secret), decrypt each record with AES-128-GCM and strip its padding.
 * Anything malformed throws an {@link EceError} naming what.
 * @module
 */
import { createDecipheriv, type ECDH, hkdfSync } from 'node:crypto';

export class EceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EceError';
  }
}

export interface EceHeader {
  readonly salt: Buffer;
  readonly recordSize: number;
  /** The sender's ephemeral P-256 public key (65 bytes, uncompressed) for Web Push. */
  readonly keyId: Buffer;
  /** Where the records start. */
  readonly length: number;
}

const tagLength = 16;

/** Reads `salt(16) ‖ rs(4, big-endian) ‖ idlen(1) ‖ keyid(idlen)` (RFC 8188 §2.1). */
export function parseEceHeader(body: Buffer): EceHeader {
  if (body.length < 21) throw new EceError('The body is shorter than an aes128gcm header.');
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20] ?? 0;
  if (recordSize < 18) throw new EceError(`The record size ${recordSize} is below the minimum of 18.`);
  if (body.length < 21 + idLength) throw new EceError('The body ends inside the header key id.');
  return { salt: body.subarray(0, 16), recordSize, keyId: body.subarray(21, 21 + idLength), length: 21 + idLength };
}

/**
 * Decrypts an RFC 8291 message for the subscription whose key pair is `receiver` and whose auth
 * secret is `authSecret` (16 bytes). Returns the plaintext.
 */
export function decryptWebPush(body: Buffer, receiver: ECDH, authSecret: Buffer): Buffer {
  const header = parseEceHeader(body);
  if (header.keyId.length !== 65 || header.keyId[0] !== 4) {
    throw new EceError('The header key id is not an uncompressed P-256 public key (RFC 8291 §4).');
  }
  let shared: Buffer;
  try {
    shared = receiver.computeSecret(header.keyId);
  } catch {
    throw new EceError('The sender public key is not a point on P-256.');
  }
  // RFC 8291 §3.4: key_info = "WebPush: info" ‖ 0x00 ‖ ua_public ‖ as_public; IKM = HKDF(auth, ecdh, key_info, 32).
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), receiver.getPublicKey(), header.keyId]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, authSecret, keyInfo, 32));
  return decryptRecords(body.subarray(header.length), header, ikm);
}

/** RFC 8188 alone: decrypts an `aes128gcm` body whose input keying material is `ikm`. */
export function decryptAes128gcm(body: Buffer, ikm: Buffer): Buffer {
  const header = parseEceHeader(body);
  return decryptRecords(body.subarray(header.length), header, ikm);
}

/** RFC 8188 §2.2–2.3: CEK and NONCE from the salt and IKM, then record by record. */
function decryptRecords(records: Buffer, header: EceHeader, ikm: Buffer): Buffer {
  const cek = Buffer.from(hkdfSync('sha256', ikm, header.salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const baseNonce = Buffer.from(hkdfSync('sha256', ikm, header.salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  if (records.length === 0) throw new EceError('The body has no record.');
  const out: Buffer[] = [];
  let seq = 0;
  for (let at = 0; at < records.length; at += header.recordSize, seq++) {
    const record = records.subarray(at, at + header.recordSize);
    const last = at + header.recordSize >= records.length;
    if (record.length <= tagLength) throw new EceError(`Record ${seq} is too short to hold a tag and a delimiter.`);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonceFor(baseNonce, seq));
    decipher.setAuthTag(record.subarray(record.length - tagLength));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(record.subarray(0, record.length - tagLength)), decipher.final()]);
    } catch {
      throw new EceError(`Record ${seq} failed authentication (wrong key, auth secret or tampered body).`);
    }
    out.push(unpad(plain, last, seq));
  }
  return Buffer.concat(out);
}

/** The record nonce: NONCE XOR SEQ, SEQ as a 96-bit big-endian number (RFC 8188 §2.3; SEQ < 2^32 here). */
function nonceFor(base: Buffer, seq: number): Buffer {
  const nonce = Buffer.from(base);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8);
  return nonce;
}

/** Drops the padding: trailing zeros, then the delimiter, 0x02 in the last record, 0x01 before (RFC 8188 §2). */
function unpad(plain: Buffer, last: boolean, seq: number): Buffer {
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (end < 0) throw new EceError(`Record ${seq} has no padding delimiter.`);
  const delimiter = plain[end];
  if (delimiter !== (last ? 2 : 1)) {
    throw new EceError(`Record ${seq} ends with delimiter ${delimiter}, expected ${last ? 2 : 1}.`);
  }
  return plain.subarray(0, end);
}
