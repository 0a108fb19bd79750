// The SDK's registration calls (Atom XML) against the front: a registration is an installation
// whose id is the registration id, so sends reach devices registered either way; ETags and
// If-Match are checked; lists page and filter by channel and by tag.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { type NotificationHubsFixture, startNotificationHubs } from './nh-fixture.ts';
import { type SdkClient, type SdkReply, startSdk } from './nh-sdk.ts';

describe('@azure/notification-hubs registrations against the Notification Hubs front', () => {
  let hubs: NotificationHubsFixture;
  let sdk: SdkClient;

  before(async () => {
    hubs = await startNotificationHubs();
    sdk = startSdk(hubs.front.connectionString(), 'orders', hubs.front.caPath!);
  });
  after(async () => {
    await sdk?.close();
    await hubs?.close();
  });

  // biome-ignore lint/suspicious/noExplicitAny: the SDK's answers, read as JSON
  const ok = (reply: SdkReply): any => {
    assert.equal(reply.ok, true, JSON.stringify(reply));
    return reply.ok ? reply.value : undefined;
  };
  const failed = (reply: SdkReply, status: number, code: string) => {
    assert.equal(reply.ok, false, JSON.stringify(reply));
    if (!reply.ok) {
      assert.equal(reply.error.statusCode, status, JSON.stringify(reply.error));
      assert.equal(reply.error.code, code);
    }
  };

  it('creates a browser registration under a reserved id, reads it, and reaches it by tag', async () => {
    const sub = hubs.endpoint.subscribe();
    const id = ok(await sdk.call('createRegistrationId'));
    assert.match(id, /^[0-9a-f-]{36}$/);
    const created = ok(
      await sdk.call('createOrUpdateRegistration', {
        $registration: 'Browser',
        params: {
          registrationId: id,
          endpoint: sub.endpoint,
          p256dh: sub.p256dh,
          auth: sub.auth,
          tags: ['reg', 'city_oslo'],
        },
      }),
    );
    assert.equal(created.kind, 'Browser');
    assert.equal(created.registrationId, id);
    assert.deepEqual(created.tags, ['reg', 'city_oslo']);
    assert.ok(created.etag);
    const read = ok(await sdk.call('getRegistration', id));
    assert.deepEqual(
      { kind: read.kind, endpoint: read.endpoint, p256dh: read.p256dh, auth: read.auth, etag: read.etag },
      { kind: 'Browser', endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth, etag: created.etag },
    );
    // the same device, seen as an installation
    assert.deepEqual(ok(await sdk.call('getInstallation', id)).tags, ['reg', 'city_oslo']);
    ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'browser', params: { body: 'to registrations' } },
        { tagExpression: 'reg' },
      ),
    );
    await waitFor(() => sub.messages.length === 1, { what: 'the push to the registration' });
    assert.equal(sub.messages[0]!.text, 'to registrations');
  });

  it('updates with a current ETag, refuses a stale one, and deletes with If-Match', async () => {
    const sub = hubs.endpoint.subscribe();
    const first = ok(
      await sdk.call('createRegistration', {
        $registration: 'Browser',
        params: { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth, tags: ['v1'] },
      }),
    );
    const updated = ok(
      await sdk.call('updateRegistration', {
        $registration: 'Browser',
        params: {
          registrationId: first.registrationId,
          etag: first.etag,
          endpoint: sub.endpoint,
          p256dh: sub.p256dh,
          auth: sub.auth,
          tags: ['v2'],
        },
      }),
    );
    assert.deepEqual(updated.tags, ['v2']);
    assert.notEqual(updated.etag, first.etag);
    failed(
      await sdk.call('updateRegistration', {
        $registration: 'Browser',
        params: {
          registrationId: first.registrationId,
          etag: first.etag,
          endpoint: sub.endpoint,
          p256dh: sub.p256dh,
          auth: sub.auth,
          tags: ['v3'],
        },
      }),
      412,
      'PUSH_PRECONDITION_FAILED',
    );
    failed(
      await sdk.call('deleteRegistration', first.registrationId, { etag: first.etag }),
      412,
      'PUSH_PRECONDITION_FAILED',
    );
    ok(await sdk.call('deleteRegistration', first.registrationId, { etag: updated.etag }));
    failed(await sdk.call('getRegistration', first.registrationId), 404, 'PUSH_NOT_FOUND');
    failed(await sdk.call('deleteRegistration', first.registrationId), 404, 'PUSH_NOT_FOUND');
  });

  it('renders an FCM template registration, and lists registrations by channel, by tag and in pages', async () => {
    const created = ok(
      await sdk.call('createRegistration', {
        $registration: 'FcmV1Template',
        params: {
          fcmV1RegistrationId: 'fcm-reg-1',
          bodyTemplate: '{"message":{"notification":{"title":"$(title) & more"}}}',
          templateName: 'alert',
          tags: ['fcmreg'],
        },
      }),
    );
    assert.equal(created.kind, 'FcmV1Template');
    assert.equal(created.bodyTemplate, '{"message":{"notification":{"title":"$(title) & more"}}}');
    assert.equal(created.templateName, 'alert');
    ok(
      await sdk.call(
        'sendNotification',
        { $notification: 'template', params: { body: JSON.stringify({ title: 'Hot food' }) } },
        { tagExpression: 'fcmreg' },
      ),
    );
    await waitFor(() => hubs.fcm.messages.some((m) => m.token === 'fcm-reg-1'), { what: 'the template push' });
    const message = hubs.fcm.messages.find((m) => m.token === 'fcm-reg-1')!.message as { notification?: unknown };
    assert.deepEqual(message.notification, { title: 'Hot food & more' });

    const byChannel = ok(
      await sdk.call('listRegistrationsByChannel', { kind: 'fcmv1', fcmV1RegistrationId: 'fcm-reg-1' }),
    );
    assert.deepEqual(
      byChannel.map((r: { registrationId: string }) => r.registrationId),
      [created.registrationId],
    );
    const byTag = ok(await sdk.call('listRegistrationsByTag', 'fcmreg'));
    assert.deepEqual(
      byTag.map((r: { kind: string }) => r.kind),
      ['FcmV1Template'],
    );
    for (let i = 0; i < 3; i++) {
      ok(
        await sdk.call('createRegistration', {
          $registration: 'FcmV1',
          params: { fcmV1RegistrationId: `fcm-page-${i}`, tags: ['paged'] },
        }),
      );
    }
    const all = ok(await sdk.call('listRegistrations', { top: 2 }));
    const ids = all.map((r: { registrationId: string }) => r.registrationId);
    assert.equal(new Set(ids).size, ids.length, 'no registration listed twice across pages');
    assert.ok(ids.length >= 5, `every registration listed across pages (${ids.length})`);
    assert.equal(ok(await sdk.call('listRegistrationsByTag', 'paged', { top: 1 })).length, 3);
  });

  it('refuses registrations of platforms Hubbub does not deliver to', async () => {
    failed(
      await sdk.call('createRegistration', { $registration: 'Adm', params: { admRegistrationId: 'x' } }),
      400,
      'PUSH_UNKNOWN_PLATFORM',
    );
    failed(
      await sdk.call('createRegistration', {
        $registration: 'Browser',
        params: { endpoint: 'ftp://x', p256dh: 'a', auth: 'b' },
      }),
      400,
      'PUSH_INVALID_CHANNEL',
    );
  });
});
