import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureLocalCa } from '@hubbub/tls';
import { importJWK, SignJWT } from 'jose';
import webpush from 'web-push';
import { createWebPushProvider, generateVapidKeys } from '../src/providers/index.ts';
import { type PushEndpoint, startPushEndpoint } from '../src/testing/index.ts';

// The local RFC 8030 endpoint is a test peer: it must refuse what a push service (and the browser
// decrypting behind it) refuses, or tests against it would pass for a provider that is wrong.

const keys = generateVapidKeys();
const vapid = { ...keys, subject: 'mailto:ops@hubbub.test' };

describe('the local push endpoint refuses what a push service refuses', () => {
  let endpoint: PushEndpoint;
  before(async () => {
    endpoint = await startPushEndpoint();
  });
  after(() => endpoint.close());

  async function signed(claims: Record<string, unknown>, signWith = keys) {
    const key = await importJWK(jwkOf(signWith), 'ES256');
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(key);
  }
  const post = (path: string, headers: Record<string, string>, body: Buffer | string = 'x') =>
    fetch(`${endpoint.origin}${path}`, { method: 'POST', headers, body });

  it('checks the VAPID JWT: signature against k=, aud, exp within 24 h, sub', async () => {
    const sub = endpoint.subscribe();
    const path = new URL(sub.endpoint).pathname;
    const now = Math.floor(Date.now() / 1000);
    const good = { aud: endpoint.origin, exp: now + 600, sub: 'mailto:a@b.test' };
    const attempts: [Record<string, unknown>, RegExp, typeof keys?][] = [
      [{ ...good, aud: 'https://elsewhere.test' }, /aud/],
      [{ ...good, exp: now - 1 }, /expired/],
      [{ ...good, exp: now + 86_400 + 60 }, /24 hours/],
      [{ aud: good.aud, exp: good.exp }, /sub/],
      [good, /bad signature/, generateVapidKeys()],
    ];
    for (const [claims, reason, signer] of attempts) {
      const token = await signed(claims, signer);
      const response = await post(path, {
        Authorization: `vapid t=${token}, k=${keys.publicKey}`,
        TTL: '0',
        'Content-Encoding': 'aes128gcm',
      });
      assert.equal(response.status, 401, JSON.stringify(claims));
      assert.match(endpoint.refused.at(-1)?.reason ?? '', reason);
    }
    const missing = await post(path, { TTL: '0' });
    assert.equal(missing.status, 401);
    assert.equal((await post('/elsewhere', {})).status, 404);
  });

  it('refuses a body it cannot decrypt, a missing TTL, another content coding and a body over 4096 bytes', async () => {
    const sub = endpoint.subscribe();
    const path = new URL(sub.endpoint).pathname;
    const token = await signed({
      aud: endpoint.origin,
      exp: Math.floor(Date.now() / 1000) + 600,
      sub: 'mailto:a@b.test',
    });
    const auth = `vapid t=${token}, k=${keys.publicKey}`;
    assert.equal(
      (await post(path, { Authorization: auth, TTL: '0', 'Content-Encoding': 'aes128gcm' }, Buffer.alloc(120))).status,
      400,
    );
    assert.match(endpoint.refused.at(-1)?.reason ?? '', /decryption failed/);
    assert.equal((await post(path, { Authorization: auth, 'Content-Encoding': 'aes128gcm' })).status, 400);
    assert.equal((await post(path, { Authorization: auth, TTL: '0', 'Content-Encoding': 'aesgcm' })).status, 415);
    assert.equal((await post(path, { Authorization: auth, TTL: '0' }, Buffer.alloc(4097))).status, 413);
    assert.equal(sub.messages.length, 0);
  });

  it('refuses a body tampered with on the way', async () => {
    const provider = createWebPushProvider({ vapid });
    const sub = endpoint.subscribe();
    // The same subscription keys but another auth secret: the keys derived differ, the tag fails.
    const wrongAuth = { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: Buffer.alloc(16, 7).toString('base64url') };
    const outcome = await provider.deliver({ platform: 'browser', channel: wrongAuth, body: '{}' });
    await provider.close();
    assert.deepEqual(outcome, { kind: 'invalid', status: 400, reason: 'HTTP 400' });
    assert.match(endpoint.refused.at(-1)?.reason ?? '', /failed authentication/);
  });
});

describe('the local push endpoint over https (a certificate from the local CA)', () => {
  it('takes pushes from the provider trusting the CA through `ca`, and from web-push’s own sendNotification', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-push-ca-'));
    const ca = await ensureLocalCa({ dir });
    const endpoint = await startPushEndpoint({ tls: { cert: ca.certPem, key: ca.keyPem } });
    const provider = createWebPushProvider({ vapid, ca: ca.caPem });
    const untrusting = createWebPushProvider({ vapid, timeoutMs: 2_000 });
    try {
      assert.match(endpoint.origin, /^https:\/\/127\.0\.0\.1:\d+$/);
      const sub = endpoint.subscribe();
      assert.deepEqual(await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: 'over tls' }), {
        kind: 'delivered',
        status: 201,
      });
      const refused = await untrusting.deliver({ platform: 'browser', channel: channelOf(sub), body: 'x' });
      assert.equal(refused.kind, 'retry');
      assert.match((refused as { reason: string }).reason, /^network: /);
      const agent = new Agent({ ca: ca.caPem });
      const answer = await webpush.sendNotification(sub.toJSON(), 'from web-push', {
        vapidDetails: vapid,
        TTL: 30,
        agent,
      });
      agent.destroy();
      assert.equal(answer.statusCode, 201);
      assert.deepEqual(
        sub.messages.map((m) => [m.text, m.ttl, m.vapid.claims.aud]),
        [
          ['over tls', 86_400, endpoint.origin],
          ['from web-push', 30, endpoint.origin],
        ],
      );
      const stray = await new Promise<number>((resolve, reject) => {
        request(`${endpoint.origin}/elsewhere`, { method: 'POST', ca: ca.caPem }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      assert.equal(stray, 404);
    } finally {
      await provider.close();
      await untrusting.close();
      await endpoint.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function channelOf(sub: { endpoint: string; p256dh: string; auth: string }) {
  return { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth };
}

function jwkOf(pair: { publicKey: string; privateKey: string }) {
  const raw = Buffer.from(pair.publicKey, 'base64url');
  return {
    kty: 'EC',
    crv: 'P-256',
    x: raw.subarray(1, 33).toString('base64url'),
    y: raw.subarray(33).toString('base64url'),
    d: pair.privateKey,
  };
}
