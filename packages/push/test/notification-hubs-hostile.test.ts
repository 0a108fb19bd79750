// Hostile input at the Notification Hubs front, over raw HTTPS and raw TLS: bad, missing, expired
// and misdirected signatures, oversized and malformed bodies, unknown routes and path tricks. Each
// is refused with a coded XML error, nothing reaches the service that should not, and the front
// keeps serving.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { createNotificationHubsFront } from '../src/http/index.ts';
import { type RawReply, rawClient } from './nh-client.ts';
import { type NotificationHubsFixture, startNotificationHubs } from './nh-fixture.ts';

const api = '?api-version=2020-06';

describe('Notification Hubs front: hostile input', () => {
  let hubs: NotificationHubsFixture;
  let client: ReturnType<typeof rawClient>;
  const errors: Error[] = [];

  before(async () => {
    hubs = await startNotificationHubs({
      maxBodyBytes: 16_384,
      onError: (e) => errors.push(e),
    });
    client = rawClient(hubs.front.port, await readFile(hubs.front.caPath!, 'utf8'), hubs.policies.full);
  });
  after(() => hubs?.close());

  const expect = (reply: RawReply, status: number, code: string) => {
    assert.equal(reply.status, status, reply.body);
    assert.equal(reply.code, code, reply.body);
    assert.equal(reply.headers['x-hubbub-error-code'], code);
    assert.match(String(reply.headers['content-type']), /^application\/xml/);
    assert.match(reply.body, /^<Error><Code>\d{3}<\/Code><Detail>[^<]+ TrackingId:[0-9a-f-]{36}<\/Detail><\/Error>$/);
  };
  const healthy = async () => {
    const sub = hubs.endpoint.subscribe();
    const put = await client.send('PUT', `/orders/installations/ok-1${api}`, {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        installationId: 'ok-1',
        platform: 'browser',
        pushChannel: { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth },
      }),
    });
    assert.equal(put.status, 200, put.body);
    assert.equal((await client.send('GET', `/orders/installations/ok-1${api}`)).status, 200);
  };

  it('refuses missing, malformed, wrongly signed, expired and misdirected signatures with 401', async () => {
    const path = `/orders/installations/x${api}`;
    const cases = [
      await client.send('GET', path, { policy: null }),
      await client.send('GET', path, { headers: { Authorization: 'Bearer abc' } }),
      await client.send('GET', path, { headers: { Authorization: 'SharedAccessSignature sr=x&sig=y' } }),
      await client.send('GET', path, { policy: { name: hubs.policies.full.name, key: hubs.policies.listen.key } }),
      await client.send('GET', path, { policy: { name: 'RootManageSharedAccessKey', key: hubs.policies.full.key } }),
      await client.send('GET', path, { expiresAt: Date.now() / 1000 - 3600 }),
      await client.send('GET', path, { audience: `${client.origin}/otherhub/` }),
      await client.send('GET', path, { audience: 'https://127.0.0.1:1/' }),
      await client.send('GET', path, { audience: 'https://evil.example/' }),
    ];
    for (const reply of cases) expect(reply, 401, 'PUSH_UNAUTHORIZED');
    // the listen key may write an installation but not read one or send
    expect(await client.send('GET', path, { policy: hubs.policies.listen }), 403, 'PUSH_FORBIDDEN');
    expect(
      await client.send('POST', `/orders/messages/${api}`, {
        policy: hubs.policies.listen,
        headers: { 'ServiceBusNotification-Format': 'browser' },
        body: 'x',
      }),
      403,
      'PUSH_FORBIDDEN',
    );
    await healthy();
  });

  it('refuses unknown hubs, routes and methods, and a missing or unknown api-version', async () => {
    expect(await client.send('GET', `/other/installations/x${api}`), 404, 'PUSH_NOT_FOUND');
    expect(await client.send('GET', `/orders/nothing${api}`), 404, 'PUSH_NOT_FOUND');
    expect(await client.send('GET', `/orders/installations/a/b${api}`), 404, 'PUSH_NOT_FOUND');
    expect(await client.send('GET', `/orders/installations//${api}`), 404, 'PUSH_NOT_FOUND');
    expect(await client.send('GET', `/${api}`), 404, 'PUSH_NOT_FOUND');
    const post = await client.send('POST', `/orders/installations/x${api}`, { body: '{}' });
    expect(post, 405, 'PUSH_METHOD_NOT_ALLOWED');
    assert.equal(post.headers.allow, 'PUT, PATCH, DELETE, GET');
    expect(await client.send('GET', '/orders/installations/x'), 400, 'PUSH_INVALID_REQUEST');
    expect(await client.send('GET', '/orders/installations/x?api-version=1999-01'), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await client.send('GET', '/orders/installations/x?api-version=2020-06&api-version=1999-01'),
      400,
      'KERNEL_REPEATED_PARAMETER',
    );
    await healthy();
  });

  it('refuses oversized, malformed and mismatched bodies before they reach the service', async () => {
    const put = (body: string | Buffer, id = 'i1') =>
      client.send('PUT', `/orders/installations/${id}${api}`, {
        headers: { 'Content-Type': 'application/json' },
        body,
      });
    const big = await put(JSON.stringify({ installationId: 'i1', platform: 'browser', pad: 'x'.repeat(20_000) }));
    expect(big, 413, 'KERNEL_BODY_TOO_LARGE');
    expect(await put('{"installationId": "i1", '), 400, 'PUSH_INVALID_REQUEST');
    expect(await put(''), 400, 'PUSH_INVALID_REQUEST');
    expect(await put('[1,2]'), 400, 'PUSH_INVALID_REQUEST');
    expect(await put(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, 'PUSH_INVALID_REQUEST');
    expect(await put(JSON.stringify({ installationId: 'other', platform: 'browser' })), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await put(JSON.stringify({ installationId: 'i1', platform: 'gcm', pushChannel: 't' })),
      400,
      'PUSH_UNKNOWN_PLATFORM',
    );
    const patch = (body: string) =>
      client.send('PATCH', `/orders/installations/ok-1${api}`, {
        headers: { 'Content-Type': 'application/json' },
        body,
      });
    expect(await patch('{"op":"add"}'), 400, 'PUSH_INVALID_REQUEST');
    expect(await patch('[]'), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await patch(JSON.stringify(Array.from({ length: 300 }, () => ({ op: 'add', path: '/tags', value: 'a' })))),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(await patch('[{"op":"move","path":"/tags"}]'), 400, 'PUSH_INVALID_PATCH');
    await healthy();
  });

  it('refuses malformed send headers: format, direct handles, schedule times, template bodies', async () => {
    const send = (headers: Record<string, string>, body = '{"title":"x"}', query = '') =>
      client.send('POST', `/orders/messages/${api}${query}`, {
        headers: { 'Content-Type': 'application/json', ...headers },
        body,
      });
    expect(await send({}), 400, 'PUSH_INVALID_REQUEST');
    expect(await send({ 'ServiceBusNotification-Format': 'carrier-pigeon' }), 400, 'PUSH_INVALID_REQUEST');
    expect(await send({ 'ServiceBusNotification-Format': 'adm' }), 400, 'PUSH_UNKNOWN_PLATFORM');
    for (const format of ['__proto__', 'constructor', 'toString'])
      expect(await send({ 'ServiceBusNotification-Format': format }), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await send({ 'ServiceBusNotification-Format': 'browser' }, 'x', '&direct=true'),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(
      await send(
        { 'ServiceBusNotification-Format': 'browser', 'ServiceBusNotification-DeviceHandle': 'https://push.example/1' },
        'x',
        '&direct=true',
      ),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(
      await send(
        { 'ServiceBusNotification-Format': 'template', 'ServiceBusNotification-DeviceHandle': 'tok' },
        '{}',
        '&direct=true',
      ),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(await send({ 'ServiceBusNotification-Format': 'template' }, '[1]'), 400, 'PUSH_INVALID_REQUEST');
    expect(await send({ 'ServiceBusNotification-Format': 'template' }, 'not json'), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await send({
        'ServiceBusNotification-Format': 'browser',
        'ServiceBusNotification-Tags': `${'a || '.repeat(1000)}b`,
      }),
      400,
      'PUSH_INVALID_REQUEST',
    );
    const schedule = (time: string | undefined) =>
      client.send('POST', `/orders/schedulednotifications/${api}`, {
        headers: {
          'ServiceBusNotification-Format': 'browser',
          ...(time === undefined ? {} : { 'ServiceBusNotification-ScheduleTime': time }),
        },
        body: 'x',
      });
    expect(await schedule(undefined), 400, 'PUSH_INVALID_REQUEST');
    expect(await schedule('next tuesday'), 400, 'PUSH_INVALID_REQUEST');
    expect(await schedule(new Date(Date.now() + 30 * 86_400_000).toISOString()), 400, 'PUSH_INVALID_SCHEDULE');
    expect(await client.send('DELETE', `/orders/schedulednotifications/nope${api}`), 404, 'PUSH_NOT_FOUND');
    await healthy();
  });

  it('refuses malformed direct batches', async () => {
    const batch = (contentType: string, body: string, format = 'fcmv1', query = '&direct=true') =>
      client.send('POST', `/orders/messages/$batch${api}${query}`, {
        headers: { 'Content-Type': contentType, 'ServiceBusNotification-Format': format },
        body,
      });
    const multipart = (devices: string, notification = '{"message":{}}') =>
      `--b\r\nContent-type: application/json\r\nContent-Disposition: inline; name=notification\r\n\r\n${notification}\r\n` +
      `--b\r\nContent-type: application/json\r\nContent-Disposition: inline; name=devices\r\n\r\n${devices}\r\n--b--`;
    const mixed = 'multipart/mixed; boundary = "b"';
    expect(await batch('application/json', multipart('["t"]')), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch('multipart/mixed', multipart('["t"]')), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch(mixed, multipart('["t"]').replace('--b--', '')), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch(mixed, multipart('["t"]').replace('name=devices', 'name=other')), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch(mixed, multipart('{"t":1}')), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch(mixed, multipart('[1]')), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch(mixed, multipart('not json')), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await batch(mixed, multipart(JSON.stringify(Array.from({ length: 1001 }, (_, i) => `t${i}`)))),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(await batch(mixed, multipart('["https://push.example/1"]'), 'browser'), 400, 'PUSH_INVALID_REQUEST');
    expect(await batch(mixed, multipart('["t"]'), 'fcmv1', ''), 400, 'PUSH_INVALID_REQUEST');
    await healthy();
  });

  it('refuses malformed registrations, entity declarations and bad list queries', async () => {
    const post = (body: string) =>
      client.send('POST', `/orders/registrations${api}`, {
        headers: { 'Content-Type': 'application/atom+xml;type=entry;charset=utf-8' },
        body,
      });
    const entry = (description: string) =>
      `<entry xmlns="http://www.w3.org/2005/Atom"><content type="application/xml">${description}</content></entry>`;
    expect(await post(''), 400, 'PUSH_INVALID_REQUEST');
    expect(await post('<entry><content>'), 400, 'PUSH_INVALID_REQUEST');
    expect(await post('{"json": true}'), 400, 'PUSH_INVALID_REQUEST');
    expect(
      await post(
        `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>${entry('<FcmV1RegistrationDescription><FcmV1RegistrationId>&lol;</FcmV1RegistrationId></FcmV1RegistrationDescription>')}`,
      ),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(await post('<entry xmlns="http://www.w3.org/2005/Atom"></entry>'), 400, 'PUSH_INVALID_REQUEST');
    expect(await post(entry('<Unknown/>')), 400, 'PUSH_UNKNOWN_PLATFORM');
    for (const kind of ['constructor', 'toString', '__proto__'])
      expect(
        await post(
          entry(`<${kind}RegistrationDescription><DeviceToken>ab</DeviceToken></${kind}RegistrationDescription>`),
        ),
        400,
        'PUSH_UNKNOWN_PLATFORM',
      );
    expect(
      await post(
        entry('<GcmRegistrationDescription><GcmRegistrationId>x</GcmRegistrationId></GcmRegistrationDescription>'),
      ),
      400,
      'PUSH_UNKNOWN_PLATFORM',
    );
    expect(
      await post(entry('<FcmV1RegistrationDescription/><AppleRegistrationDescription/>')),
      400,
      'PUSH_UNKNOWN_PLATFORM',
    );
    expect(
      await post(
        entry(
          '<FcmV1TemplateRegistrationDescription><FcmV1RegistrationId>t</FcmV1RegistrationId></FcmV1TemplateRegistrationDescription>',
        ),
      ),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(
      await client.send('GET', `/orders/registrations${api}&$filter=${encodeURIComponent("Nonsense eq 'x'")}`),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(
      await client.send('GET', `/orders/registrations${api}&$filter=${encodeURIComponent('1 = 1')}`),
      400,
      'PUSH_INVALID_REQUEST',
    );
    expect(await client.send('GET', `/orders/registrations${api}&$top=-1`), 400, 'PUSH_INVALID_REQUEST');
    expect(await client.send('GET', `/orders/feedbackcontainer${api}`), 404, 'PUSH_NOT_SUPPORTED');
    await healthy();
  });

  it('de-duplicates a retried send by x-ms-client-request-id', async () => {
    const send = () =>
      client.send('POST', `/orders/messages/${api}`, {
        headers: { 'ServiceBusNotification-Format': 'browser', 'x-ms-client-request-id': 'retry-1' },
        body: '{"title":"once"}',
      });
    const first = await send();
    const second = await send();
    assert.equal(first.status, 201, first.body);
    assert.equal(second.status, 201, second.body);
    assert.match(
      String(first.headers.location),
      /^https:\/\/127\.0\.0\.1:\d+\/orders\/messages\/[^/?]+\?api-version=2020-06$/,
    );
    assert.equal(first.headers.location, second.headers.location);
    assert.ok(first.headers.trackingid);
  });

  it('refuses path tricks and malformed request targets', async () => {
    expect(await client.send('GET', `/orders/installations/%E0%A4%A${api}`), 400, 'KERNEL_BAD_URL');
    expect(await client.send('GET', `/orders/installations/a%00b${api}`), 400, 'PUSH_INVALID_REQUEST');
    expect(await client.send('GET', `/orders/installations/${'x'.repeat(300)}${api}`), 400, 'PUSH_INVALID_REQUEST');
    // dot segments are resolved before routing: they cannot climb out of the hub
    expect(await client.send('GET', `/orders/installations/../../other/installations/x${api}`), 404, 'PUSH_NOT_FOUND');
    expect(await client.send('GET', `/orders/installations/%2e%2e/%2e%2e/x${api}`), 404, 'PUSH_NOT_FOUND');
    // an encoded slash stays inside the id
    expect(await client.send('GET', `/orders/installations/a%2Fb${api}`), 404, 'PUSH_INSTALLATION_NOT_FOUND');
    const absolute = await client.raw(
      `GET https://127.0.0.1/orders/installations/x${api} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.match(absolute, /^HTTP\/1\.1 400 /);
    assert.match(absolute, /KERNEL_BAD_URL/);
    const garbage = await client.raw('\x00\x01 not http\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    // plain HTTP on the TLS port is dropped, and the front keeps serving
    await new Promise<void>((resolve) => {
      const socket = connectTcp(hubs.front.port, '127.0.0.1', () =>
        socket.write(`GET /orders/installations/x${api} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.resume();
    });
    await healthy();
    assert.deepEqual(errors, [], 'no hostile request is a server failure');
  });

  it('drops connections that stall their handshake or never send a request', async () => {
    const dir = dirname(hubs.front.caPath!);
    const ca = await readFile(hubs.front.caPath!, 'utf8');
    const tight = createNotificationHubsFront({
      service: hubs.service,
      policies: [hubs.policies.full],
      hubName: 'orders',
      tls: {
        certPem: await readFile(join(dir, 'server.pem'), 'utf8'),
        keyPem: await readFile(join(dir, 'server-key.pem'), 'utf8'),
      },
      handshakeTimeoutMs: 300,
      limits: { idleTimeoutMs: 500 },
    });
    await tight.start();
    try {
      const closed = (socket: Socket) =>
        new Promise<void>((resolve) => {
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
        });
      // connects and never says hello
      await closed(connectTcp(tight.port, '127.0.0.1'));
      // completes the handshake and then sends no request
      await closed(connectTls({ host: '127.0.0.1', port: tight.port, ca, servername: 'localhost' }));
      const tightClient = rawClient(tight.port, ca, hubs.policies.full);
      expect(await tightClient.send('GET', `/orders/installations/nobody${api}`), 404, 'PUSH_INSTALLATION_NOT_FOUND');
    } finally {
      await tight.close();
    }
  });
});
