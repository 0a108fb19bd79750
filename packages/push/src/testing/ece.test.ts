import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decryptAes128gcm, EceError, parseEceHeader } from './ece.ts';

const b64 = (s: string) => Buffer.from(s, 'base64url');

describe('aes128gcm decryption (RFC 8188)', () => {
  it('decrypts the RFC 8188 §3.1 example: one record, rs 4096, no key id', () => {
    const body = b64('I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg');
    assert.equal(parseEceHeader(body).recordSize, 4096);
    assert.equal(decryptAes128gcm(body, b64('yqdlZ-tYemfogSmv7Ws5PQ')).toString(), 'I am the walrus');
  });

  it('decrypts the RFC 8188 §3.2 example: several records of 25 bytes, key id "a1"', () => {
    const body = b64(
      'uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA',
    );
    const header = parseEceHeader(body);
    assert.equal(header.recordSize, 25);
    assert.equal(header.keyId.toString(), 'a1');
    assert.equal(decryptAes128gcm(body, b64('BO3ZVPxUlnLORbVGMpbT1Q')).toString(), 'I am the walrus');
  });

  it('refuses a wrong key, a truncated record and a truncated header', () => {
    const body = b64('I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg');
    assert.throws(() => decryptAes128gcm(body, Buffer.alloc(16)), EceError);
    assert.throws(() => decryptAes128gcm(body.subarray(0, body.length - 1), b64('yqdlZ-tYemfogSmv7Ws5PQ')), EceError);
    assert.throws(() => decryptAes128gcm(body.subarray(0, 15), b64('yqdlZ-tYemfogSmv7Ws5PQ')), EceError);
    assert.throws(() => decryptAes128gcm(body.subarray(0, 21), b64('yqdlZ-tYemfogSmv7Ws5PQ')), EceError);
  });
});
