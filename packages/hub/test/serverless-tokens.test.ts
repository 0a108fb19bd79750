/**
 * Client tokens: what createClientAccess produces, and what `/client/negotiate` accepts (expiry,
 * wrong keys, audience, user id claims, key rotation, token in the query).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isHubbubError, ManualClock, waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { decodeJwt, SignJWT } from 'jose';
import {
  createClientAccess,
  createHubServer,
  createServerToken,
  createSignalRService,
  createTokenVerifier,
  type HubServer,
  type SignalRService,
} from '../src/index.ts';

const primary = 'primary-key-0123456789abcdefghijklmnopqrstuv';
const secondary = 'secondary-key-0123456789abcdefghijklmnopqrs';

describe('createClientAccess', () => {
  it('builds the client URL (hub lower-cased) and an HS256 token with aud, exp and asrs.s.uid', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const access = await createClientAccess({
      connectionString: 'Endpoint=http://localhost;Port=8888;AccessKey=k;Version=1.0;',
      hub: 'Chat',
      userId: 'alice',
      claims: { role: 'courier', aud: 'mine', exp: 5 },
      lifetimeMs: 600_000,
      clock,
    });
    assert.equal(access.url, 'http://localhost:8888/client/?hub=chat');
    const claims = decodeJwt(access.accessToken);
    assert.equal(claims.aud, access.url);
    assert.equal(claims['asrs.s.uid'], 'alice');
    assert.equal(claims.role, 'courier');
    assert.equal(claims['asrs.u.aud'], 'mine');
    assert.equal(claims['asrs.u.exp'], 5);
    assert.equal(claims.exp, 1_800_000_000 + 600);
  });

  it('uses ClientEndpoint when the connection string has one', async () => {
    const access = await createClientAccess({
      connectionString: 'Endpoint=http://internal:1;AccessKey=k;ClientEndpoint=https://public.example;',
      hub: 'chat',
    });
    assert.equal(access.url, 'https://public.example/client/?hub=chat');
  });

  it('refuses to work without an endpoint and key, or with a bad lifetime', async () => {
    await assert.rejects(createClientAccess({ hub: 'chat' }), (e: unknown) =>
      isHubbubError(e, 'HUB_INVALID_CONNECTION_STRING'),
    );
    await assert.rejects(
      createClientAccess({ endpoint: 'http://h', accessKey: 'k', hub: 'chat', lifetimeMs: 0 }),
      (e: unknown) => isHubbubError(e, 'HUB_BAD_REQUEST'),
    );
  });
});

describe('createTokenVerifier', () => {
  it('remembers verified tokens but still expires them by the clock', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const verify = createTokenVerifier({ keys: ['other-key', primary], clock, toleranceSeconds: 0 });
    const token = await createServerToken({ audience: 'http://h/x', accessKey: primary, lifetimeMs: 60_000, clock });
    assert.equal((await verify(token)).aud, 'http://h/x');
    clock.advance(30_000);
    assert.equal((await verify(token)).aud, 'http://h/x');
    clock.advance(31_000);
    await assert.rejects(verify(token), (e: unknown) => isHubbubError(e, 'HUB_UNAUTHORIZED'));
    await assert.rejects(verify(token), (e: unknown) => isHubbubError(e, 'HUB_UNAUTHORIZED'));
  });

  it('rechecks nbf on a remembered token, and never remembers a rejected one', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const verify = createTokenVerifier({ keys: [primary], clock, toleranceSeconds: 0 });
    const token = await createServerToken({ audience: 'a', accessKey: primary, clock });
    await verify(token);
    // The clock steps back before the token's nbf: the remembered token is refused.
    clock.advance(-10_000);
    await assert.rejects(verify(token), (e: unknown) => isHubbubError(e, 'HUB_UNAUTHORIZED'));
    clock.advance(10_000);
    assert.ok(await verify(token));
    const forged = await createServerToken({ audience: 'a', accessKey: secondary, clock });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(verify(forged), (e: unknown) => isHubbubError(e, 'HUB_UNAUTHORIZED'));
    }
  });
});

describe('client tokens at /client/negotiate', () => {
  let service: SignalRService;
  let base: string;
  let host: string;

  before(async () => {
    service = createSignalRService({
      connectionString: [
        `Endpoint=http://127.0.0.1;AccessKey=${primary};Version=1.0;`,
        `Endpoint=http://127.0.0.1;AccessKey=${secondary};Version=1.0;`,
      ],
    });
    ({ url: base } = await service.listen());
    host = new URL(base).host;
  });
  after(() => service.close());

  async function negotiate(token: string | undefined, query = 'hub=chat', inQuery = false): Promise<number> {
    const suffix = token !== undefined && inQuery ? `&access_token=${encodeURIComponent(token)}` : '';
    const response = await fetch(`${base}/client/negotiate?${query}&negotiateVersion=1${suffix}`, {
      method: 'POST',
      headers: token !== undefined && !inQuery ? { Authorization: `Bearer ${token}` } : {},
    });
    await response.arrayBuffer();
    return response.status;
  }

  const token = (claims: Record<string, unknown>, aud: string, key = primary, exp: string | number = '1h') =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(aud)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(key));

  it('accepts a token signed with either access key (rotation)', async () => {
    const aud = `http://${host}/client/?hub=chat`;
    assert.equal(await negotiate(await token({}, aud)), 200);
    assert.equal(await negotiate(await token({}, aud, secondary)), 200);
  });

  it('rejects a missing token, a wrong key, an expired token and a token without exp with 401', async () => {
    const aud = `http://${host}/client/?hub=chat`;
    assert.equal(await negotiate(undefined), 401);
    assert.equal(await negotiate(await token({}, aud, 'some-other-key-0123456789abcdefghijklmn')), 401);
    assert.equal(await negotiate(await token({}, aud, primary, Math.floor(Date.now() / 1000) - 60)), 401);
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(aud)
      .sign(new TextEncoder().encode(primary));
    assert.equal(await negotiate(noExp), 401);
    assert.equal(await negotiate('not.a.jwt'), 401);
  });

  it('expires tokens by the service clock', async () => {
    const access = await createClientAccess({
      endpoint: `http://${host}`,
      accessKey: primary,
      hub: 'chat',
      lifetimeMs: 60_000,
      clock: new ManualClock(Date.now() - 3_600_000),
    });
    assert.equal(await negotiate(access.accessToken), 401);
  });

  it('checks aud leniently: another hub or host is refused, slash and case differences are not', async () => {
    assert.equal(await negotiate(await token({}, `http://${host}/client/?hub=other`)), 401);
    assert.equal(await negotiate(await token({}, 'http://elsewhere.example/client/?hub=chat')), 401);
    assert.equal(await negotiate(await token({}, `http://${host}/api/?hub=chat`)), 401);
    assert.equal(await negotiate(await token({}, `https://${host}/client?hub=Chat&asrs.op=%2Fchat`)), 200);
    assert.equal(await negotiate(await token({}, `http://${host}/client/?hub=chat`), 'hub=CHAT'), 200);
  });

  it('answers a CORS preflight with the origin reflected and credentials allowed', async () => {
    const response = await fetch(`${base}/client/negotiate?hub=chat&negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, x-requested-with, x-signalr-user-agent',
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
  });

  it('accepts the token from the access_token query parameter', async () => {
    assert.equal(await negotiate(await token({}, `http://${host}/client/?hub=chat`), 'hub=chat', true), 200);
  });

  it('answers 400 without a hub or with an invalid hub name', async () => {
    const aud = `http://${host}/client/?hub=chat`;
    assert.equal(await negotiate(await token({}, aud), 'x=1'), 400);
    assert.equal(await negotiate(await token({}, aud), 'hub=1bad'), 400);
    assert.equal(await negotiate(await token({}, aud), 'hub=my-hub'), 400);
  });

  for (const claim of ['asrs.s.uid', 'nameid', 'sub']) {
    it(`takes the user id from '${claim}'`, async () => {
      const jwt = await token({ [claim]: `user-${claim}` }, `http://${host}/client/?hub=chat`);
      const client = new signalR.HubConnectionBuilder()
        .withUrl(`${base}/client/?hub=chat`, { accessTokenFactory: () => jwt })
        .configureLogging(signalR.LogLevel.None)
        .build();
      await client.start();
      try {
        const connection = await waitFor(() => service.hub('chat').connection(client.connectionId!));
        assert.equal(connection.userId, `user-${claim}`);
      } finally {
        await client.stop();
      }
    });
  }
});

/** The token with one signature character changed in the middle: always another signature (the last character carries padding bits). */
function forgedSignature(token: string): string {
  const [header, payload, signature = ''] = token.split('.');
  const i = Math.floor(signature.length / 2);
  return `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
}

describe('a hub server of your own', () => {
  it('serves /client with the service verifying tokens, and is left open by service.close()', async () => {
    let service: SignalRService | undefined;
    const hubServer: HubServer = createHubServer({
      auth: { required: true, verify: (token, request) => service!.verifyClientToken(token, request) },
    });
    service = createSignalRService({ keys: [primary], hubServer });
    const { url } = await service.listen();
    try {
      const access = await service.clientAccess('chat', { userId: 'own' });
      const client = new signalR.HubConnectionBuilder()
        .withUrl(access.url, { accessTokenFactory: () => access.accessToken })
        .configureLogging(signalR.LogLevel.None)
        .build();
      await client.start();
      assert.equal(hubServer.hub('chat').connection(client.connectionId!)?.userId, 'own');
      await client.stop();
      const wrong = await fetch(`${url}/client/negotiate?hub=chat`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${forgedSignature(access.accessToken)}` },
      });
      assert.equal(wrong.status, 401);
      await service.close();
      assert.doesNotThrow(() => hubServer.hub('chat'));
    } finally {
      await service.close();
      await hubServer.close();
    }
  });
});

