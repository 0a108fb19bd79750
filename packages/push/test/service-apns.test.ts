import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { NotificationOutcome } from '../src/model.ts';
import { createApnsProvider } from '../src/providers/index.ts';
import { type ChannelRemovedEvent, createPushService, type PushService } from '../src/service.ts';
import { type ApnsServer, startApnsServer } from '../src/testing/index.ts';

// The service driven through the real APNs provider (HTTP/2, ES256 provider JWT, apns-* headers)
// to the local h2c APNs server, which verifies the JWT and the headers.
describe('push service → APNs provider → local APNs server', () => {
  let apns: ApnsServer;
  let push: PushService;
  const removed: ChannelRemovedEvent[] = [];
  const devices = { ann: randomBytes(32).toString('hex'), bob: randomBytes(32).toString('hex') };
  const settled = (id: string): Promise<NotificationOutcome> =>
    waitFor(
      async () => {
        const o = await push.getNotificationOutcome(id);
        return o?.state === 'Completed' || o?.state === 'NoTargetFound' ? o : undefined;
      },
      { what: `notification ${id}` },
    );

  before(async () => {
    apns = await startApnsServer();
    const provider = createApnsProvider({
      ...apns.createSigningKey(),
      topic: 'com.hubbub.delivery',
      endpoint: apns.origin,
      timeoutMs: 2_000,
    });
    push = createPushService({ providers: [provider], backoff: { initialMs: 10, maxMs: 100 } });
    push.on('channel:removed', (e) => removed.push(e));
    await push.start();
    for (const [name, token] of Object.entries(devices)) {
      await push.upsertInstallation({
        installationId: name,
        platform: 'apns',
        pushChannel: token,
        userId: name,
        templates: {
          alert: {
            body: `{"aps":{"alert":{"title":"{'Order ' + $(order)}"},"badge":"#(badge)"}}`,
            headers: { 'apns-collapse-id': 'order-$(order)', 'apns-priority': '10' },
          },
        },
      });
    }
  });
  after(async () => {
    await push.close();
    await apns.close();
  });

  it('renders template body and headers, and the server sees them with a verified JWT', async () => {
    const { notificationId } = await push.send(
      { format: 'template', properties: { order: '42', badge: 2 } },
      { kind: 'tags', expression: '$UserId:{ann}' },
    );
    assert.equal((await settled(notificationId)).counts.apns?.success, 1);
    const [n] = apns.notifications.filter((x) => x.deviceToken === devices.ann);
    assert.deepEqual(JSON.parse(n?.payload ?? 'null'), { aps: { alert: { title: 'Order 42' }, badge: 2 } });
    assert.equal(n?.headers['apns-collapse-id'], 'order-42');
    assert.equal(n?.headers['apns-topic'], 'com.hubbub.delivery');
    assert.equal(n?.headers['apns-priority'], '10');
  });

  it('marks a device APNs calls Unregistered gone, and sends a native payload with its headers to the rest', async () => {
    apns.failWith(devices.bob, 'Unregistered');
    const body = JSON.stringify({ aps: { 'content-available': 1 } });
    const { notificationId } = await push.send(
      { format: 'apns', body, headers: { 'apns-push-type': 'background' } },
      { kind: 'broadcast' },
    );
    const outcome = await settled(notificationId);
    assert.deepEqual([outcome.counts.apns?.success, outcome.counts.apns?.gone], [1, 1]);
    assert.deepEqual(removed, [{ installationId: 'bob', platform: 'apns', reason: removed[0]?.reason }]);
    assert.equal((await push.getInstallation('bob'))?.pushChannelExpired, true);
    const background = apns.notifications.filter((x) => x.payload === body);
    assert.deepEqual(
      background.map((x) => [x.deviceToken, x.headers['apns-push-type'], x.headers['apns-priority']]),
      [[devices.ann, 'background', '5']],
    );
  });

  it("refuses a token that is not hex and a payload over APNs' 4 KB", async () => {
    await assert.rejects(
      push.upsertInstallation({ installationId: 'x', platform: 'apns', pushChannel: 'not-a-device-token' }),
      { code: 'PUSH_INVALID_CHANNEL' },
    );
    await assert.rejects(push.send({ format: 'apns', body: 'x'.repeat(4097) }, { kind: 'broadcast' }), {
      code: 'PUSH_PAYLOAD_TOO_LARGE',
    });
  });
});
