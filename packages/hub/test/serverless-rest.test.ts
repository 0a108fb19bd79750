/**
 * The data-plane REST API, route by route: success statuses as Azure answers them, and every
 * error path (auth, api-version, body, names, routes, methods).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Clock, ManualClock, waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { decodeJwt, SignJWT } from 'jose';
import { createServerToken, createSignalRService, type SignalRService } from '../src/index.ts';

const key = 'rest-key-0123456789abcdefghijklmnopqrstuvwxyz';

interface Reply {
  status: number;
  json: Record<string, unknown> | undefined;
  headers: Headers;
}

function restClient(base: () => string, clock?: Clock) {
  return async (
    method: string,
    path: string,
    options: {
      body?: unknown;
      raw?: string | Uint8Array;
      contentType?: string;
      token?: string | null;
      apiVersion?: string | null;
    } = {},
  ): Promise<Reply> => {
    const version = options.apiVersion === undefined ? '2022-06-01' : options.apiVersion;
    const v1 = path.startsWith('/api/v1/');
    const query = version === null || v1 ? '' : `${path.includes('?') ? '&' : '?'}api-version=${version}`;
    const url = `${base()}${path}${query}`;
    const token =
      options.token === undefined
        ? await createServerToken({ audience: url, accessKey: key, ...(clock ? { clock } : {}) })
        : options.token;
    const text = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const response = await fetch(url, {
      method,
      headers: {
        ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
        ...(text === undefined ? {} : { 'Content-Type': options.contentType ?? 'application/json' }),
      },
      ...(text === undefined ? {} : { body: text }),
    });
    const body = await response.text();
    return { status: response.status, json: body === '' ? undefined : JSON.parse(body), headers: response.headers };
  };
}

let service: SignalRService;
let base: string;
const rest = restClient(() => base);
const clients: signalR.HubConnection[] = [];

async function connect(userId: string, hub = 'chat') {
  const access = await service.clientAccess(hub, { userId });
  const client = new signalR.HubConnectionBuilder()
    .withUrl(access.url, { accessTokenFactory: () => access.accessToken })
    .configureLogging(signalR.LogLevel.None)
    .build();
  const received: unknown[][] = [];
  client.on('m', (...args: unknown[]) => received.push(args));
  await client.start();
  clients.push(client);
  return { client, id: client.connectionId!, received };
}

before(async () => {
  service = createSignalRService({ keys: [key], maxBodyBytes: 64 * 1024 });
  ({ url: base } = await service.listen());
});
after(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await service.close();
});

describe('health', () => {
  it('answers HEAD /api/health and GET /api/v1/health with 200, without a token', async () => {
    assert.equal((await rest('HEAD', '/api/health', { token: null })).status, 200);
    assert.equal((await rest('GET', '/api/v1/health', { token: null })).status, 200);
    assert.equal((await rest('POST', '/api/health', { token: null })).status, 405);
  });
});

describe('authentication', () => {
  const send = { target: 'm', arguments: [] };
  it('accepts aud with or without the query, as the SDK and the docs sign it', async () => {
    assert.equal((await rest('POST', '/api/hubs/chat/:send', { body: send })).status, 202);
    const bare = `${base}/api/hubs/chat/:send`;
    const token = await createServerToken({ audience: bare, accessKey: key });
    assert.equal((await rest('POST', '/api/hubs/chat/:send', { body: send, token })).status, 202);
  });

  it('answers 401 with a JSON error for no token, a wrong key, an expired token or another URL', async () => {
    const url = `${base}/api/hubs/chat/:send?api-version=2022-06-01`;
    const cases: Array<[string, string | null]> = [
      ['no token', null],
      ['wrong key', await createServerToken({ audience: url, accessKey: 'wrong-key-0123456789abcdefghijklmnopqrstu' })],
      [
        'expired',
        await createServerToken({ audience: url, accessKey: key, clock: new ManualClock(Date.now() - 7_200_000) }),
      ],
      ['another path', await createServerToken({ audience: `${base}/api/hubs/other/:send`, accessKey: key })],
      [
        'another host',
        await createServerToken({ audience: 'http://evil.example/api/hubs/chat/:send', accessKey: key }),
      ],
      ['garbage', 'abc'],
    ];
    for (const [what, token] of cases) {
      const reply = await rest('POST', '/api/hubs/chat/:send', { body: send, token });
      assert.equal(reply.status, 401, what);
      assert.equal(reply.json?.code, 'HUB_UNAUTHORIZED', what);
      assert.equal(reply.headers.get('www-authenticate'), 'Bearer');
    }
  });

  it('requires exp', async () => {
    const url = `${base}/api/hubs/chat/:send?api-version=2022-06-01`;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(url)
      .sign(new TextEncoder().encode(key));
    assert.equal((await rest('POST', '/api/hubs/chat/:send', { body: send, token })).status, 401);
  });
});

describe('bad input', () => {
  const send = { target: 'm', arguments: [] };
  const expect400 = (reply: Reply, field: string) => {
    assert.equal(reply.status, 400, field);
    assert.equal(reply.json?.code, 'HUB_BAD_REQUEST');
    assert.equal(reply.json?.target, field);
  };

  it('requires a well-formed api-version', async () => {
    expect400(await rest('POST', '/api/hubs/chat/:send', { body: send, apiVersion: null }), 'api-version');
    expect400(await rest('POST', '/api/hubs/chat/:send', { body: send, apiVersion: 'latest' }), 'api-version');
  });

  it('validates hub and group names', async () => {
    expect400(await rest('POST', '/api/hubs/1chat/:send', { body: send }), 'hub');
    expect400(await rest('POST', '/api/hubs/ch-at/:send', { body: send }), 'hub');
    expect400(await rest('POST', `/api/hubs/chat/groups/${'g'.repeat(1025)}/:send`, { body: send }), 'group');
    expect400(await rest('POST', '/api/hubs/chat/groups/%E0%A4%A/:send', { body: send }), 'path');
  });

  it('validates the payload: JSON object, non-empty target, array arguments', async () => {
    expect400(await rest('POST', '/api/hubs/chat/:send', { raw: '{nope' }), 'body');
    expect400(await rest('POST', '/api/hubs/chat/:send', { body: [1] }), 'body');
    expect400(await rest('POST', '/api/hubs/chat/:send', { body: { arguments: [] } }), 'target');
    expect400(await rest('POST', '/api/hubs/chat/:send', { body: { target: '', arguments: [] } }), 'target');
    expect400(await rest('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: 'x' } }), 'arguments');
  });

  it('answers 415 for a non-JSON body and 413 for a body over the limit', async () => {
    const reply = await rest('POST', '/api/hubs/chat/:send', { raw: 'hi', contentType: 'text/plain' });
    assert.equal(reply.status, 415);
    assert.equal(reply.json?.code, 'HUB_BAD_REQUEST');
    const big = await rest('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: ['x'.repeat(70_000)] } });
    assert.equal(big.status, 413);
  });

  it('answers 404 for unknown routes and 405 with Allow for a wrong method, each with its own code', async () => {
    const missing = await rest('POST', '/api/hubs/chat/:nothing', { body: send });
    assert.equal(missing.status, 404);
    assert.equal(missing.json?.code, 'HUB_ROUTE_NOT_FOUND');
    assert.equal(missing.headers.get('x-ms-error-code'), 'HUB_ROUTE_NOT_FOUND');
    const reply = await rest('GET', '/api/hubs/chat/:send');
    assert.equal(reply.status, 405);
    assert.equal(reply.json?.code, 'HUB_METHOD_NOT_ALLOWED');
    assert.equal(reply.headers.get('allow'), 'POST');
  });

  it('generates client tokens (:generateToken, api-version 2022-11-01) the client connects with', async () => {
    const reply = await rest('POST', '/api/hubs/Chat/:generateToken?userId=gen-user&minutesToExpire=5&role=reader', {
      apiVersion: '2022-11-01',
    });
    assert.equal(reply.status, 200);
    const token = String(reply.json?.token);
    const claims = decodeJwt(token);
    assert.equal(claims['asrs.s.uid'], 'gen-user');
    assert.equal(claims.role, 'reader');
    assert.equal(Number(claims.exp) - Number(claims.iat), 300);
    const { url } = await service.clientAccess('chat');
    assert.equal(claims.aud, url);
    const client = new signalR.HubConnectionBuilder()
      .withUrl(url, { accessTokenFactory: () => token })
      .configureLogging(signalR.LogLevel.None)
      .build();
    await client.start();
    clients.push(client);
    const to = await rest('HEAD', '/api/hubs/chat/users/gen-user');
    assert.equal(to.status, 200);
    const anonymous = decodeJwt(
      String((await rest('POST', '/api/hubs/chat/:generateToken', { apiVersion: '2022-11-01' })).json?.token),
    );
    assert.equal(anonymous['asrs.s.uid'], undefined);
    assert.equal(Number(anonymous.exp) - Number(anonymous.iat), 3600);
  });

  it(':generateToken answers with the codes of the other routes', async () => {
    const path = '/api/hubs/chat/:generateToken';
    const unsigned = await rest('POST', path, { token: null });
    assert.equal(unsigned.status, 401);
    assert.equal(unsigned.json?.code, 'HUB_UNAUTHORIZED');
    expect400(await rest('POST', path, { apiVersion: null }), 'api-version');
    expect400(await rest('POST', `${path}?minutesToExpire=0`), 'minutesToExpire');
    expect400(await rest('POST', `${path}?minutesToExpire=soon`), 'minutesToExpire');
    expect400(await rest('POST', `${path}?group=g1`), 'group');
    expect400(await rest('POST', '/api/hubs/9chat/:generateToken'), 'hub');
    const get = await rest('GET', path);
    assert.equal(get.status, 405);
    assert.equal(get.json?.code, 'HUB_METHOD_NOT_ALLOWED');
    const v1 = await rest('POST', '/api/v1/hubs/chat/:generateToken');
    assert.equal(v1.status, 404);
    assert.equal(v1.json?.code, 'HUB_ROUTE_NOT_FOUND');
  });

  it('validates ttl', async () => {
    expect400(await rest('PUT', '/api/hubs/chat/users/u/groups/g?ttl=-1'), 'ttl');
    expect400(await rest('PUT', '/api/hubs/chat/users/u/groups/g?ttl=soon'), 'ttl');
  });
});

/** MessagePack str / bin headers for short values, as the .NET SDK writes the binary body. */
const str = (text: string) => Buffer.concat([Buffer.from([0xa0 | text.length]), Buffer.from(text)]);
const bin = (bytes: Buffer) => Buffer.concat([Buffer.from([0xc4, bytes.length]), bytes]);
const jsonInvocation = (arg: string) =>
  Buffer.from(`${JSON.stringify({ type: 1, target: 'm', arguments: [arg] })}\u001e`);
