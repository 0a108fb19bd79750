import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { NotificationOutcome } from '../src/model.ts';
import { createFcmProvider } from '../src/providers/index.ts';
import { createPushService, type DeliveryFailedEvent, type PushService } from '../src/service.ts';
import { type FcmServer, startFcmServer } from '../src/testing/index.ts';

// The service driven through the real FCM HTTP v1 provider (service-account JWT → OAuth token →
// messages:send) to the local FCM server, which verifies the assertion, the bearer token and the
// message shape.
describe('push service → FCM provider → local FCM server', () => {
  let fcm: FcmServer;
  let push: PushService;
  const failed: DeliveryFailedEvent[] = [];
  const token = (name: string) => `fcm-${name}:APA91b${'x'.repeat(140)}`;
  const settled = (id: string): Promise<NotificationOutcome> =>
    waitFor(
      async () => {
        const o = await push.getNotificationOutcome(id);
        return o?.state === 'Completed' || o?.state === 'NoTargetFound' ? o : undefined;
      },
      { what: `notification ${id}` },
    );

  before(async () => {
    fcm = await startFcmServer();
    const provider = createFcmProvider({
      serviceAccount: fcm.createServiceAccount('hubbub-orders'),
      endpoint: fcm.origin,
      timeoutMs: 2_000,
    });
    push = createPushService({ providers: [provider], backoff: { initialMs: 10, maxMs: 100 } });
    push.on('delivery:failed', (e) => failed.push(e));
    await push.start();
    for (const name of ['ann', 'bob', 'cy']) {
      await push.upsertInstallation({
        installationId: name,
        platform: 'fcmv1',
        pushChannel: token(name),
        tags: ['courier_updates'],
        templates: {
          status: {
            body: `{"message":{"notification":{"title":"{'Order ' + $(order)}","body":".(status, 20)"},"data":{"orderId":"$(order)"}}}`,
          },
        },
      });
    }
  });
  after(async () => {
    await push.close();
    await fcm.close();
  });

  it('renders the template into an FCM v1 message addressed to each installation', async () => {
    const { notificationId } = await push.send(
      { format: 'template', properties: { order: '42', status: 'Picked up at the restaurant' } },
      { kind: 'tags', expression: 'courier_updates && ($InstallationId:{ann} || $InstallationId:{bob})' },
    );
    const outcome = await settled(notificationId);
    assert.equal(outcome.counts.fcmv1?.success, 2);
    const received = fcm.messages.map((m) => [m.token, m.message]).sort();
    assert.deepEqual(received, [
      [
        token('ann'),
        {
          token: token('ann'),
          notification: { title: 'Order 42', body: 'Picked up at the ...' },
          data: { orderId: '42' },
        },
      ],
      [
        token('bob'),
        {
          token: token('bob'),
          notification: { title: 'Order 42', body: 'Picked up at the ...' },
          data: { orderId: '42' },
        },
      ],
    ]);
  });

  it('retries QUOTA_EXCEEDED after its Retry-After, counts INVALID_ARGUMENT invalid and UNREGISTERED gone', async () => {
    fcm.failWith(token('ann'), 'QUOTA_EXCEEDED', { times: 1, retryAfter: '1' });
    fcm.failWith(token('bob'), 'INVALID_ARGUMENT', { times: 1 });
    fcm.failWith(token('cy'), 'UNREGISTERED');
    const { notificationId } = await push.send(
      { format: 'fcmv1', body: JSON.stringify({ message: { data: { ping: '1' } } }) },
      { kind: 'broadcast' },
    );
    const outcome = await settled(notificationId);
    assert.deepEqual(outcome.counts.fcmv1, { success: 1, gone: 1, invalid: 1, throttled: 1, expired: 0, failed: 0 });
    assert.deepEqual(failed.map((f) => [f.installationId, f.outcome]).sort(), [
      ['bob', 'invalid'],
      ['cy', 'gone'],
    ]);
    assert.equal((await push.getInstallation('cy'))?.pushChannelExpired, true);
    assert.equal((await push.getInstallation('ann'))?.pushChannelExpired, false);
  });
});
