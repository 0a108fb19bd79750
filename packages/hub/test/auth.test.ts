/** Bearer tokens: keys, expiry, rotation, header or query, user ids, 401s; and CORS. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { HubServer } from '../src/index.ts';
import { buildClient, startHub } from './helpers.ts';
import { negotiate, RawClient } from './raw.ts';

const oldKey = 'old-key-0123456789abcdef0123456789';
const newKey = 'new-key-0123456789abcdef0123456789';

async function token(key: string, claims: Record<string, unknown>, expiresIn: string | number = '1h'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(key));
}

let server: HubServer;
let base: string;

before(async () => {
  ({ server, url: base } = await startHub({ auth: { keys: [newKey, oldKey] } }));
  server.hub('chat').method('whoami', (ctx) => ctx.userId ?? null);
});
after(() => server.close());

describe('auth', () => {
  it('connects with a token from either key, over every transport, and knows the user', async () => {
    for (const [key, claim] of [
      [newKey, 'asrs.s.uid'],
      [oldKey, 'nameid'],
      [newKey, 'sub'],
    ] as const) {
      for (const transport of ['WebSockets', 'ServerSentEvents', 'LongPolling'] as const) {
        const client = buildClient(`${base}/hubs/chat`, {
          transport,
          accessToken: await token(key, { [claim]: 'alice' }),
        });
        await client.start();
        assert.equal(await client.invoke('whoami'), 'alice', `${claim} over ${transport}`);
        await client.stop();
      }
    }
  });

  it('rejects a missing, expired, wrongly signed or malformed token with 401', async () => {
    const expired = await token(newKey, { sub: 'a' }, Math.floor(Date.now() / 1000) - 60);
    const wrongKey = await token('some-other-key-0123456789abcdef', { sub: 'a' });
    for (const [name, headers] of [
      ['missing', {}],
      ['expired', { authorization: `Bearer ${expired}` }],
      ['wrong key', { authorization: `Bearer ${wrongKey}` }],
      ['malformed', { authorization: 'Bearer not.a.jwt' }],
    ] as const) {
      const { status, body } = await negotiate(base, 'chat', 'negotiateVersion=1', headers);
      assert.equal(status, 401, name);
      assert.equal(body.code, 'HUB_UNAUTHORIZED', name);
    }
    const client = buildClient(`${base}/hubs/chat`, { accessToken: expired });
    await assert.rejects(client.start(), /401/);
  });

  it('reads the token from the access_token query on the WebSocket upgrade, and refuses a bad one', async () => {
    const good = await token(newKey, { sub: 'bob' });
    const { body } = await negotiate(base, 'chat', 'negotiateVersion=1', { authorization: `Bearer ${good}` });
    const wsBase = base.replace('http', 'ws');
    await assert.rejects(RawClient.connect(`${wsBase}/hubs/chat?id=${body.connectionToken}&access_token=bad`), {
      status: 401,
    });
    const client = await RawClient.connect(`${wsBase}/hubs/chat?id=${body.connectionToken}&access_token=${good}`);
    client.send('{"protocol":"json","version":1}\x1e');
    assert.equal((await client.next()).data.toString(), '{}\x1e');
    client.ws.close();
  });

  it('refuses a transport request whose token names another user (403)', async () => {
    const alice = await token(newKey, { sub: 'alice' });
    const mallory = await token(newKey, { sub: 'mallory' });
    const { body } = await negotiate(base, 'chat', 'negotiateVersion=1', { authorization: `Bearer ${alice}` });
    const res = await fetch(`${base}/hubs/chat?id=${body.connectionToken}`, {
      headers: { authorization: `Bearer ${mallory}` },
    });
    assert.equal(res.status, 403);
  });

  it('accepts a custom verification callback', async () => {
    const { server: custom, url } = await startHub({
      auth: {
        verify: (t) => {
          if (t !== 'letmein') throw new Error('no');
          return { userId: 'custom', claims: {} };
        },
      },
    });
    custom.hub('chat').method('whoami', (ctx) => ctx.userId);
    try {
      const ok = buildClient(`${url}/hubs/chat`, { accessToken: 'letmein' });
      await ok.start();
      assert.equal(await ok.invoke('whoami'), 'custom');
      await ok.stop();
      assert.equal((await negotiate(url, 'chat', '', { authorization: 'Bearer nope' })).status, 401);
    } finally {
      await custom.close();
    }
  });
});

describe('CORS', () => {
  it('reflects the origin with credentials and answers preflights', async () => {
    const preflight = await fetch(`${base}/hubs/chat/negotiate`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://page.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-requested-with, x-signalr-user-agent, authorization',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://page.example');
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-signalr-user-agent/);
    const res = await fetch(`${base}/hubs/chat/negotiate`, {
      method: 'POST',
      headers: { origin: 'http://page.example' },
    });
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://page.example');
  });

  it('refuses a preflight from an origin outside the list', async () => {
    const { server: strict, url } = await startHub({ cors: { origins: ['http://good.example'] } });
    strict.hub('chat');
    try {
      const bad = await fetch(`${url}/hubs/chat/negotiate`, {
        method: 'OPTIONS',
        headers: { origin: 'http://evil.example' },
      });
      assert.equal(bad.status, 403);
      const good = await fetch(`${url}/hubs/chat/negotiate`, {
        method: 'OPTIONS',
        headers: { origin: 'http://good.example' },
      });
      assert.equal(good.headers.get('access-control-allow-origin'), 'http://good.example');
    } finally {
      await strict.close();
    }
  });
});
