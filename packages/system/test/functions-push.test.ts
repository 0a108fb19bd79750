/**
 * The push bridge: connection settings naming this machine resolve to the system's push service,
 * others to none; a send through the port is a real send of the push service, delivered by Web
 * Push to the local RFC 8030 endpoint, once per idempotency key; another hub name is refused.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { createPushService } from '@hubbub/push';
import { createWebPushProvider, generateVapidKeys } from '@hubbub/push/providers';
import { startPushEndpoint } from '@hubbub/push/testing';
import { pushConnections } from '../src/bridges/push.ts';

const vapid = { ...generateVapidKeys(), subject: 'mailto:test@example.com' };
const service = createPushService({ providers: [createWebPushProvider({ vapid })] });
await service.start();
const endpoint = await startPushEndpoint();
after(async () => {
  await service.close();
  await endpoint.close();
});

const connection = (value: string) => ({ name: 'NotificationHubConnection', value });
const nh = (host: string) =>
  `Endpoint=sb://${host}/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=k`;

describe('the push bridge', () => {
  it('resolves endpoints on this machine to the service, others to none, and refuses what is no connection string', async () => {
    const resolve = pushConnections(service, 'Orders');
    for (const host of ['localhost', '127.0.0.1:7443', '[::1]:7443', 'LOCALHOST'])
      assert.notEqual(await resolve(connection(nh(host))), undefined, host);
    assert.equal(await resolve(connection(nh('my-namespace.servicebus.windows.net'))), undefined);
    assert.throws(() => resolve(connection('memory://')), { code: 'FUNCTIONS_INVALID_SETTING' });
    assert.throws(() => resolve(connection('Endpoint=not a url')), { code: 'FUNCTIONS_INVALID_SETTING' });
    assert.equal(await pushConnections(undefined, 'orders')(connection(nh('localhost'))), undefined);
  });

  it('sends through the service to the user tag, once per idempotency key; another hub is refused', async () => {
    const port = (await pushConnections(service, 'Orders')(connection(nh('localhost'))))!;
    const sub = endpoint.subscribe({ applicationServerKey: vapid.publicKey });
    const { endpoint: url, keys } = sub.toJSON();
    await service.upsertInstallation({
      installationId: 'browser-1',
      platform: 'browser',
      userId: 'u-1',
      pushChannel: { endpoint: url, p256dh: keys.p256dh, auth: keys.auth },
      templates: { status: { body: '{"title":"$(title)"}' } },
    });
    const target = { kind: 'tags', expression: '$UserId:{u-1}' } as const;
    const notification = { format: 'template', properties: { title: 'Order accepted' } } as const;
    const first = await port.send('orders', notification, target, { idempotencyKey: 'k-1' });
    const again = await port.send('ORDERS', notification, target, { idempotencyKey: 'k-1' });
    assert.equal(again.notificationId, first.notificationId);
    await waitFor(async () => (await service.getNotificationOutcome(first.notificationId))?.state === 'Completed', {
      timeoutMs: 10_000,
    });
    assert.deepEqual(
      sub.messages.map((m) => m.text),
      ['{"title":"Order accepted"}'],
    );
    await assert.rejects(port.send('other-hub', notification, target, {}), {
      code: 'FUNCTIONS_BINDING_UNAVAILABLE',
      detail: { hub: 'other-hub', served: 'Orders' },
    });
  });
});
