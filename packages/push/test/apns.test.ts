import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { ensureLocalCa } from '@hubbub/tls';
import { type ApnsProvider, createApnsProvider } from '../src/providers/index.ts';
import {
  type ApnsReason,
  type ApnsServer,
  type ApnsSigningKey,
  apnsReasons,
  startApnsServer,
} from '../src/testing/index.ts';

const code = (expected: string) => (err: { code?: string }) => {
  assert.equal(err.code, expected);
  return true;
};
const device = () => randomBytes(32).toString('hex');
const alert = JSON.stringify({ aps: { alert: { title: 'Order 42', body: 'On its way' } } });
const topic = 'com.hubbub.delivery';

async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('APNs provider against the local h2c APNs server', () => {
  let apns: ApnsServer;
  let key: ApnsSigningKey;
  let provider: ApnsProvider;
  before(async () => {
    apns = await startApnsServer();
    key = apns.createSigningKey();
    provider = createApnsProvider({ ...key, topic, endpoint: apns.origin, timeoutMs: 2_000 });
  });
  after(async () => {
    await provider.close();
    await apns.close();
  });

  it('delivers with a verified provider JWT and the apns-* headers', async () => {
    const token = device();
    const outcome = await provider.deliver({
      platform: 'apns',
      channel: token,
      body: alert,
      ttlSeconds: 3600,
      headers: { 'apns-collapse-id': 'order-42' },
    });
    assert.deepEqual(outcome, { kind: 'delivered', status: 200 });
    const [n] = apns.notifications.filter((x) => x.deviceToken === token);
    assert.ok(n);
    assert.equal(n.payload, alert);
    assert.equal(n.headers['apns-topic'], topic);
    assert.equal(n.headers['apns-push-type'], 'alert');
    assert.equal(n.headers['apns-priority'], '10');
    assert.equal(n.headers['apns-collapse-id'], 'order-42');
    assert.match(n.headers['apns-id'] ?? '', /^[0-9a-f-]{36}$/);
    const expiration = Number(n.headers['apns-expiration']);
    assert.ok(Math.abs(expiration - (Math.floor(Date.now() / 1000) + 3600)) <= 2, `apns-expiration ${expiration}`);
  });

  it('sends background pushes at priority 5 and passes the sender’s own headers on', async () => {
    const token = device();
    const id = '123e4567-e89b-12d3-a456-426614174000';
    await provider.deliver({
      platform: 'apns',
      channel: token,
      body: JSON.stringify({ aps: { 'content-available': 1 } }),
      headers: { 'apns-push-type': 'background', 'apns-id': id, 'apns-expiration': '0' },
    });
    const n = apns.notifications.find((x) => x.deviceToken === token);
    assert.equal(n?.headers['apns-priority'], '5');
    assert.equal(n?.headers['apns-id'], id);
    assert.equal(n?.headers['apns-expiration'], '0');
    const once = device();
    await provider.deliver({ platform: 'apns', channel: once, body: alert, ttlSeconds: 0 });
    assert.equal(apns.notifications.find((x) => x.deviceToken === once)?.headers['apns-expiration'], '0');
  });

  it('uses one HTTP/2 session and one JWT for many concurrent deliveries', async () => {
    const sessions = provider.sessionsOpened;
    const signed = provider.tokensSigned;
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => provider.deliver({ platform: 'apns', channel: device(), body: alert })),
    );
    assert.ok(outcomes.every((o) => o.kind === 'delivered'));
    assert.equal(provider.sessionsOpened, sessions);
    assert.equal(provider.tokensSigned, signed);
    assert.equal(new Set(apns.notifications.map((n) => n.jwt)).size, 1);
  });

  it('maps Apple’s reasons: gone, invalid, throttled, auth, retry', async () => {
    const expected: Record<string, string> = {
      BadDeviceToken: 'gone',
      Unregistered: 'gone',
      ExpiredToken: 'gone',
      PayloadTooLarge: 'invalid',
      BadTopic: 'invalid',
      DeviceTokenNotForTopic: 'invalid',
      TopicDisallowed: 'invalid',
      BadExpirationDate: 'invalid',
      TooManyRequests: 'throttled',
      TooManyProviderTokenUpdates: 'throttled',
      InvalidProviderToken: 'auth',
      Forbidden: 'auth',
      InternalServerError: 'retry',
      ServiceUnavailable: 'retry',
      Shutdown: 'retry',
      IdleTimeout: 'retry',
    };
    for (const [reason, kind] of Object.entries(expected)) {
      const token = device();
      apns.failWith(token, reason as ApnsReason, { times: 1 });
      const outcome = await provider.deliver({ platform: 'apns', channel: token, body: alert });
      assert.deepEqual(outcome, { kind, status: apnsReasons[reason as ApnsReason], reason }, reason);
      assert.equal(
        (await provider.deliver({ platform: 'apns', channel: token, body: alert })).kind,
        'delivered',
        reason,
      );
    }
  });

  it('signs a new JWT on ExpiredProviderToken and tries once more; a second refusal is auth', async () => {
    const signed = provider.tokensSigned;
    const token = device();
    apns.failWith(token, 'ExpiredProviderToken', { times: 1 });
    assert.deepEqual(await provider.deliver({ platform: 'apns', channel: token, body: alert }), {
      kind: 'delivered',
      status: 200,
    });
    assert.equal(provider.tokensSigned, signed + 1);
    apns.failWith(token, 'ExpiredProviderToken', { times: 2 });
    assert.deepEqual(await provider.deliver({ platform: 'apns', channel: token, body: alert }), {
      kind: 'auth',
      status: 403,
      reason: 'ExpiredProviderToken',
    });
    assert.equal(provider.tokensSigned, signed + 2);
  });

  it('is refused InvalidProviderToken for a key the server does not know (auth), and TopicDisallowed for another app', async () => {
    const elsewhere = await startApnsServer();
    const stranger = elsewhere.createSigningKey();
    await elsewhere.close();
    const p = createApnsProvider({ ...stranger, topic, endpoint: apns.origin });
    assert.deepEqual(await p.deliver({ platform: 'apns', channel: device(), body: alert }), {
      kind: 'auth',
      status: 403,
      reason: 'InvalidProviderToken',
    });
    await p.close();
    const other = createApnsProvider({ ...key, topic: 'com.other.app', endpoint: apns.origin });
    assert.equal((await other.deliver({ platform: 'apns', channel: device(), body: alert })).kind, 'invalid');
    await other.close();
  });

  it('refuses a payload over 4 KB, malformed device tokens and bad header values without a request', async () => {
    const refused = apns.refused.length;
    const delivered = apns.notifications.length;
    assert.equal(provider.maxPayloadBytes, 4096);
    const big = JSON.stringify({ aps: { alert: 'x'.repeat(4096) } });
    assert.deepEqual(await provider.deliver({ platform: 'apns', channel: device(), body: big }), {
      kind: 'invalid',
      reason: 'PUSH_PAYLOAD_TOO_LARGE',
    });
    for (const bad of ['', 'zz'.repeat(32), 'ab'.repeat(31), `${'a'.repeat(63)}`, 'ab'.repeat(101), 42, null]) {
      assert.throws(() => provider.validateChannel(bad), code('PUSH_INVALID_CHANNEL'));
      assert.deepEqual(await provider.deliver({ platform: 'apns', channel: bad as string, body: alert }), {
        kind: 'invalid',
        reason: 'PUSH_INVALID_CHANNEL',
      });
    }
    provider.validateChannel(device().toUpperCase());
    for (const headers of [
      { 'apns-push-type': 'shout' },
      { 'apns-priority': '7' },
      { 'apns-id': 'not-a-uuid' },
      { 'apns-expiration': 'tomorrow' },
      { 'apns-collapse-id': 'c'.repeat(65) },
    ]) {
      assert.equal(
        (await provider.deliver({ platform: 'apns', channel: device(), body: alert, headers })).kind,
        'invalid',
      );
    }
    assert.equal(apns.refused.length, refused);
    assert.equal(apns.notifications.length, delivered);
  });

  it('opens a new session after a GOAWAY and delivers on it', async () => {
    await provider.deliver({ platform: 'apns', channel: device(), body: alert });
    const sessions = provider.sessionsOpened;
    const serverSessions = apns.sessions;
    apns.goAway();
    await waitFor(
      async () =>
        (await provider.deliver({ platform: 'apns', channel: device(), body: alert })).kind === 'delivered' &&
        provider.sessionsOpened === sessions + 1,
      { what: 'a delivery on a new session' },
    );
    assert.equal(provider.sessionsOpened, sessions + 1);
    assert.equal(apns.sessions, serverSessions + 1);
  });

  it('answers retry (timeout) for a stream that is never answered, cancels it, and keeps the session', async () => {
    const p = createApnsProvider({ ...key, topic, endpoint: apns.origin, timeoutMs: 150 });
    const token = device();
    apns.hang(token);
    assert.deepEqual(await p.deliver({ platform: 'apns', channel: token, body: alert }), {
      kind: 'retry',
      reason: 'timeout',
    });
    apns.accept(token);
    assert.equal((await p.deliver({ platform: 'apns', channel: token, body: alert })).kind, 'delivered');
    assert.equal(p.sessionsOpened, 1);
    await p.close();
    await assert.rejects(p.deliver({ platform: 'apns', channel: token, body: alert }), code('PUSH_PROVIDER_CLOSED'));
  });

  it('answers retry when nothing listens at the endpoint', async () => {
    const p = createApnsProvider({ ...key, topic, endpoint: `http://127.0.0.1:${await closedPort()}` });
    const outcome = await p.deliver({ platform: 'apns', channel: device(), body: alert });
    assert.equal(outcome.kind, 'retry');
    await p.close();
  });
});

