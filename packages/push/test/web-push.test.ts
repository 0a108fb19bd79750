import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { createWebPushProvider, generateVapidKeys, type PushProvider } from '../src/providers/index.ts';
import { type PushEndpoint, startPushEndpoint } from '../src/testing/index.ts';

const code = (expected: string) => (err: { code?: string }) => {
  assert.equal(err.code, expected);
  return true;
};

const keys = generateVapidKeys();
const vapid = { ...keys, subject: 'mailto:ops@hubbub.test' };

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Web Push provider against the local RFC 8030 endpoint', () => {
  let endpoint: PushEndpoint;
  let provider: PushProvider;
  before(async () => {
    endpoint = await startPushEndpoint();
    provider = createWebPushProvider({ vapid, timeoutMs: 2_000 });
  });
  after(async () => {
    await provider.close();
    await endpoint.close();
  });

  it('delivers: the endpoint verifies the VAPID JWT, decrypts the aes128gcm body and sees TTL, Urgency and Topic', async () => {
    const sub = endpoint.subscribe({ applicationServerKey: keys.publicKey });
    const body = JSON.stringify({ title: 'Order 42', body: 'Your food is on its way' });
    const outcome = await provider.deliver({
      platform: 'browser',
      channel: { endpoint: sub.toJSON().endpoint, p256dh: sub.toJSON().keys.p256dh, auth: sub.toJSON().keys.auth },
      body,
      ttlSeconds: 60,
      headers: { Urgency: 'high', topic: 'order-42' },
    });
    assert.deepEqual(outcome, { kind: 'delivered', status: 201 });
    const [message] = sub.messages;
    assert.ok(message);
    assert.equal(message.text, body);
    assert.equal(message.ttl, 60);
    assert.equal(message.urgency, 'high');
    assert.equal(message.topic, 'order-42');
    assert.equal(message.vapid.claims.aud, endpoint.origin);
    assert.equal(message.vapid.claims.sub, vapid.subject);
    assert.equal(message.vapid.publicKey, keys.publicKey);
    const exp = message.vapid.claims.exp as number;
    assert.ok(exp > Date.now() / 1000 + 11 * 3600 && exp <= Date.now() / 1000 + 12 * 3600 + 5, `exp ${exp}`);
    // salt 16 + rs 4 + idlen 1 + key 65, one record: plaintext + delimiter + 16-byte tag
    assert.equal(message.bodyLength, 86 + Buffer.byteLength(body) + 1 + 16);
  });

  it('uses the default TTL of a day and no Urgency or Topic when the delivery names none', async () => {
    const sub = endpoint.subscribe();
    const outcome = await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: 'plain text' });
    assert.equal(outcome.kind, 'delivered');
    assert.equal(sub.messages[0]?.ttl, 86_400);
    assert.equal(sub.messages[0]?.urgency, undefined);
    assert.equal(sub.messages[0]?.text, 'plain text');
  });

  it('hands each decrypted message to the subscription callback', async () => {
    const seen: string[] = [];
    const sub = endpoint.subscribe({ onMessage: (m) => seen.push(m.text) });
    await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: 'one' });
    await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: 'two' });
    assert.deepEqual(seen, ['one', 'two']);
  });

  it('delivers the largest payload (3993 bytes) and refuses one byte more without a request', async () => {
    const sub = endpoint.subscribe();
    const largest = 'x'.repeat(3993);
    assert.equal(provider.maxPayloadBytes, 3993);
    assert.deepEqual(await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: largest }), {
      kind: 'delivered',
      status: 201,
    });
    assert.equal(sub.messages[0]?.text, largest);
    assert.equal(sub.messages[0]?.bodyLength, 4096);
    const refusedBefore = endpoint.refused.length;
    const outcome = await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: `${largest}y` });
    assert.deepEqual(outcome, { kind: 'invalid', reason: 'PUSH_PAYLOAD_TOO_LARGE' });
    assert.equal(sub.messages.length, 1);
    assert.equal(endpoint.refused.length, refusedBefore);
  });

  it('maps the push service answers: 404/410 gone, 413/400 invalid, 429 throttled with Retry-After, 5xx retry, 401/403 auth', async () => {
    const cases: [number, string | undefined, object][] = [
      [404, undefined, { kind: 'gone', status: 404, reason: 'HTTP 404' }],
      [410, undefined, { kind: 'gone', status: 410, reason: 'HTTP 410' }],
      [413, undefined, { kind: 'invalid', status: 413, reason: 'HTTP 413' }],
      [400, undefined, { kind: 'invalid', status: 400, reason: 'HTTP 400' }],
      [429, '7', { kind: 'throttled', status: 429, reason: 'HTTP 429', retryAfterMs: 7_000 }],
      [429, undefined, { kind: 'throttled', status: 429, reason: 'HTTP 429' }],
      [500, undefined, { kind: 'retry', status: 500, reason: 'HTTP 500' }],
      [503, '2', { kind: 'retry', status: 503, reason: 'HTTP 503', retryAfterMs: 2_000 }],
      [401, undefined, { kind: 'auth', status: 401, reason: 'HTTP 401' }],
      [403, undefined, { kind: 'auth', status: 403, reason: 'HTTP 403' }],
    ];
    for (const [status, retryAfter, expected] of cases) {
      const sub = endpoint.subscribe();
      sub.respondWith(status, retryAfter === undefined ? { times: 1 } : { times: 1, retryAfter });
      const outcome = await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' });
      assert.deepEqual(outcome, expected, `status ${status}`);
      assert.equal(
        (await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' })).kind,
        'delivered',
      );
    }
  });

  it('reads Retry-After given as an HTTP date', async () => {
    const sub = endpoint.subscribe();
    sub.respondWith(429, { times: 1, retryAfter: new Date(Date.now() + 60_000).toUTCString() });
    const outcome = await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' });
    assert.equal(outcome.kind, 'throttled');
    const after = (outcome as { retryAfterMs?: number }).retryAfterMs ?? 0;
    assert.ok(after > 55_000 && after <= 60_000, `retryAfterMs ${after}`);
  });

  it('is told gone by an unsubscribed or unknown subscription, and auth when the VAPID key is not the one subscribed with', async () => {
    const sub = endpoint.subscribe();
    sub.unsubscribe();
    assert.deepEqual(await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' }), {
      kind: 'gone',
      status: 410,
      reason: 'HTTP 410',
    });
    const unknown = { ...channelOf(sub), endpoint: `${endpoint.origin}/push/no-such-subscription` };
    assert.equal((await provider.deliver({ platform: 'browser', channel: unknown, body: '{}' })).kind, 'gone');
    const other = endpoint.subscribe({ applicationServerKey: generateVapidKeys().publicKey });
    assert.deepEqual(await provider.deliver({ platform: 'browser', channel: channelOf(other), body: '{}' }), {
      kind: 'auth',
      status: 403,
      reason: 'HTTP 403',
    });
    assert.match(endpoint.refused.at(-1)?.reason ?? '', /applicationServerKey/);
  });

  it('refuses bad Urgency, Topic and TTL values before sending', async () => {
    const sub = endpoint.subscribe();
    const send = (headers: Record<string, string>) =>
      provider.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}', headers });
    assert.equal((await send({ Urgency: 'urgent' })).kind, 'invalid');
    assert.equal((await send({ Topic: 'has spaces' })).kind, 'invalid');
    assert.equal((await send({ Topic: 'x'.repeat(33) })).kind, 'invalid');
    assert.equal((await send({ TTL: '-1' })).kind, 'invalid');
    assert.equal(sub.messages.length, 0);
  });

  it('validates channels: https endpoint (http only on loopback), 65-byte p256dh on the curve, 16-byte auth', () => {
    const sub = endpoint.subscribe();
    const good = channelOf(sub);
    provider.validateChannel(good);
    provider.validateChannel({ ...good, endpoint: 'https://push.example.net/abc' });
    provider.validateChannel({ ...good, endpoint: 'http://localhost:9/abc' });
    const offCurve = Buffer.alloc(65, 1);
    offCurve[0] = 4;
    const bad: [unknown, string][] = [
      [null, 'not-an-object'],
      ['https://push.example.net/abc', 'not-an-object'],
      [{ ...good, endpoint: 'http://push.example.net/abc' }, 'endpoint'],
      [{ ...good, endpoint: 'ftp://127.0.0.1/abc' }, 'endpoint'],
      [{ ...good, endpoint: 'not a url' }, 'endpoint'],
      [{ ...good, endpoint: `https://x.net/${'a'.repeat(2100)}` }, 'endpoint'],
      [{ ...good, endpoint: 'https://user:pw@push.example.net/abc' }, 'endpoint'],
      [{ ...good, p256dh: good.p256dh.slice(0, 40) }, 'p256dh'],
      [{ ...good, p256dh: offCurve.toString('base64url') }, 'p256dh'],
      [{ ...good, p256dh: 'not base64!' }, 'p256dh'],
      [{ ...good, p256dh: undefined }, 'p256dh'],
      [{ ...good, auth: Buffer.alloc(15).toString('base64url') }, 'auth'],
      [{ ...good, auth: 42 }, 'auth'],
    ];
    for (const [channel, reason] of bad) {
      assert.throws(
        () => provider.validateChannel(channel),
        (err: { code?: string; detail?: { reason?: string } }) => {
          assert.equal(err.code, 'PUSH_INVALID_CHANNEL');
          assert.equal(err.detail?.reason, reason, JSON.stringify(channel)?.slice(0, 80));
          return true;
        },
      );
    }
  });

  it('remembers only keys found on the curve: an off-curve key is refused every time, also beside a good one', () => {
    const good = channelOf(endpoint.subscribe());
    const key = Buffer.from(good.p256dh, 'base64url');
    const near = Buffer.from(key);
    near[64] = near[64]! ^ 1; // one bit off: almost never on the curve
    for (let round = 0; round < 3; round++) {
      provider.validateChannel(good);
      assert.throws(
        () => provider.validateChannel({ ...good, p256dh: near.toString('base64url') }),
        (err: { code?: string; detail?: { reason?: string } }) =>
          err.code === 'PUSH_INVALID_CHANNEL' && err.detail?.reason === 'p256dh',
      );
    }
  });

  it('answers a malformed channel with an invalid outcome, never a request', async () => {
    const refused = endpoint.refused.length;
    const outcome = await provider.deliver({
      platform: 'browser',
      channel: { endpoint: 'http://push.example.net/x', p256dh: 'a', auth: 'b' },
      body: '{}',
    });
    assert.deepEqual(outcome, { kind: 'invalid', reason: 'PUSH_INVALID_CHANNEL' });
    assert.equal(endpoint.refused.length, refused);
  });

  it('gives up on a push service that hangs: retry (timeout), the request torn down, nothing left open', async () => {
    const quick = createWebPushProvider({ vapid, timeoutMs: 150 });
    const sub = endpoint.subscribe();
    sub.hang();
    const outcome = await quick.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' });
    assert.deepEqual(outcome, { kind: 'retry', reason: 'timeout' });
    await waitFor(() => endpoint.hanging === 0, { what: 'the hung request to be torn down' });
    sub.accept();
    assert.equal((await quick.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' })).kind, 'delivered');
    await quick.close();
    await assert.rejects(
      quick.deliver({ platform: 'browser', channel: channelOf(sub), body: '{}' }),
      code('PUSH_PROVIDER_CLOSED'),
    );
  });

  it('gives the caller’s abort signal the last word: retry (aborted)', async () => {
    const sub = endpoint.subscribe();
    sub.hang();
    const controller = new AbortController();
    const pending = provider.deliver({
      platform: 'browser',
      channel: channelOf(sub),
      body: '{}',
      signal: controller.signal,
    });
    await waitFor(() => endpoint.hanging === 1, { what: 'the request to arrive' });
    controller.abort();
    assert.deepEqual(await pending, { kind: 'retry', reason: 'aborted' });
    await waitFor(() => endpoint.hanging === 0, { what: 'the aborted request to be torn down' });
  });

  it('answers retry when nothing listens at the endpoint', async () => {
    const sub = endpoint.subscribe();
    const channel = { ...channelOf(sub), endpoint: `http://127.0.0.1:${await closedPort()}/push/x` };
    const outcome = await provider.deliver({ platform: 'browser', channel, body: '{}' });
    assert.deepEqual(outcome, { kind: 'retry', reason: 'network: ECONNREFUSED' });
  });
});