/** [1, {}, nil, "m", [arg]] with its VarInt length. */
function msgpackInvocation(arg: string): Buffer {
  const body = Buffer.concat([Buffer.from([0x95, 0x01, 0x80, 0xc0]), str('m'), Buffer.from([0x91]), str(arg)]);
  return Buffer.concat([Buffer.from([body.length]), body]);
}

describe('binary payloads (application/octet-stream)', () => {
  const post = (raw: Uint8Array) =>
    rest('POST', '/api/hubs/chat/users/bin-user/:send', { raw, contentType: 'application/octet-stream' });

  it('reads the {json, messagepack} map, preferring json, else messagepack', async () => {
    const a = await connect('bin-user');
    const both = Buffer.concat([
      Buffer.from([0x82]),
      str('json'),
      bin(jsonInvocation('from-json')),
      str('messagepack'),
      bin(msgpackInvocation('from-mp')),
    ]);
    assert.equal((await post(both)).status, 202);
    const onlyMp = Buffer.concat([Buffer.from([0x81]), str('messagepack'), bin(msgpackInvocation('only-mp'))]);
    assert.equal((await post(onlyMp)).status, 202);
    await waitFor(() => a.received.length === 2);
    assert.deepEqual(a.received, [['from-json'], ['only-mp']]);
  });

  it('answers 400 for a malformed binary body', async () => {
    const completion = Buffer.from(`${JSON.stringify({ type: 3, invocationId: '1' })}\u001e`);
    const cases: Array<[string, Buffer]> = [
      ['not a map', Buffer.from([0x91, 0x01])],
      ['truncated', Buffer.from([0x81, 0xa4, 0x6a])],
      ['no known entry', Buffer.concat([Buffer.from([0x81]), str('xml'), bin(jsonInvocation('x'))])],
      ['a value that is not binary', Buffer.concat([Buffer.from([0x81]), str('json'), str('x')])],
      [
        'bytes after the map',
        Buffer.concat([Buffer.from([0x81]), str('json'), bin(jsonInvocation('x')), Buffer.from([0])]),
      ],
      [
        'an entry that is not a hub message',
        Buffer.concat([Buffer.from([0x81]), str('json'), bin(Buffer.from('nope'))]),
      ],
      ['a Completion instead of an Invocation', Buffer.concat([Buffer.from([0x81]), str('json'), bin(completion)])],
    ];
    for (const [what, raw] of cases) {
      const reply = await post(raw);
      assert.equal(reply.status, 400, what);
      assert.equal(reply.json?.target, 'body', what);
    }
  });
});