describe('APNs over TLS and idle sessions', () => {
  it('speaks HTTP/2 over TLS (ALPN h2) to an https endpoint, trusting a local CA through `ca`, and refuses an untrusted one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-apns-ca-'));
    const ca = await ensureLocalCa({ dir });
    const apns = await startApnsServer({ tls: { cert: ca.certPem, key: ca.keyPem } });
    const key = apns.createSigningKey();
    const trusting = createApnsProvider({ ...key, topic, endpoint: apns.origin, ca: ca.caPem });
    const untrusting = createApnsProvider({ ...key, topic, endpoint: apns.origin, timeoutMs: 2_000 });
    try {
      assert.match(apns.origin, /^https:/);
      assert.deepEqual(await trusting.deliver({ platform: 'apns', channel: device(), body: alert }), {
        kind: 'delivered',
        status: 200,
      });
      const refused = await untrusting.deliver({ platform: 'apns', channel: device(), body: alert });
      assert.equal(refused.kind, 'retry');
      assert.equal(apns.notifications.length, 1);
    } finally {
      await trusting.close();
      await untrusting.close();
      await apns.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('closes a session idle for idleTimeoutMs and opens a new one for the next delivery', async () => {
    const apns = await startApnsServer();
    const key = apns.createSigningKey();
    const provider = createApnsProvider({ ...key, topic, endpoint: apns.origin, idleTimeoutMs: 100 });
    try {
      assert.equal((await provider.deliver({ platform: 'apns', channel: device(), body: alert })).kind, 'delivered');
      await waitFor(() => apns.openSessions === 0, { what: 'the idle session to close' });
      assert.equal((await provider.deliver({ platform: 'apns', channel: device(), body: alert })).kind, 'delivered');
      assert.equal(provider.sessionsOpened, 2);
    } finally {
      await provider.close();
      await apns.close();
    }
  });
});

