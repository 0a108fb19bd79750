// The official @azure/notification-hubs SDK (2.x, unmodified, in its own process trusting the
// local CA through NODE_EXTRA_CA_CERTS) against Hubbub's Notification Hubs front over the real
// push service, delivering through the Web Push, FCM and APNs providers to local servers that
// check each protocol (the RFC 8030 endpoint verifies VAPID and decrypts): every call the SDK
// makes for installations, sends, schedules, cancels and outcome details, with the keys' rights
// and the service's errors as the SDK surfaces them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { generateAccessKey } from '../src/http/index.ts';
import type { TestSubscription } from '../src/testing/index.ts';
import { type NotificationHubsFixture, startNotificationHubs } from './nh-fixture.ts';
import { type SdkClient, type SdkReply, startSdk } from './nh-sdk.ts';

const hub = 'orders';

describe('@azure/notification-hubs against the Notification Hubs front', () => {
  let hubs: NotificationHubsFixture;
  let sdk: SdkClient;
  let listenSdk: SdkClient;

  before(async () => {
    hubs = await startNotificationHubs({ hubName: hub });
    sdk = startSdk(hubs.front.connectionString(), hub, hubs.front.caPath!);
    listenSdk = startSdk(hubs.front.connectionString('DefaultListenSharedAccessSignature'), hub, hubs.front.caPath!);
  });
  after(async () => {
    await sdk?.close();
    await listenSdk?.close();
    await hubs?.close();
  });
  const browserInstallation = (installationId: string, sub: TestSubscription, extra: Record<string, unknown> = {}) => ({
    $installation: 'browser',
    params: { installationId, pushChannel: { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth }, ...extra },
  });
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's answers, read as JSON
  const ok = (reply: SdkReply): any => {
    assert.equal(reply.ok, true, JSON.stringify(reply));
    return reply.ok ? reply.value : undefined;
  };
  const outcome = (id: string) =>
    waitFor(
      async () => {
        const details = ok(await sdk.call('getNotificationOutcomeDetails', id));
        return details.state === 'Completed' || details.state === 'NoTargetFound' ? details : undefined;
      },
      { timeoutMs: 10_000, what: `the outcome of ${id}` },
    );

  it('prints a connection string of the SDK shape, on loopback, with the CA in the data directory', () => {
    assert.match(
      hubs.front.connectionString(),
      /^Endpoint=sb:\/\/127\.0\.0\.1:\d+\/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=.{44}$/,
    );
    assert.match(hubs.front.caPath ?? '', /\/ca\.pem$/);
  });

  it('creates, reads, patches and deletes an installation', async () => {
    const sub = hubs.endpoint.subscribe();
    ok(
      await sdk.call(
        'createOrUpdateInstallation',
        browserInstallation('phone-1', sub, { tags: ['customer_42'], userId: 'u42' }),
      ),
    );
    const got = ok(await sdk.call('getInstallation', 'phone-1'));
    assert.equal(got.installationId, 'phone-1');
    assert.equal(got.platform, 'browser');
    assert.deepEqual(got.pushChannel, { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth });
    assert.deepEqual(got.tags, ['customer_42']);
    assert.equal(got.userId, 'u42');
    assert.equal(got.pushChannelExpired, false);
    assert.ok(Number.isFinite(Date.parse(got.lastUpdate)));

    ok(
      await sdk.call('updateInstallation', 'phone-1', [
        { op: 'add', path: '/tags', value: 'vip' },
        {
          op: 'add',
          path: '/templates/greeting',
          value: JSON.stringify({ body: '{"title":"$(title)"}', tags: ['t'] }),
        },
        { op: 'replace', path: '/userId', value: 'u43' },
      ]),
    );
    const patched = ok(await sdk.call('getInstallation', 'phone-1'));
    assert.deepEqual([...patched.tags].sort(), ['customer_42', 'vip']);
    assert.equal(patched.templates.greeting.body, '{"title":"$(title)"}');
    assert.equal(patched.userId, 'u43');

    ok(await sdk.call('deleteInstallation', 'phone-1'));
    const gone = await sdk.call('getInstallation', 'phone-1');
    assert.equal(gone.ok, false);
    if (!gone.ok) {
      assert.equal(gone.error.statusCode, 404);
      assert.equal(gone.error.code, 'PUSH_INSTALLATION_NOT_FOUND');
      assert.match(gone.error.message, /^operations failed with: PUSH_INSTALLATION_NOT_FOUND/);
    }
    ok(await sdk.call('deleteInstallation', 'never-was'));
  });

  it('sends to a tag expression, broadcasts, and reads the outcome details', async () => {
    const vip = hubs.endpoint.subscribe();
    const other = hubs.endpoint.subscribe();
    ok(await sdk.call('createOrUpdateInstallation', browserInstallation('vip-1', vip, { tags: ['vip', 'city_oslo'] })));
    ok(
      await sdk.call(
        'createOrUpdateInstallation',
        browserInstallation('other-1', other, { tags: ['city_oslo', 'muted'] }),
      ),
    );

    const sent = ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'browser', params: { body: '{"title":"for vips"}' } },
        { tagExpression: '(vip || customer_1) && !muted' },
      ),
    );
    assert.match(sent.notificationId, /^[^/]+$/);
    assert.equal(sent.state, 'Enqueued');
    assert.ok(sent.trackingId);
    await waitFor(() => vip.messages.length === 1, { what: 'the vip push' });
    assert.equal(vip.messages[0]!.text, '{"title":"for vips"}');
    const details = await outcome(sent.notificationId);
    assert.equal(details.state, 'Completed');
    assert.equal(details.notificationId, sent.notificationId);
    assert.deepEqual(details.browserOutcomeCounts, [{ state: 'Success', count: 1 }]);
    assert.equal(other.messages.length, 0);

    const broadcast = ok(
      await sdk.call('sendBroadcastNotification', { $notification: 'browser', params: { body: '{"title":"all"}' } }),
    );
    await waitFor(() => other.messages.length === 1 && vip.messages.length === 2, { what: 'the broadcast' });
    assert.equal(other.messages[0]!.text, '{"title":"all"}');
    assert.equal((await outcome(broadcast.notificationId)).state, 'Completed');
    for (const id of ['vip-1', 'other-1']) ok(await sdk.call('deleteInstallation', id));
  });

  it('sends directly to a handle, renders templates, and answers test sends with every result', async () => {
    const loose = hubs.endpoint.subscribe();
    ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'browser', params: { body: 'direct hello' } },
        { deviceHandle: { endpoint: loose.endpoint, p256dh: loose.p256dh, auth: loose.auth } },
      ),
    );
    await waitFor(() => loose.messages.length === 1, { what: 'the direct push' });
    assert.equal(loose.messages[0]!.text, 'direct hello');

    const templated = hubs.endpoint.subscribe();
    ok(
      await sdk.call(
        'createOrUpdateInstallation',
        browserInstallation('tpl-1', templated, {
          tags: ['tpl'],
          templates: { greeting: { body: '{"title":"Hi $(name)","n":"#(count)"}', headers: {} } },
        }),
      ),
    );
    ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'template', params: { body: JSON.stringify({ name: 'Ada', count: '3' }) } },
        { tagExpression: 'tpl' },
      ),
    );
    await waitFor(() => templated.messages.length === 1, { what: 'the template push' });
    assert.deepEqual(JSON.parse(templated.messages[0]!.text), { title: 'Hi Ada', n: 3 });

    const test = ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'template', params: { body: JSON.stringify({ name: 'Test' }) } },
        { tagExpression: 'tpl', enableTestSend: true },
      ),
    );
    assert.equal(test.state, 'DetailedStateAvailable');
    assert.equal(test.successCount, 1);
    assert.equal(test.failureCount, 0);
    assert.equal(test.results.length, 1);
    assert.equal(test.results[0].applicationPlatform, 'browser');
    assert.equal(test.results[0].registrationId, 'tpl-1');
    await waitFor(() => templated.messages.length === 2, { what: 'the test push' });
    // the SDK's test broadcast sends `ServiceBusNotification-Tags: undefined`: taken as a broadcast
    const testBroadcast = ok(
      await sdk.call(
        'sendBroadcastNotification',
        { $notification: 'template', params: { body: '{"name":"B"}' } },
        { enableTestSend: true },
      ),
    );
    assert.equal(testBroadcast.successCount, 1);
    ok(await sdk.call('deleteInstallation', 'tpl-1'));
  });

  it('schedules a send, cancels it, and refuses a second cancel', async () => {
    const sub = hubs.endpoint.subscribe();
    ok(await sdk.call('createOrUpdateInstallation', browserInstallation('sched-1', sub, { tags: ['later'] })));
    const at = { $date: new Date(Date.now() + 3_600_000).toISOString() };
    const scheduled = ok(
      await sdk.call(
        'scheduleNotification',
        at,
        { $notification: 'browser', params: { body: 'later' } },
        { tagExpression: 'later' },
      ),
    );
    assert.match(scheduled.location, /\/orders\/schedulednotifications\/[^/?]+\?api-version=2020-06$/);
    ok(await sdk.call('cancelScheduledNotification', scheduled.notificationId));
    const again = await sdk.call('cancelScheduledNotification', scheduled.notificationId);
    assert.equal(again.ok, false);
    if (!again.ok) assert.equal(again.error.statusCode, 404);

    const soon = ok(
      await sdk.call(
        'scheduleBroadcastNotification',
        { $date: new Date(Date.now() + 200).toISOString() },
        { $notification: 'browser', params: { body: 'soon' } },
      ),
    );
    await waitFor(() => sub.messages.some((m) => m.text === 'soon'), { timeoutMs: 10_000, what: 'the scheduled push' });
    assert.equal(sub.messages.filter((m) => m.text === 'later').length, 0);
    assert.equal((await outcome(soon.notificationId)).state, 'Completed');
    ok(await sdk.call('deleteInstallation', 'sched-1'));
  });

  it('delivers the fcmv1 format to FCM installations only, by tag, directly and in a direct batch, with the body as given', async () => {
    ok(
      await sdk.call('createOrUpdateInstallation', {
        $installation: 'fcmv1',
        params: { installationId: 'android-1', pushChannel: 'fcm-token-1', tags: ['android'] },
      }),
    );
    const browser = hubs.endpoint.subscribe();
    ok(await sdk.call('createOrUpdateInstallation', browserInstallation('web-2', browser, { tags: ['android'] })));
    assert.equal(ok(await sdk.call('getInstallation', 'android-1')).pushChannel, 'fcm-token-1');
    const message = { message: { notification: { title: 'Courier nearby' }, data: { orderId: '42' } } };
    const sent = ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'fcmv1', params: { body: JSON.stringify(message) } },
        { tagExpression: 'android' },
      ),
    );
    await waitFor(() => hubs.fcm.messages.length === 1, { what: 'the FCM message' });
    assert.equal(hubs.fcm.messages[0]!.token, 'fcm-token-1');
    assert.deepEqual((hubs.fcm.messages[0]!.message as { notification?: unknown }).notification, {
      title: 'Courier nearby',
    });
    const details = await outcome(sent.notificationId);
    assert.deepEqual(details.fcmV1OutcomeCounts, [{ state: 'Success', count: 1 }]);
    assert.equal(details.browserOutcomeCounts, undefined);
    assert.equal(browser.messages.length, 0, 'a native fcmv1 send reaches no browser installation');

    ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'fcmv1', params: { body: JSON.stringify(message) } },
        { deviceHandle: 'fcm-token-direct' },
      ),
    );
    await waitFor(() => hubs.fcm.messages.some((m) => m.token === 'fcm-token-direct'), {
      what: 'the direct FCM message',
    });

    const batch = ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'fcmv1', params: { body: JSON.stringify(message) } },
        { deviceHandle: ['fcm-batch-1', 'fcm-batch-2', 'fcm-batch-3'] },
      ),
    );
    assert.match(batch.notificationId, /^[^/]+$/);
    await waitFor(
      () => ['fcm-batch-1', 'fcm-batch-2', 'fcm-batch-3'].every((t) => hubs.fcm.messages.some((m) => m.token === t)),
      {
        what: 'the batch',
      },
    );
    for (const id of ['android-1', 'web-2']) ok(await sdk.call('deleteInstallation', id));
  });

  it('delivers the apple format to apns installations with its apns-* headers', async () => {
    const token = 'ab'.repeat(32);
    ok(
      await sdk.call('createOrUpdateInstallation', {
        $installation: 'apple',
        params: { installationId: 'iphone-1', pushChannel: token, tags: ['ios'] },
      }),
    );
    assert.equal(ok(await sdk.call('getInstallation', 'iphone-1')).platform, 'apns');
    const payload = JSON.stringify({ aps: { alert: { title: 'Order 42', body: 'At your door' } } });
    const sent = ok(
      await sdk.call(
        'sendNotification',
        {
          $notification: 'apple',
          params: { body: payload, headers: { 'apns-priority': '10', 'apns-push-type': 'alert' } },
        },
        { tagExpression: 'ios' },
      ),
    );
    await waitFor(() => hubs.apns.notifications.length === 1, { what: 'the APNs notification' });
    const received = hubs.apns.notifications[0]!;
    assert.equal(received.deviceToken, token);
    assert.equal(received.payload, payload);
    assert.equal(received.headers['apns-priority'], '10');
    assert.equal(received.headers['apns-push-type'], 'alert');
    assert.deepEqual((await outcome(sent.notificationId)).apnsOutcomeCounts, [{ state: 'Success', count: 1 }]);
    ok(await sdk.call('deleteInstallation', 'iphone-1'));
  });

  it("enforces the keys' rights: the listen key registers devices but neither sends nor reads", async () => {
    const sub = hubs.endpoint.subscribe();
    ok(await listenSdk.call('createOrUpdateInstallation', browserInstallation('listen-1', sub)));
    ok(await listenSdk.call('updateInstallation', 'listen-1', [{ op: 'add', path: '/tags', value: 'a' }]));
    for (const reply of [
      await listenSdk.call('getInstallation', 'listen-1'),
      await listenSdk.call('sendBroadcastNotification', { $notification: 'browser', params: { body: 'x' } }),
    ]) {
      assert.equal(reply.ok, false);
      if (!reply.ok) {
        assert.equal(reply.error.statusCode, 403);
        assert.equal(reply.error.code, 'PUSH_FORBIDDEN');
      }
    }
    ok(await listenSdk.call('deleteInstallation', 'listen-1'));
    const wrong = startSdk(
      hubs.front.connectionString().replace(/SharedAccessKey=.*$/, `SharedAccessKey=${generateAccessKey()}`),
      hub,
      hubs.front.caPath!,
    );
    try {
      const reply = await wrong.call('getInstallation', 'x');
      assert.equal(reply.ok, false);
      if (!reply.ok) {
        assert.equal(reply.error.statusCode, 401);
        assert.equal(reply.error.code, 'PUSH_UNAUTHORIZED');
      }
    } finally {
      await wrong.close();
    }
  });

  it("surfaces the service's errors through the SDK as coded RestErrors", async () => {
    const expectError = async (
      reply: Promise<{ ok: boolean; error?: { statusCode?: number; code?: string } }>,
      status: number,
      code: string,
    ) => {
      const r = await reply;
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.equal(r.error?.statusCode, status, JSON.stringify(r));
      assert.equal(r.error?.code, code);
    };
    await expectError(
      sdk.call('createOrUpdateInstallation', {
        $installation: 'browser',
        params: { installationId: 'bad', pushChannel: { endpoint: 'ftp://x', p256dh: 'a', auth: 'b' } },
      }),
      400,
      'PUSH_INVALID_CHANNEL',
    );
    await expectError(
      sdk.call('sendNotification', { $notification: 'browser', params: { body: 'x' } }, { tagExpression: '(a && ' }),
      400,
      'PUSH_TAG_EXPRESSION_INVALID',
    );
    await expectError(
      sdk.call(
        'sendNotification',
        { $notification: 'browser', params: { body: 'x' } },
        { tagExpression: 'a && b && c && d && e && f && g' },
      ),
      400,
      'PUSH_TAG_EXPRESSION_TOO_COMPLEX',
    );
    await expectError(
      sdk.call('sendBroadcastNotification', { $notification: 'windows', params: { body: '<toast/>' } }),
      400,
      'PUSH_UNKNOWN_PLATFORM',
    );
    await expectError(
      sdk.call('sendBroadcastNotification', { $notification: 'browser', params: { body: 'x'.repeat(5000) } }),
      413,
      'PUSH_PAYLOAD_TOO_LARGE',
    );
    await expectError(
      sdk.call('updateInstallation', 'nobody', [{ op: 'add', path: '/tags', value: 'a' }]),
      404,
      'PUSH_INSTALLATION_NOT_FOUND',
    );
    await expectError(sdk.call('getNotificationOutcomeDetails', 'no-such-id'), 404, 'PUSH_NOT_FOUND');
    await expectError(sdk.call('getFeedbackContainerUrl'), 404, 'PUSH_NOT_SUPPORTED');
  });
});
