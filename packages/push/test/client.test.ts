// @hubbub/push/client against a real Notification Hubs front over the real push service (the
// local Web Push endpoint verifies VAPID and decrypts; the local FCM server checks the message):
// each call, and bad input — a wrong key, a front that is not there, a certificate not trusted, a
// server that is not the front, malformed arguments.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { InstallationListing } from '../src/client/index.ts';
import { createPushClient, type PushClient } from '../src/client/index.ts';
import type { TestSubscription } from '../src/testing/index.ts';
import { type NotificationHubsFixture, startNotificationHubs } from './nh-fixture.ts';

const hubName = 'orders';
const channel = (sub: TestSubscription) => ({ endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth });

describe('@hubbub/push/client against the Notification Hubs front', () => {
  let hubs: NotificationHubsFixture;
  let push: PushClient;
  let ca: string;

  before(async () => {
    hubs = await startNotificationHubs({ hubName });
    ca = readFileSync(hubs.front.caPath!, 'utf8');
    push = createPushClient({ connectionString: hubs.front.connectionString(), hubName, ca });
  });
  after(async () => {
    await push?.close();
    await hubs?.close();
  });
  const completed = (id: string) =>
    waitFor(
      async () => {
        const d = await push.getNotificationOutcome(id);
        return d.state === 'Completed' || d.state === 'NoTargetFound' ? d : undefined;
      },
      { timeoutMs: 10_000, what: `the outcome of ${id}` },
    );

  it('creates, reads, patches and deletes an installation', async () => {
    const sub = hubs.endpoint.subscribe();
    await push.createOrUpdateInstallation({
      installationId: 'phone-1',
      platform: 'browser',
      pushChannel: channel(sub),
      tags: ['customer_1'],
      userId: 'u1',
    });
    const got = await push.getInstallation('phone-1');
    assert.equal(got.platform, 'browser');
    assert.deepEqual(got.pushChannel, channel(sub));
    assert.deepEqual(got.tags, ['customer_1']);
    assert.equal(got.userId, 'u1');

    await push.patchInstallation('phone-1', [
      { op: 'add', path: '/tags', value: 'vip' },
      { op: 'add', path: '/templates/order', value: JSON.stringify({ body: '{"title":"$(order)"}' }) },
    ]);
    const patched = await push.getInstallation('phone-1');
    assert.deepEqual(patched.tags, ['customer_1', 'vip']);
    assert.equal(patched.templates.order?.body, '{"title":"$(order)"}');

    await push.deleteInstallation('phone-1');
    await assert.rejects(push.getInstallation('phone-1'), { code: 'PUSH_INSTALLATION_NOT_FOUND', status: 404 });
    await push.deleteInstallation('phone-1'); // deleting what is gone is fine
  });

  it('lists installations, by tag, page by page', async () => {
    for (const n of [1, 2, 3]) {
      await push.createOrUpdateInstallation({
        installationId: `list-${n}`,
        platform: 'fcmv1',
        pushChannel: `fcm-list-${n}`,
        tags: n === 2 ? ['listed', 'other'] : ['listed'],
        templates: n === 3 ? { greet: { body: '{"message":{"data":{"t":"$(t)"}}}' } } : {},
      });
    }
    const page = await push.listInstallations({ tag: 'listed', top: 2 });
    assert.equal(page.installations.length, 2);
    assert.ok(page.continuationToken, 'a second page');
    const all: InstallationListing[] = [];
    for await (const i of push.installations({ tag: 'listed', top: 1 })) all.push(i);
    assert.deepEqual(
      all.map((i) => i.installationId),
      ['list-1', 'list-2', 'list-3'],
    );
    assert.deepEqual(all[1]?.tags, ['listed', 'other']);
    assert.equal(all[0]?.platform, 'fcmv1');
    assert.equal(all[0]?.pushChannel, 'fcm-list-1');
    assert.deepEqual(all[2]?.template, { name: 'greet', body: '{"message":{"data":{"t":"$(t)"}}}' });
    assert.deepEqual((await push.listInstallations({ tag: 'nobody-has-it' })).installations, []);
    for (const n of [1, 2, 3]) await push.deleteInstallation(`list-${n}`);
  });

  it('sends native and template notifications by broadcast, tag expression, installation and handle, and reads outcomes', async () => {
    const a = hubs.endpoint.subscribe();
    const b = hubs.endpoint.subscribe();
    await push.createOrUpdateInstallation({
      installationId: 'send-a',
      platform: 'browser',
      pushChannel: channel(a),
      tags: ['send_a', 'send_all'],
      templates: { order: { body: `{"title":"{'Order ' + $(order)}"}` } },
    });
    await push.createOrUpdateInstallation({
      installationId: 'send-b',
      platform: 'browser',
      pushChannel: channel(b),
      tags: ['send_b', 'send_all'],
    });

    const tagged = await push.send(
      { format: 'browser', body: 'to a', headers: { TTL: '60', Urgency: 'high' } },
      { kind: 'tags', expression: 'send_all && !send_b' },
    );
    const details = await completed(tagged.notificationId);
    assert.equal(details.state, 'Completed');
    assert.equal(details.counts.browser?.success, 1);
    assert.deepEqual(details.targetPlatforms, ['browser']);
    assert.ok(details.enqueueTime !== undefined && details.endTime !== undefined);
    assert.deepEqual(
      a.messages.map((m) => [m.text, m.ttl, m.urgency]),
      [['to a', 60, 'high']],
    );
    assert.equal(b.messages.length, 0);

    const templated = await push.send(
      { format: 'template', properties: { order: '42' } },
      { kind: 'installation', installationId: 'send-a' },
    );
    assert.equal((await completed(templated.notificationId)).counts.browser?.success, 1);
    assert.equal(JSON.parse(a.messages[1]!.text).title, 'Order 42');

    const broadcast = await push.send({ format: 'browser', body: 'to all' }, { kind: 'broadcast' });
    await completed(broadcast.notificationId);
    assert.ok(a.messages.some((m) => m.text === 'to all') && b.messages.some((m) => m.text === 'to all'));

    const loose = hubs.endpoint.subscribe();
    await push.send(
      { format: 'browser', body: 'direct' },
      { kind: 'handle', platform: 'browser', channel: channel(loose) },
    );
    await waitFor(() => loose.messages.some((m) => m.text === 'direct'), { what: 'the direct browser push' });
    await push.send(
      { format: 'fcmv1', body: '{"message":{"data":{"k":"v"}}}' },
      { kind: 'handle', platform: 'fcmv1', channel: 'fcm-direct-1' },
    );
    await waitFor(() => hubs.fcm.messages.some((m) => m.token === 'fcm-direct-1'), { what: 'the direct FCM send' });

    const nobody = await push.send({ format: 'browser', body: 'x' }, { kind: 'tags', expression: 'no_such_tag' });
    assert.equal((await completed(nobody.notificationId)).state, 'NoTargetFound');
    await push.deleteInstallation('send-a');
    await push.deleteInstallation('send-b');
  });

  it('schedules a send and cancels it; a second cancel is PUSH_NOT_FOUND; an idempotency key sends once', async () => {
    const sub = hubs.endpoint.subscribe();
    await push.createOrUpdateInstallation({ installationId: 'sched', platform: 'browser', pushChannel: channel(sub) });
    const at = Date.now() + 60_000;
    const later = await push.send({ format: 'browser', body: 'later' }, { kind: 'broadcast' }, { scheduledAt: at });
    assert.equal(later.scheduledAt, at);
    await push.cancelScheduled(later.notificationId);
    await assert.rejects(push.cancelScheduled(later.notificationId), { code: 'PUSH_NOT_FOUND', status: 404 });

    const soon = await push.send(
      { format: 'browser', body: 'soon' },
      { kind: 'installation', installationId: 'sched' },
      { scheduledAt: new Date(Date.now() + 200) },
    );
    await waitFor(() => sub.messages.some((m) => m.text === 'soon'), { timeoutMs: 10_000, what: 'the scheduled push' });
    assert.equal((await completed(soon.notificationId)).counts.browser?.success, 1);

    const first = await push.send(
      { format: 'browser', body: 'once' },
      { kind: 'broadcast' },
      { idempotencyKey: 'k-1' },
    );
    const again = await push.send(
      { format: 'browser', body: 'once' },
      { kind: 'broadcast' },
      { idempotencyKey: 'k-1' },
    );
    assert.equal(again.notificationId, first.notificationId);
    await completed(first.notificationId);
    assert.equal(sub.messages.filter((m) => m.text === 'once').length, 1);
    assert.equal(sub.messages.filter((m) => m.text === 'later').length, 0);
    await push.deleteInstallation('sched');
  });

  it("passes the front's coded errors through as PushErrors", async () => {
    await assert.rejects(push.send({ format: 'browser', body: 'x' }, { kind: 'tags', expression: 'a && (b' }), {
      name: 'PushError',
      code: 'PUSH_TAG_EXPRESSION_INVALID',
      status: 400,
    });
    await assert.rejects(
      push.createOrUpdateInstallation({ installationId: 'bad', platform: 'windows', pushChannel: 'x' }),
      { code: 'PUSH_UNKNOWN_PLATFORM' },
    );
    await assert.rejects(
      push.createOrUpdateInstallation({
        installationId: 'bad',
        platform: 'browser',
        pushChannel: { endpoint: 'nope' },
      }),
      { code: 'PUSH_INVALID_CHANNEL' },
    );
    await assert.rejects(push.send({ format: 'apns', body: 'x'.repeat(5000) }, { kind: 'broadcast' }), {
      code: 'PUSH_PAYLOAD_TOO_LARGE',
    });
    await assert.rejects(push.getNotificationOutcome('no-such-notification'), { code: 'PUSH_NOT_FOUND' });
    await assert.rejects(push.patchInstallation('nobody', [{ op: 'add', path: '/tags', value: 'x' }]), {
      code: 'PUSH_INSTALLATION_NOT_FOUND',
    });
  });

  it('refuses bad arguments before sending anything', async () => {
    await assert.rejects(
      push.send({ format: 'browser', body: 'x', headers: { Authorization: 'mine' } }, { kind: 'broadcast' }),
      { code: 'PUSH_INVALID_NOTIFICATION' },
    );
    await assert.rejects(
      push.send({ format: 'browser', body: 'x', headers: { TTL: '1\r\nX: y' } }, { kind: 'broadcast' }),
      {
        code: 'PUSH_INVALID_NOTIFICATION',
      },
    );
    await assert.rejects(
      push.send({ format: 'browser', body: 'x' }, { kind: 'broadcast' }, { scheduledAt: Number.NaN }),
      { code: 'PUSH_INVALID_SCHEDULE' },
    );
    await assert.rejects(
      push.send({ format: 'fcmv1', body: '{}' }, { kind: 'handle', platform: 'fcmv1', channel: 'bad token\n' }),
      { code: 'PUSH_INVALID_CHANNEL' },
    );
    assert.throws(() => createPushClient({ connectionString: 'Endpoint=nope', hubName }), {
      code: 'KERNEL_INVALID_OPTION',
    });
    assert.throws(() => createPushClient({ connectionString: hubs.front.connectionString(), hubName: 'a/b' }), {
      code: 'KERNEL_INVALID_OPTION',
    });
  });

  it('a wrong key is PUSH_UNAUTHORIZED, a listen key reading is PUSH_FORBIDDEN, a wrong hub PUSH_NOT_FOUND', async () => {
    const wrong = hubs.front.connectionString().replace(/SharedAccessKey=.*$/, `SharedAccessKey=${'x'.repeat(44)}`);
    await using bad = createPushClient({ connectionString: wrong, hubName, ca });
    await assert.rejects(bad.listInstallations(), { code: 'PUSH_UNAUTHORIZED', status: 401 });
    await using listen = createPushClient({
      connectionString: hubs.front.connectionString('DefaultListenSharedAccessSignature'),
      hubName,
      ca,
    });
    await assert.rejects(listen.listInstallations(), { code: 'PUSH_FORBIDDEN', status: 403 });
    await using elsewhere = createPushClient({ connectionString: hubs.front.connectionString(), hubName: 'other', ca });
    await assert.rejects(elsewhere.getNotificationOutcome('x'), { code: 'PUSH_NOT_FOUND', message: /No hub 'other'/ });
  });

  it('without the CA the certificate is refused: PUSH_CERTIFICATE_UNTRUSTED', async () => {
    await using untrusting = createPushClient({ connectionString: hubs.front.connectionString(), hubName });
    await assert.rejects(untrusting.listInstallations(), { code: 'PUSH_CERTIFICATE_UNTRUSTED' });
  });

  it('nothing listening, a plain TCP server and an HTTPS server that is not the front are coded errors', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const cs = (port: number) =>
      `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=k;SharedAccessKey=${'k'.repeat(44)}`;
    await using nobody = createPushClient({ connectionString: cs(closedPort), hubName, ca });
    await assert.rejects(nobody.listInstallations(), {
      code: 'PUSH_UNREACHABLE',
      detail: { origin: `https://127.0.0.1:${closedPort}`, reason: 'ECONNREFUSED' },
    });

    const plain = createServer((socket) => socket.end('HTTP/1.1 200 OK\r\n\r\n'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    await using notTls = createPushClient({ connectionString: cs((plain.address() as AddressInfo).port), hubName, ca });
    await assert.rejects(notTls.listInstallations(), { code: 'PUSH_UNREACHABLE' });
    plain.close();

    const dir = hubs.front.caPath!.replace(/ca\.pem$/, '');
    const other = createHttpsServer(
      { cert: readFileSync(`${dir}server.pem`), key: readFileSync(`${dir}server-key.pem`) },
      (_req, res) => res.writeHead(404).end('not here'),
    );
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    await using notFront = createPushClient({
      connectionString: cs((other.address() as AddressInfo).port),
      hubName,
      ca,
    });
    try {
      await assert.rejects(notFront.listInstallations(), (err: { code?: string; detail?: { status?: number } }) => {
        assert.equal(err.code, 'PUSH_UNEXPECTED_RESPONSE');
        assert.equal(err.detail?.status, 404);
        return true;
      });
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  it('a front that never answers times out, and one that answers too much is cut off: coded errors', async () => {
    const dir = hubs.front.caPath!.replace(/ca\.pem$/, '');
    const tls = { cert: readFileSync(`${dir}server.pem`), key: readFileSync(`${dir}server-key.pem`) };
    const cs = (port: number) =>
      `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=k;SharedAccessKey=${'k'.repeat(44)}`;
    const silent = createHttpsServer(tls, () => undefined);
    const flood = createHttpsServer(tls, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const write = () => {
        while (res.write(chunk)) if (res.destroyed) return;
      };
      res.on('drain', write);
      res.on('close', () => res.off('drain', write));
      write();
    });
    for (const server of [silent, flood]) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server: typeof silent) => (server.address() as AddressInfo).port;
    try {
      await using slow = createPushClient({ connectionString: cs(port(silent)), hubName, ca, timeoutMs: 200 });
      await assert.rejects(slow.listInstallations(), (err: { code?: string; detail?: { reason?: string } }) => {
        assert.equal(err.code, 'PUSH_UNREACHABLE');
        assert.equal(err.detail?.reason, 'ETIMEDOUT');
        return true;
      });
      await using flooded = createPushClient({ connectionString: cs(port(flood)), hubName, ca });
      await assert.rejects(flooded.listInstallations(), { code: 'PUSH_UNEXPECTED_RESPONSE' });
    } finally {
      for (const server of [silent, flood]) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    }
  });
});
