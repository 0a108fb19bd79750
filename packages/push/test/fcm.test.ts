import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { ensureLocalCa } from '@hubbub/tls';
import { createFcmProvider, type FcmProvider } from '../src/providers/index.ts';
import { type FcmServer, type FcmServiceAccount, fcmErrors, startFcmServer } from '../src/testing/index.ts';

const code = (expected: string) => (err: { code?: string }) => {
  assert.equal(err.code, expected);
  return true;
};

const token = (n: number | string) => `fcm-token-${n}:APA91b${'x'.repeat(140)}`;
const body = (message: object = { notification: { title: 'Order 42', body: 'On its way' }, data: { orderId: '42' } }) =>
  JSON.stringify({ message });

describe('FCM HTTP v1 provider against the local FCM server', () => {
  let fcm: FcmServer;
  let account: FcmServiceAccount;
  let provider: FcmProvider;
  let n = 0;
  before(async () => {
    fcm = await startFcmServer();
    account = fcm.createServiceAccount('hubbub-orders');
    provider = createFcmProvider({ serviceAccount: account, endpoint: fcm.origin, timeoutMs: 2_000 });
  });
  after(async () => {
    await provider.close();
    await fcm.close();
  });

  it('exchanges a signed assertion for an access token and sends the message to the channel’s token', async () => {
    const t = token(++n);
    const outcome = await provider.deliver({ platform: 'fcmv1', channel: t, body: body(), ttlSeconds: 600 });
    assert.deepEqual(outcome, { kind: 'delivered', status: 200 });
    const [message] = fcm.messages.filter((m) => m.token === t);
    assert.ok(message);
    assert.equal(message.projectId, 'hubbub-orders');
    assert.deepEqual(message.message, {
      notification: { title: 'Order 42', body: 'On its way' },
      data: { orderId: '42' },
      token: t,
      android: { ttl: '600s' },
    });
    assert.deepEqual(fcm.tokenRequests.at(-1), { granted: true });
  });

  it('reuses the access token across sends, and makes one exchange for many concurrent first sends', async () => {
    const fresh = createFcmProvider({ serviceAccount: JSON.stringify(account), endpoint: fcm.origin });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fresh.deliver({ platform: 'fcmv1', channel: token(`c${i}`), body: body() }),
        ),
      );
      assert.ok(outcomes.every((o) => o.kind === 'delivered'));
      await fresh.deliver({ platform: 'fcmv1', channel: token('c-after'), body: body() });
      assert.equal(fresh.tokenExchanges, 1);
      assert.equal(new Set(fcm.messages.filter((m) => m.token.includes('-c')).map((m) => m.accessToken)).size, 1);
    } finally {
      await fresh.close();
    }
  });

  it('maps FCM’s documented errors: UNREGISTERED gone, INVALID_ARGUMENT invalid, QUOTA_EXCEEDED throttled, UNAVAILABLE/INTERNAL retry, auth', async () => {
    const expected = {
      UNREGISTERED: 'gone',
      INVALID_ARGUMENT: 'invalid',
      SENDER_ID_MISMATCH: 'invalid',
      QUOTA_EXCEEDED: 'throttled',
      UNAVAILABLE: 'retry',
      INTERNAL: 'retry',
      THIRD_PARTY_AUTH_ERROR: 'auth',
    } as const;
    for (const [errorCode, kind] of Object.entries(expected) as [keyof typeof fcmErrors, string][]) {
      const t = token(++n);
      fcm.failWith(t, errorCode, { times: 1 });
      const outcome = await provider.deliver({ platform: 'fcmv1', channel: t, body: body() });
      assert.deepEqual(outcome, { kind, status: fcmErrors[errorCode][0], reason: errorCode }, errorCode);
      assert.equal((await provider.deliver({ platform: 'fcmv1', channel: t, body: body() })).kind, 'delivered');
    }
  });

  it('passes Retry-After on with QUOTA_EXCEEDED and UNAVAILABLE', async () => {
    const t = token(++n);
    fcm.failWith(t, 'QUOTA_EXCEEDED', { times: 1, retryAfter: '30' });
    assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: t, body: body() }), {
      kind: 'throttled',
      status: 429,
      reason: 'QUOTA_EXCEEDED',
      retryAfterMs: 30_000,
    });
    fcm.failWith(t, 'UNAVAILABLE', { times: 1, retryAfter: '5' });
    assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: t, body: body() }), {
      kind: 'retry',
      status: 503,
      reason: 'UNAVAILABLE',
      retryAfterMs: 5_000,
    });
  });

  it('gets a 401, refreshes the access token once and delivers', async () => {
    const before = provider.tokenExchanges;
    fcm.revokeAccessTokens();
    const t = token(++n);
    assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: t, body: body() }), {
      kind: 'delivered',
      status: 200,
    });
    assert.equal(provider.tokenExchanges, before + 1);
  });

  it('refreshes once for many concurrent sends that all get a 401 with the revoked token', async () => {
    await provider.deliver({ platform: 'fcmv1', channel: token(++n), body: body() });
    const before = provider.tokenExchanges;
    fcm.revokeAccessTokens();
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => provider.deliver({ platform: 'fcmv1', channel: token(++n), body: body() })),
    );
    assert.deepEqual(new Set(outcomes.map((o) => o.kind)), new Set(['delivered']));
    assert.equal(provider.tokenExchanges, before + 1);
  });

  it('answers auth when FCM refuses the fresh token too: one refresh, never a loop', async () => {
    const before = provider.tokenExchanges;
    fcm.refuseAccessTokens(true);
    try {
      assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: token(++n), body: body() }), {
        kind: 'auth',
        status: 401,
        reason: 'UNAUTHENTICATED',
      });
    } finally {
      fcm.refuseAccessTokens(false);
    }
    assert.equal(provider.tokenExchanges, before + 1);
  });

  it('answers auth when the token endpoint refuses the assertion (an account it does not know)', async () => {
    const other = await startFcmServer();
    try {
      const stranger = other.createServiceAccount('hubbub-orders');
      const p = createFcmProvider({ serviceAccount: { ...stranger, token_uri: fcm.tokenUri }, endpoint: fcm.origin });
      const outcome = await p.deliver({ platform: 'fcmv1', channel: token(++n), body: body() });
      await p.close();
      assert.equal(outcome.kind, 'auth');
      assert.equal((outcome as { status?: number }).status, 400);
      assert.match((outcome as { reason: string }).reason, /invalid_grant/);
    } finally {
      await other.close();
    }
  });

  it('answers auth when the server refuses the signature (the right account name, another key)', async () => {
    const forged = { ...account, private_key: fcm.createServiceAccount('x').private_key };
    const p = createFcmProvider({ serviceAccount: forged, endpoint: fcm.origin });
    const outcome = await p.deliver({ platform: 'fcmv1', channel: token(++n), body: body() });
    await p.close();
    assert.equal(outcome.kind, 'auth');
    assert.match(fcm.tokenRequests.at(-1)?.reason ?? '', /bad signature/);
  });

  it('answers auth for a token of another project (403), and retry when the token endpoint fails (5xx)', async () => {
    const foreign = fcm.createServiceAccount('another-project');
    const p = createFcmProvider({ serviceAccount: { ...foreign, project_id: 'hubbub-orders' }, endpoint: fcm.origin });
    assert.deepEqual(await p.deliver({ platform: 'fcmv1', channel: token(++n), body: body() }), {
      kind: 'auth',
      status: 403,
      reason: 'PERMISSION_DENIED',
    });
    await p.close();
    const q = createFcmProvider({ serviceAccount: account, endpoint: fcm.origin });
    fcm.failTokenRequests(503);
    assert.deepEqual(await q.deliver({ platform: 'fcmv1', channel: token(++n), body: body() }), {
      kind: 'retry',
      status: 503,
      reason: 'token endpoint HTTP 503',
    });
    assert.equal(
      (await q.deliver({ platform: 'fcmv1', channel: token(n), body: body() })).kind,
      'delivered',
      'a failed exchange is not cached',
    );
    await q.close();
  });

  it('refuses bodies that are not {"message": {...}} or that address their own target, without a request', async () => {
    const sent = fcm.messages.length;
    for (const b of ['not json', '[]', '{"notification":{}}', body({ topic: 'news' }), body({ token: 'other' })]) {
      const outcome = await provider.deliver({ platform: 'fcmv1', channel: token(++n), body: b });
      assert.equal(outcome.kind, 'invalid', b);
    }
    assert.equal(fcm.messages.length, sent);
  });

  it('is told INVALID_ARGUMENT by the server for a message FCM would refuse (non-string data)', async () => {
    const outcome = await provider.deliver({
      platform: 'fcmv1',
      channel: token(++n),
      body: body({ data: { count: 3 } }),
    });
    assert.deepEqual(outcome, { kind: 'invalid', status: 400, reason: 'INVALID_ARGUMENT' });
  });

  it('refuses a payload over 4 KB and malformed tokens', async () => {
    const big = body({ data: { blob: 'x'.repeat(4096) } });
    assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: token(++n), body: big }), {
      kind: 'invalid',
      reason: 'PUSH_PAYLOAD_TOO_LARGE',
    });
    for (const bad of ['', 'has space', 'a/b', 42, null, { token: 'x' }, 'x'.repeat(4097)]) {
      assert.throws(() => provider.validateChannel(bad), code('PUSH_INVALID_CHANNEL'));
      assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: bad as string, body: body() }), {
        kind: 'invalid',
        reason: 'PUSH_INVALID_CHANNEL',
      });
    }
    provider.validateChannel(token(1));
  });

  it('answers retry (timeout) for a server that hangs, and closes cleanly after', async () => {
    const p = createFcmProvider({ serviceAccount: account, endpoint: fcm.origin, timeoutMs: 200 });
    const t = token(++n);
    fcm.hang(t);
    assert.deepEqual(await p.deliver({ platform: 'fcmv1', channel: t, body: body() }), {
      kind: 'retry',
      reason: 'timeout',
    });
    fcm.accept(t);
    assert.equal((await p.deliver({ platform: 'fcmv1', channel: t, body: body() })).kind, 'delivered');
    await p.close();
    await assert.rejects(p.deliver({ platform: 'fcmv1', channel: t, body: body() }), code('PUSH_PROVIDER_CLOSED'));
  });
});