describe('sends (2022-06-01)', () => {
  it('broadcasts, honouring excluded connections and excluded users', async () => {
    const a = await connect('send-a');
    const b = await connect('send-b');
    const c = await connect('send-c');
    const status = (
      await rest('POST', `/api/hubs/chat/:send?excluded=${a.id}&excludedUsers=send-b`, {
        body: { Target: 'm', Arguments: ['all-but'] },
      })
    ).status;
    assert.equal(status, 202);
    await waitFor(() => c.received.some((m) => m[0] === 'all-but'));
    assert.equal(
      (await rest('POST', '/api/hubs/chat/:send', { body: { target: 'm', arguments: ['all'] } })).status,
      202,
    );
    await waitFor(() => a.received.length > 0 && b.received.length > 0);
    assert.deepEqual(a.received, [['all']]);
    assert.deepEqual(b.received, [['all']]);
  });

  it('sends to a user, a connection and a group (with excluded), 202 even when nobody matches', async () => {
    const a = await connect('target-a');
    const b = await connect('target-b');
    assert.equal((await rest('PUT', `/api/hubs/chat/groups/team/connections/${a.id}`)).status, 200);
    assert.equal((await rest('PUT', `/api/hubs/chat/groups/team/connections/${b.id}`)).status, 200);
    const body = (x: string) => ({ body: { target: 'm', arguments: [x] } });
    assert.equal((await rest('POST', '/api/hubs/chat/users/target-a/:send', body('user'))).status, 202);
    assert.equal((await rest('POST', `/api/hubs/chat/connections/${b.id}/:send`, body('conn'))).status, 202);
    assert.equal((await rest('POST', `/api/hubs/chat/groups/team/:send?excluded=${b.id}`, body('group'))).status, 202);
    assert.equal((await rest('POST', '/api/hubs/chat/users/nobody/:send', body('none'))).status, 202);
    assert.equal((await rest('POST', '/api/hubs/chat/connections/none/:send', body('none'))).status, 202);
    await waitFor(() => a.received.length === 2 && b.received.length === 1);
    assert.deepEqual(a.received, [['user'], ['group']]);
    assert.deepEqual(b.received, [['conn']]);
  });

  it('decodes percent-encoded user and group names, in the path and in aud alike', async () => {
    const a = await connect('a@b c');
    const user = encodeURIComponent('a@b c');
    const group = encodeURIComponent('order/42 é');
    assert.equal((await rest('PUT', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 200);
    assert.equal((await rest('HEAD', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 200);
    const body = { body: { target: 'm', arguments: ['encoded'] } };
    assert.equal((await rest('POST', `/api/hubs/chat/groups/${group}/:send`, body)).status, 202);
    await waitFor(() => a.received.length === 1);
    assert.equal(service.hub('chat').isUserInGroup('a@b c', 'order/42 é'), true);
  });

  it('prefixes the hub with ?application=', async () => {
    const a = await connect('app-user', 'shop_chat');
    const reply = await rest('POST', '/api/hubs/chat/:send?application=shop', {
      body: { target: 'm', arguments: ['app'] },
    });
    assert.equal(reply.status, 202);
    await waitFor(() => a.received.length === 1);
  });
});

describe('groups, users and existence (2022-06-01)', () => {
  it('adds and removes connections, 404 for unknown connections', async () => {
    const a = await connect('grp-a');
    assert.equal((await rest('HEAD', `/api/hubs/chat/connections/${a.id}`)).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/connections/unknown')).status, 404);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/g1')).status, 404);
    assert.equal((await rest('PUT', `/api/hubs/chat/groups/g1/connections/${a.id}`)).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/g1')).status, 200);
    assert.equal((await rest('DELETE', `/api/hubs/chat/groups/g1/connections/${a.id}`)).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/g1')).status, 404);
    const missing = await rest('PUT', '/api/hubs/chat/groups/g1/connections/unknown');
    assert.equal(missing.status, 404);
    assert.equal(missing.json?.code, 'HUB_CONNECTION_NOT_FOUND');
    assert.equal(missing.headers.get('x-ms-error-code'), 'Error.Connection.NotExisted');
    assert.equal((await rest('DELETE', '/api/hubs/chat/groups/g1/connections/unknown')).status, 404);
    assert.equal((await rest('PUT', `/api/hubs/chat/groups/g2/connections/${a.id}`)).status, 200);
    assert.equal((await rest('PUT', `/api/hubs/chat/groups/g3/connections/${a.id}`)).status, 200);
    assert.equal((await rest('DELETE', `/api/hubs/chat/connections/${a.id}/groups`)).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/g2')).status, 404);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/g3')).status, 404);
  });

  it('adds and removes users, checks user existence and membership', async () => {
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr')).status, 404);
    const a = await connect('usr');
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr')).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr/groups/u1')).status, 404);
    assert.equal((await rest('PUT', '/api/hubs/chat/users/usr/groups/u1')).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr/groups/u1')).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/u1')).status, 200);
    assert.equal((await rest('DELETE', '/api/hubs/chat/users/usr/groups/u1')).status, 204);
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr/groups/u1')).status, 404);
    assert.equal((await rest('PUT', '/api/hubs/chat/users/usr/groups/u2')).status, 200);
    assert.equal((await rest('PUT', '/api/hubs/chat/users/usr/groups/u3')).status, 200);
    assert.equal((await rest('DELETE', '/api/hubs/chat/users/usr/groups')).status, 204);
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr/groups/u2')).status, 404);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/u3')).status, 404);
    // ttl=0: only the connections the user has now.
    assert.equal((await rest('PUT', '/api/hubs/chat/users/usr/groups/now?ttl=0')).status, 200);
    assert.equal((await rest('HEAD', '/api/hubs/chat/groups/now')).status, 200);
    await a.client.stop();
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr')).status, 404);
    const again = await connect('usr');
    assert.equal((await rest('HEAD', '/api/hubs/chat/users/usr/groups/now')).status, 404);
    assert.equal(again.received.length, 0);
  });

  it('GET works for existence checks too', async () => {
    assert.equal((await rest('GET', '/api/hubs/chat/users/nobody-here')).status, 404);
  });
});

