import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { NotificationOutcome } from '../src/model.ts';
import { createWebPushProvider, generateVapidKeys } from '../src/providers/index.ts';
import { type ChannelRemovedEvent, createPushService, type PushService } from '../src/service.ts';
import { type PushEndpoint, startPushEndpoint, type TestSubscription } from '../src/testing/index.ts';

// The service driven end to end through the real Web Push provider (VAPID + aes128gcm) to the local
// RFC 8030 endpoint, which verifies the JWT and decrypts what arrives.
describe('push service → Web Push provider → local push endpoint', () => {
  const keys = generateVapidKeys();
  let endpoint: PushEndpoint;
  let push: PushService;
  const removed: ChannelRemovedEvent[] = [];

  const channel = (sub: TestSubscription) => {
    const { endpoint: url, keys: k } = sub.toJSON();
    return { endpoint: url, p256dh: k.p256dh, auth: k.auth };
  };
  const settled = (id: string): Promise<NotificationOutcome> =>
    waitFor(
      async () => {
        const o = await push.getNotificationOutcome(id);
        return o?.state === 'Completed' || o?.state === 'NoTargetFound' ? o : undefined;
      },
      { what: `notification ${id}` },
    );

  before(async () => {
    endpoint = await startPushEndpoint();
    push = createPushService({
      providers: [createWebPushProvider({ vapid: { ...keys, subject: 'mailto:ops@hubbub.test' }, timeoutMs: 2_000 })],
      backoff: { initialMs: 10, maxMs: 100 },
    });
    push.on('channel:removed', (e) => removed.push(e));
    await push.start();
  });
  after(async () => {
    await push.close();
    await endpoint.close();
  });

  it('delivers a native send to every subscribed browser, decrypted intact at the endpoint', async () => {
    const subs = [0, 1, 2].map(() => endpoint.subscribe({ applicationServerKey: keys.publicKey }));
    for (const [n, sub] of subs.entries()) {
      await push.upsertInstallation({
        installationId: `browser-${n}`,
        platform: 'browser',
        pushChannel: channel(sub),
        tags: n < 2 ? ['customer_42'] : ['customer_7'],
      });
    }
    const body = JSON.stringify({ title: 'Order 42', body: 'Your food is on its way ✓' });
    const { notificationId } = await push.send(
      { format: 'browser', body, headers: { Urgency: 'high' } },
      { kind: 'tags', expression: 'customer_42' },
    );
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.browser?.success, 2);
    assert.deepEqual(
      subs.map((s) => s.messages.map((m) => m.text)),
      [[body], [body], []],
    );
    assert.equal(subs[0]?.messages[0]?.urgency, 'high');
    assert.equal(subs[0]?.messages[0]?.vapid.publicKey, keys.publicKey);
  });

  it('renders a template per installation before encrypting it', async () => {
    const sub = endpoint.subscribe({ applicationServerKey: keys.publicKey });
    await push.upsertInstallation({
      installationId: 'templated',
      platform: 'browser',
      pushChannel: channel(sub),
      templates: { order: { body: `{"title":"{'Order ' + $(order)}","badge":"#(items)"}` } },
    });
    const { notificationId } = await push.send(
      { format: 'template', properties: { order: '42', items: 3 } },
      { kind: 'installation', installationId: 'templated' },
    );
    await settled(notificationId);
    assert.deepEqual(JSON.parse(sub.messages[0]?.text ?? 'null'), { title: 'Order 42', badge: 3 });
  });

  it('retries after a 429 with Retry-After, then delivers', async () => {
    const sub = endpoint.subscribe({ applicationServerKey: keys.publicKey });
    sub.respondWith(429, { retryAfter: '1', times: 1 });
    const { notificationId } = await push.send(
      { format: 'browser', body: 'after the wait' },
      { kind: 'handle', platform: 'browser', channel: channel(sub) },
    );
    const outcome = await settled(notificationId);
    assert.deepEqual([outcome.counts.browser?.throttled, outcome.counts.browser?.success], [1, 1]);
    assert.equal(sub.messages[0]?.text, 'after the wait');
  });

  it('marks an unsubscribed browser (410) gone on its installation and stops sending to it', async () => {
    const sub = endpoint.subscribe({ applicationServerKey: keys.publicKey });
    await push.upsertInstallation({
      installationId: 'leaver',
      platform: 'browser',
      pushChannel: channel(sub),
      tags: ['leaving'],
    });
    sub.unsubscribe();
    const first = await settled(
      (await push.send({ format: 'browser', body: 'x' }, { kind: 'tags', expression: 'leaving' })).notificationId,
    );
    assert.equal(first.counts.browser?.gone, 1);
    assert.deepEqual(removed.at(-1), { installationId: 'leaver', platform: 'browser', reason: removed.at(-1)?.reason });
    assert.equal((await push.getInstallation('leaver'))?.pushChannelExpired, true);
    const second = await settled(
      (await push.send({ format: 'browser', body: 'x' }, { kind: 'tags', expression: 'leaving' })).notificationId,
    );
    assert.equal(second.state, 'NoTargetFound');
  });

  it("refuses a subscription the provider finds malformed, and a body over Web Push's limit", async () => {
    await assert.rejects(
      push.upsertInstallation({
        installationId: 'bad',
        platform: 'browser',
        pushChannel: { endpoint: 'https://push.example/x', p256dh: 'short', auth: 'x' },
      }),
      { code: 'PUSH_INVALID_CHANNEL' },
    );
    await assert.rejects(push.send({ format: 'browser', body: 'x'.repeat(3994) }, { kind: 'broadcast' }), {
      code: 'PUSH_PAYLOAD_TOO_LARGE',
    });
  });
});
