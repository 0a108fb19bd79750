import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { type AccessPolicy, createSasToken, defaultAccessPolicies, generateAccessKey, verifySasToken } from './sas.ts';

const policies = new Map(
  defaultAccessPolicies({ full: generateAccessKey(), listen: generateAccessKey() }).map((p) => [p.name, p] as const),
);
const full = policies.get('DefaultFullSharedAccessSignature')!;
const listen = policies.get('DefaultListenSharedAccessSignature')!;
const origins = new Set(['https://127.0.0.1:7443', 'https://localhost:7443']);
const now = 1_800_000_000_000;
const inAnHour = now / 1000 + 3600;

function verify(header: string | undefined, over: Partial<Parameters<typeof verifySasToken>[1]> = {}) {
  return verifySasToken(policies, {
    header,
    origins,
    path: '/hub/messages/',
    right: 'Send',
    nowMs: now,
    skewMs: 0,
    ...over,
  });
}

describe('shared access signatures', () => {
  it('accepts a token made as the SDK makes it: the lower-cased endpoint, signed as it travels, with the UTF-8 key', () => {
    // the SDK's recipe, written out: sr = encodeURIComponent(lower(base)), HMAC over `${sr}\n${se}`
    const sr = encodeURIComponent('https://127.0.0.1:7443/');
    const se = String(inAnHour);
    const sig = createHmac('sha256', Buffer.from(full.key, 'utf8')).update(`${sr}\n${se}`).digest('base64');
    const header = `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${full.name}`;
    assert.deepEqual(verify(header), { ok: true, policy: full });
    assert.equal(verify(createSasToken('https://LOCALHOST:7443', full, inAnHour)).ok, true);
    assert.equal(verify(createSasToken('sb://127.0.0.1:7443/', full, inAnHour)).ok, true);
    assert.equal(verify(createSasToken('https://127.0.0.1:7443/hub/', full, inAnHour)).ok, true);
  });

  it('refuses a wrong signature, an unknown key name, an expired token and malformed ones with 401', () => {
    const token = createSasToken('https://127.0.0.1:7443/', full, inAnHour);
    const cases: [string | undefined, RegExp][] = [
      [undefined, /missing/],
      ['', /missing/],
      ['Bearer abc', /not a SharedAccessSignature/],
      [createSasToken('https://127.0.0.1:7443/', { name: full.name, key: listen.key }, inAnHour), /does not match/],
      [token.replace(/sig=[^&]+/, 'sig=AAAA'), /does not match/],
      [token.replace(/se=\d+/, `se=${inAnHour + 1}`), /does not match/],
      [createSasToken('https://127.0.0.1:7443/', { name: 'Other', key: full.key }, inAnHour), /not a policy/],
      [createSasToken('https://127.0.0.1:7443/', full, now / 1000 - 1), /expired/],
      [token.replace(/&skn=[^&]+/, ''), /needs sr, sig, se and skn/],
      [`${token}&sr=x`, /malformed/],
      [token.replace(/sig=/, 'sig=%ZZ'), /percent-encoding/],
      [token.replace(/se=\d+/, 'se=soon'), /expiry/],
      [`${token}${'&x=y'.repeat(2000)}`, /too long/],
    ];
    for (const [header, reason] of cases) {
      const result = verify(header);
      assert.equal(result.ok, false, String(header).slice(0, 80));
      if (!result.ok) {
        assert.equal(result.status, 401);
        assert.match(result.reason, reason);
      }
    }
    // the skew lets a just-expired token through, and no further
    const justExpired = createSasToken('https://127.0.0.1:7443/', full, now / 1000 - 10);
    assert.equal(verify(justExpired, { skewMs: 60_000 }).ok, true);
    assert.equal(verify(justExpired, { skewMs: 5_000 }).ok, false);
  });

  it('refuses a token whose audience is another host, port, scheme or hub', () => {
    for (const audience of [
      'https://10.0.0.1:7443/',
      'https://127.0.0.1:7444/',
      'ftp://127.0.0.1:7443/',
      'https://127.0.0.1:7443/otherhub/',
      'https://127.0.0.1:7443/hu/',
      'not a url',
    ]) {
      const result = verify(createSasToken(audience, full, inAnHour));
      assert.equal(result.ok, false, audience);
      if (!result.ok) assert.match(result.reason, /audience/);
    }
  });

  it('grants by right: listen keys register devices, they neither send nor read; Manage grants all', () => {
    const listenToken = createSasToken('https://127.0.0.1:7443/', listen, inAnHour);
    const fullToken = createSasToken('https://127.0.0.1:7443/', full, inAnHour);
    assert.equal(verify(listenToken, { right: 'Listen' }).ok, true);
    for (const right of ['Send', 'Manage'] as const) {
      const result = verify(listenToken, { right });
      assert.deepEqual(result, {
        ok: false,
        status: 403,
        reason: `the policy 'DefaultListenSharedAccessSignature' lacks the ${right} right`,
      });
    }
    for (const right of ['Listen', 'Send', 'Manage'] as const) assert.equal(verify(fullToken, { right }).ok, true);
    const manageOnly: AccessPolicy = { name: 'm', key: generateAccessKey(), rights: ['Manage'] };
    const result = verifySasToken(new Map([['m', manageOnly]]), {
      header: createSasToken('https://127.0.0.1:7443/', manageOnly, inAnHour),
      origins,
      path: '/hub/installations/x',
      right: 'Listen',
      nowMs: now,
      skewMs: 0,
    });
    assert.equal(result.ok, true);
  });
});
