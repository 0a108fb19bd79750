import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { grantsRight, parseSasToken, type SasToken, sasSignatureMatches, signSasToken } from './sas.ts';

const key = { name: 'RootManageSharedAccessKey', key: 'c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=' };
const parsed = (header: string | undefined): SasToken => {
  const token = parseSasToken(header);
  if ('error' in token) throw new Error(token.error);
  return token;
};

describe('shared access signatures', () => {
  it('signs as the Azure SDKs do and verifies what it signed', () => {
    const header = signSasToken('sb://ns/orders', key, 1_900_000_000);
    const token = parsed(header);
    assert.equal(token.resource, 'sb://ns/orders');
    assert.equal(token.sr, encodeURIComponent('sb://ns/orders'));
    assert.equal(token.keyName, key.name);
    assert.equal(token.se, '1900000000');
    // The signature an SDK computes independently: HMAC-SHA256 of the key's UTF-8 bytes over sr\nse.
    const expected = createHmac('sha256', Buffer.from(key.key, 'utf8')).update(`${token.sr}\n1900000000`).digest();
    assert.deepEqual(token.signature, expected);
    assert.ok(sasSignatureMatches(token, key.key));
    assert.ok(!sasSignatureMatches(token, `${key.key}x`));
    assert.ok(!sasSignatureMatches(token, key.key, 'sb%3A%2F%2Fns%2Fother'));
  });

  it('refuses malformed headers with a reason, and never throws', () => {
    const sig = encodeURIComponent('AAAA');
    const cases: [string | undefined, RegExp][] = [
      [undefined, /missing/],
      ['', /missing/],
      ['Bearer abc', /not a SharedAccessSignature/],
      ['SharedAccessSignature sr=a&sig=b', /needs sr, sig, se and skn/],
      ['SharedAccessSignature sr=a&sr=b&sig=c&se=1&skn=k', /malformed/],
      ['SharedAccessSignature =a&sig=c&se=1&skn=k', /malformed/],
      [`SharedAccessSignature sr=a&sig=${sig}&se=soon&skn=k`, /expiry in seconds/],
      [`SharedAccessSignature sr=%E0%A4%A&sig=${sig}&se=1&skn=k`, /percent-encoding/],
      [`SharedAccessSignature sr=${'a'.repeat(5000)}&sig=${sig}&se=1&skn=k`, /too long/],
    ];
    for (const [header, reason] of cases) {
      const result = parseSasToken(header);
      assert.ok('error' in result, String(header).slice(0, 40));
      assert.match(result.error, reason);
    }
    // The scheme is case-insensitive, as the services read it.
    assert.ok(
      !('error' in parseSasToken(signSasToken('q', key, 1).replace('SharedAccessSignature', 'sharedaccesssignature'))),
    );
  });

  it('Manage grants every right; the others only themselves', () => {
    assert.ok(grantsRight(['Manage'], 'Send'));
    assert.ok(grantsRight(['Send', 'Listen'], 'Listen'));
    assert.ok(!grantsRight(['Listen'], 'Send'));
    assert.ok(!grantsRight([], 'Listen'));
  });
});