describe('closing connections (2022-06-01)', () => {
  it('closes all (with excluded), a group, a user and a connection', async () => {
    const closed = new Map<string, string | undefined>();
    const watch = async (user: string) => {
      const c = await connect(user, 'closing');
      c.client.onclose((err) => closed.set(user, err?.message));
      return c;
    };
    const a = await watch('close-a');
    const b = await watch('close-b');
    await watch('close-c');
    const d = await watch('close-d');
    assert.equal((await rest('PUT', `/api/hubs/closing/groups/gone/connections/${b.id}`)).status, 200);
    assert.equal((await rest('POST', '/api/hubs/closing/groups/gone/:closeConnections?reason=group')).status, 204);
    await waitFor(() => closed.has('close-b'));
    assert.match(String(closed.get('close-b')), /group/);
    assert.equal((await rest('POST', '/api/hubs/closing/users/close-c/:closeConnections')).status, 204);
    await waitFor(() => closed.has('close-c'));
    assert.equal((await rest('DELETE', '/api/hubs/closing/connections/unknown?reason=x')).status, 200);
    assert.equal((await rest('POST', `/api/hubs/closing/:closeConnections?excluded=${d.id}&reason=all`)).status, 204);
    await waitFor(() => closed.has('close-a'));
    assert.equal(closed.has('close-d'), false);
    assert.equal((await rest('HEAD', `/api/hubs/closing/connections/${d.id}`)).status, 200);
    assert.equal((await rest('DELETE', `/api/hubs/closing/connections/${d.id}`)).status, 200);
    await waitFor(() => closed.has('close-d'));
    assert.equal((await rest('HEAD', `/api/hubs/closing/connections/${a.id}`)).status, 404);
  });
});