describe('FCM over https', () => {
  it('exchanges the token and sends over TLS to servers with a local-CA certificate, trusted through ca', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-fcm-ca-'));
    const ca = await ensureLocalCa({ dir });
    const fcm = await startFcmServer({ tls: { cert: ca.certPem, key: ca.keyPem } });
    const account = fcm.createServiceAccount();
    const trusting = createFcmProvider({ serviceAccount: account, endpoint: fcm.origin, ca: ca.caPem });
    const untrusting = createFcmProvider({ serviceAccount: account, endpoint: fcm.origin });
    try {
      assert.match(account.token_uri, /^https:/);
      assert.deepEqual(await trusting.deliver({ platform: 'fcmv1', channel: token('tls'), body: body() }), {
        kind: 'delivered',
        status: 200,
      });
      const refused = await untrusting.deliver({ platform: 'fcmv1', channel: token('tls'), body: body() });
      assert.equal(refused.kind, 'retry');
      assert.match((refused as { reason: string }).reason, /^network: /);
      assert.equal(fcm.messages.length, 1);
    } finally {
      await trusting.close();
      await untrusting.close();
      await fcm.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('FCM access token lifetime', () => {
  it('refreshes the token shortly before it expires, read on the injected clock', async () => {
    const clock = new ManualClock(Date.now());
    const fcm = await startFcmServer({ clock, accessTokenLifetimeSeconds: 3600 });
    const provider = createFcmProvider({
      serviceAccount: fcm.createServiceAccount(),
      endpoint: fcm.origin,
      clock,
      tokenRefreshMarginMs: 300_000,
    });
    try {
      await provider.deliver({ platform: 'fcmv1', channel: token('a'), body: body() });
      clock.advance(3_200_000);
      await provider.deliver({ platform: 'fcmv1', channel: token('b'), body: body() });
      assert.equal(provider.tokenExchanges, 1);
      clock.advance(100_001);
      await provider.deliver({ platform: 'fcmv1', channel: token('c'), body: body() });
      assert.equal(provider.tokenExchanges, 2);
      const [a, b, c] = fcm.messages.map((m) => m.accessToken);
      assert.equal(a, b);
      assert.notEqual(b, c);
    } finally {
      await provider.close();
      await fcm.close();
    }
  });
});

describe('FCM provider options', () => {
  it('requires a service account with project_id, client_email and an RSA private_key, and https endpoints', async () => {
    const fcm = await startFcmServer();
    const account = fcm.createServiceAccount();
    await fcm.close();
    const bad: unknown[] = [
      undefined,
      'not json',
      { ...account, project_id: '' },
      { ...account, client_email: undefined },
      { ...account, private_key: 'not a key' },
    ];
    for (const serviceAccount of bad) {
      assert.throws(
        () => createFcmProvider({ serviceAccount: serviceAccount as FcmServiceAccount }),
        code('KERNEL_INVALID_OPTION'),
      );
    }
    assert.throws(
      () => createFcmProvider({ serviceAccount: account, endpoint: 'http://fcm.example.net' }),
      code('KERNEL_INVALID_OPTION'),
    );
    assert.throws(
      () => createFcmProvider({ serviceAccount: account, tokenUri: 'http://oauth.example.net/token' }),
      code('KERNEL_INVALID_OPTION'),
    );
    const ok = createFcmProvider({ serviceAccount: account, endpoint: 'https://fcm.example.net' });
    await ok.close();
  });
});