describe('APNs provider JWT lifetime', () => {
  it('re-signs after tokenRefreshMs on the injected clock, never per request', async () => {
    const clock = new ManualClock(Date.now());
    const apns = await startApnsServer({ clock });
    const key = apns.createSigningKey();
    const provider = createApnsProvider({ ...key, topic, endpoint: apns.origin, clock, tokenRefreshMs: 20 * 60_000 });
    try {
      for (let i = 0; i < 3; i++) await provider.deliver({ platform: 'apns', channel: device(), body: alert });
      clock.advance(19 * 60_000);
      await provider.deliver({ platform: 'apns', channel: device(), body: alert });
      assert.equal(provider.tokensSigned, 1);
      clock.advance(60_000);
      await provider.deliver({ platform: 'apns', channel: device(), body: alert });
      assert.equal(provider.tokensSigned, 2);
      const iats = apns.notifications.map((n) => n.iat);
      assert.equal(new Set(iats.slice(0, 4)).size, 1);
      assert.equal(iats[4], Math.floor(clock.now() / 1000));
    } finally {
      await provider.close();
      await apns.close();
    }
  });

  it('the server refuses a JWT older than an hour with ExpiredProviderToken', async () => {
    const clock = new ManualClock(Date.now());
    const apns = await startApnsServer({ clock });
    const key = apns.createSigningKey();
    // The provider signs on a clock two hours behind the server's.
    const lagging = new ManualClock(clock.now() - 2 * 3_600_000);
    const provider = createApnsProvider({ ...key, topic, endpoint: apns.origin, clock: lagging });
    try {
      assert.deepEqual(await provider.deliver({ platform: 'apns', channel: device(), body: alert }), {
        kind: 'auth',
        status: 403,
        reason: 'ExpiredProviderToken',
      });
      assert.equal(provider.tokensSigned, 2, 'refreshed once, then gave up');
    } finally {
      await provider.close();
      await apns.close();
    }
  });
});

describe('APNs provider options', () => {
  it('requires a P-256 .p8 key, 10-character key and team ids, a topic, a refresh of 20–50 min, https or loopback h2c', async () => {
    const apns = await startApnsServer();
    const key = apns.createSigningKey();
    await apns.close();
    const good = { ...key, topic, endpoint: 'sandbox' };
    const bad: object[] = [
      { signingKey: 'not a key' },
      {
        signingKey: (await import('node:crypto'))
          .generateKeyPairSync('rsa', { modulusLength: 1024 })
          .privateKey.export({ type: 'pkcs8', format: 'pem' }),
      },
      { keyId: 'short' },
      { teamId: 'lowercase1' },
      { topic: '' },
      { tokenRefreshMs: 10 * 60_000 },
      { tokenRefreshMs: 55 * 60_000 },
      { endpoint: 'http://api.push.apple.com' },
      { endpoint: 'nonsense' },
    ];
    for (const change of bad) {
      assert.throws(
        () => createApnsProvider({ ...good, ...change }),
        code('KERNEL_INVALID_OPTION'),
        JSON.stringify(change).slice(0, 60),
      );
    }
    await createApnsProvider(good).close();
    await createApnsProvider({ ...good, endpoint: 'production' }).close();
  });
});