describe('v1 paths', () => {
  it('sends, manages groups and checks existence with v1 statuses', async () => {
    const a = await connect('v1-user');
    const body = (x: string) => ({ body: { Target: 'm', Arguments: [x] } });
    assert.equal((await rest('POST', '/api/v1/hubs/chat', body('v1-all'))).status, 202);
    assert.equal((await rest('POST', '/api/v1/hubs/chat/users/v1-user', body('v1-user'))).status, 202);
    assert.equal((await rest('POST', `/api/v1/hubs/chat/connections/${a.id}`, body('v1-conn'))).status, 202);
    assert.equal((await rest('GET', `/api/v1/hubs/chat/connections/${a.id}`)).status, 200);
    assert.equal((await rest('GET', '/api/v1/hubs/chat/users/v1-user')).status, 200);
    assert.equal((await rest('PUT', '/api/v1/hubs/chat/groups/v1g/users/v1-user')).status, 202);
    assert.equal((await rest('GET', '/api/v1/hubs/chat/groups/v1g')).status, 200);
    assert.equal((await rest('GET', '/api/v1/hubs/chat/users/v1-user/groups/v1g')).status, 200);
    assert.equal((await rest('POST', '/api/v1/hubs/chat/groups/v1g', body('v1-group'))).status, 202);
    assert.equal((await rest('DELETE', '/api/v1/hubs/chat/groups/v1g/users/v1-user')).status, 202);
    assert.equal((await rest('GET', '/api/v1/hubs/chat/groups/v1g/users/v1-user')).status, 404);
    assert.equal((await rest('PUT', `/api/v1/hubs/chat/groups/v1h/connections/${a.id}`)).status, 202);
    assert.equal((await rest('DELETE', `/api/v1/hubs/chat/groups/v1h/connections/${a.id}`)).status, 202);
    assert.equal((await rest('DELETE', '/api/v1/hubs/chat/users/v1-user/groups')).status, 202);
    await waitFor(() => a.received.length === 4);
    assert.deepEqual(a.received, [['v1-all'], ['v1-user'], ['v1-conn'], ['v1-group']]);
    assert.equal((await rest('DELETE', `/api/v1/hubs/chat/connections/${a.id}?reason=done`)).status, 202);
    await waitFor(async () => (await rest('GET', `/api/v1/hubs/chat/connections/${a.id}`)).status === 404);
  });
});