describe('VAPID JWT reuse', () => {
  it('signs once per push-service origin and again after half its lifetime, read on the injected clock', async () => {
    const clock = new ManualClock(Date.now());
    const endpoint = await startPushEndpoint({ clock });
    const provider = createWebPushProvider({ vapid, clock, vapidLifetimeSeconds: 3_600 });
    try {
      const sub = endpoint.subscribe();
      for (let i = 0; i < 3; i++)
        await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: `${i}` });
      clock.advance(1_799_000);
      await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: 'still the same token' });
      clock.advance(2_000);
      await provider.deliver({ platform: 'browser', channel: channelOf(sub), body: 'a new token' });
      const tokens = sub.messages.map((m) => m.vapid.token);
      assert.equal(new Set(tokens.slice(0, 4)).size, 1);
      assert.notEqual(tokens[4], tokens[0]);
      assert.equal(sub.messages[4]?.vapid.claims.exp, Math.floor(clock.now() / 1000) + 3_600);
    } finally {
      await provider.close();
      await endpoint.close();
    }
  });
});

describe('Web Push provider options', () => {
  it('requires VAPID keys that match and a mailto: or https: subject, a lifetime of at most 24 h', () => {
    const other = generateVapidKeys();
    const bad: unknown[] = [
      undefined,
      { ...vapid, subject: 'ops@hubbub.test' },
      { ...vapid, subject: 'http://hubbub.test' },
      { ...vapid, subject: 'https://localhost/contact' },
      { ...vapid, publicKey: 'abc' },
      { ...vapid, privateKey: other.privateKey },
      { ...vapid, privateKey: 'short' },
    ];
    for (const v of bad) {
      assert.throws(() => createWebPushProvider({ vapid: v as typeof vapid }), code('KERNEL_INVALID_OPTION'));
    }
    assert.throws(() => createWebPushProvider({ vapid, vapidLifetimeSeconds: 86_401 }), code('KERNEL_INVALID_OPTION'));
    assert.throws(() => createWebPushProvider({ vapid, timeoutMs: 0 }), code('KERNEL_INVALID_OPTION'));
  });

  it('generates VAPID keys as browsers take them: a 65-byte uncompressed point and a 32-byte scalar', () => {
    const generated = generateVapidKeys();
    const pub = Buffer.from(generated.publicKey, 'base64url');
    assert.equal(pub.length, 65);
    assert.equal(pub[0], 4);
    assert.equal(Buffer.from(generated.privateKey, 'base64url').length, 32);
    assert.notEqual(generated.publicKey, keys.publicKey);
  });
});

function channelOf(sub: { endpoint: string; p256dh: string; auth: string }) {
  return { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth };
}