describe('behind a proxy that serves the service under a path', () => {
  it('accepts client and server tokens whose aud carries the public path prefix', async () => {
    const service = createSignalRService({
      connectionString: `Endpoint=https://proxy.example/signalr;AccessKey=${primary};Version=1.0;`,
    });
    const { url } = await service.listen();
    try {
      const access = await service.clientAccess('chat');
      assert.equal(access.url, 'https://proxy.example/signalr/client/?hub=chat');
      // The proxy strips /signalr and forwards to the service.
      const negotiate = await fetch(`${url}/client/negotiate?hub=chat`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${access.accessToken}` },
      });
      assert.equal(negotiate.status, 200);
      const token = await createServerToken({
        audience: 'https://proxy.example/signalr/api/hubs/chat/:send?api-version=2022-06-01',
        accessKey: primary,
      });
      const send = await fetch(`${url}/api/hubs/chat/:send?api-version=2022-06-01`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ target: 'm', arguments: [] }),
      });
      assert.equal(send.status, 202);
      const elsewhere = await createServerToken({
        audience: 'https://proxy.example/other/api/hubs/chat/:send',
        accessKey: primary,
      });
      const refused = await fetch(`${url}/api/hubs/chat/:send?api-version=2022-06-01`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${elsewhere}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ target: 'm', arguments: [] }),
      });
      assert.equal(refused.status, 401);
    } finally {
      await service.close();
    }
  });
});