describe('ttl on user groups', () => {
  it('ends the membership after ttl seconds of the service clock', async () => {
    const clock = new ManualClock(Date.now());
    const timed = createSignalRService({ keys: [key], clock });
    const { url } = await timed.listen();
    const call = restClient(() => url, clock);
    try {
      assert.equal((await call('PUT', '/api/hubs/chat/users/t/groups/g?ttl=5')).status, 200);
      assert.equal((await call('HEAD', '/api/hubs/chat/users/t/groups/g')).status, 200);
      clock.advance(4_000);
      assert.equal((await call('HEAD', '/api/hubs/chat/users/t/groups/g')).status, 200);
      clock.advance(1_000);
      assert.equal((await call('HEAD', '/api/hubs/chat/users/t/groups/g')).status, 404);
    } finally {
      await timed.close();
    }
  });
});

describe('unexpected failures', () => {
  it('answers 500 and emits error when the backplane refuses a send', async () => {
    const broken = createSignalRService({
      keys: [key],
      hubServer: {
        backplane: {
          publish: () => Promise.reject(new Error('backplane down')),
          subscribe: () => () => {},
          close: async () => {},
        },
      },
    });
    const errors: string[] = [];
    broken.on('error', (error) => errors.push(error.message));
    const { url } = await broken.listen();
    try {
      const reply = await restClient(() => url)('POST', '/api/hubs/chat/:send', {
        body: { target: 'm', arguments: [] },
      });
      assert.equal(reply.status, 500);
      assert.deepEqual(errors, ['backplane down']);
    } finally {
      await broken.close();
    }
  });
});
