/** The `audience` option of hub auth: a token for another audience is refused, the right one accepted. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { buildClient, startHub } from './helpers.ts';
import { negotiate, RawClient } from './raw.ts';

const key = 'audience-key-0123456789abcdef0123456789';

async function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(key));
}

const bearer = async (claims: Record<string, unknown>) => ({ authorization: `Bearer ${await token(claims)}` });

describe('auth audience', () => {
  it("refuses a token whose 'aud' is another hub's, or missing, with 401 HUB_UNAUTHORIZED; accepts its own", async () => {
    const { server, url } = await startHub({
      auth: { keys: [key], audience: (hub) => `https://hubbub.example/hubs/${hub}` },
    });
    server.hub('tracking');
    server.hub('admin');
    try {
      for (const [name, claims] of [
        ['another hub', { sub: 'u', aud: 'https://hubbub.example/hubs/admin' }],
        ['another host', { sub: 'u', aud: 'https://elsewhere.example/hubs/tracking' }],
        ['no aud', { sub: 'u' }],
      ] as const) {
        const { status, body } = await negotiate(url, 'tracking', 'negotiateVersion=1', await bearer(claims));
        assert.equal(status, 401, name);
        assert.equal(body.code, 'HUB_UNAUTHORIZED', name);
      }
      const right = await bearer({ sub: 'u', aud: 'https://hubbub.example/hubs/tracking' });
      assert.equal((await negotiate(url, 'tracking', 'negotiateVersion=1', right)).status, 200);
      // a token may name several audiences; one match is enough
      const several = await bearer({ sub: 'u', aud: ['https://x.example', 'https://hubbub.example/hubs/tracking'] });
      assert.equal((await negotiate(url, 'tracking', 'negotiateVersion=1', several)).status, 200);
    } finally {
      await server.close();
    }
  });

  it('checks the audience on the WebSocket upgrade too, and the official client connects with the right one', async () => {
    const { server, url } = await startHub({ auth: { keys: [key], audience: () => 'hubbub' } });
    server.hub('tracking').method('whoami', (ctx) => ctx.userId ?? null);
    try {
      const right = await token({ sub: 'alice', aud: 'hubbub' });
      const wrong = await token({ sub: 'alice', aud: 'someone-else' });
      const { body } = await negotiate(url, 'tracking', 'negotiateVersion=1', { authorization: `Bearer ${right}` });
      const ws = `${url.replace('http', 'ws')}/hubs/tracking?id=${body.connectionToken}`;
      await assert.rejects(RawClient.connect(`${ws}&access_token=${wrong}`), { status: 401 });
      const client = buildClient(`${url}/hubs/tracking`, { accessToken: right });
      await client.start();
      assert.equal(await client.invoke('whoami'), 'alice');
      await client.stop();
      await assert.rejects(buildClient(`${url}/hubs/tracking`, { accessToken: wrong }).start(), /401/);
    } finally {
      await server.close();
    }
  });

  it('calls the function form with the hub name and the request, and accepts a list of audiences', async () => {
    const calls: Array<{ hub: string; host: string | undefined }> = [];
    const audience = (hub: string, request: IncomingMessage) => {
      calls.push({ hub, host: request.headers.host });
      return hub === 'tracking' ? [`https://${request.headers['x-tenant']}.example/${hub}`, 'fallback'] : undefined;
    };
    const { server, url } = await startHub({ auth: { keys: [key], audience } });
    server.hub('tracking');
    server.hub('open');
    try {
      const tenant = { 'x-tenant': 'acme' };
      const acme = { ...tenant, ...(await bearer({ sub: 'u', aud: 'https://acme.example/tracking' })) };
      assert.equal((await negotiate(url, 'tracking', 'negotiateVersion=1', acme)).status, 200);
      const fallback = { ...tenant, ...(await bearer({ sub: 'u', aud: 'fallback' })) };
      assert.equal((await negotiate(url, 'tracking', 'negotiateVersion=1', fallback)).status, 200);
      const other = { 'x-tenant': 'globex', ...(await bearer({ sub: 'u', aud: 'https://acme.example/tracking' })) };
      const refused = await negotiate(url, 'tracking', 'negotiateVersion=1', other);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, 'HUB_UNAUTHORIZED');
      // undefined: no audience check for this hub
      const any = await bearer({ sub: 'u', aud: 'anything' });
      assert.equal((await negotiate(url, 'open', 'negotiateVersion=1', any)).status, 200);
      assert.deepEqual(
        calls.map((c) => c.hub),
        ['tracking', 'tracking', 'tracking', 'open'],
      );
      assert.ok(calls.every((c) => c.host === new URL(url).host));
    } finally {
      await server.close();
    }
  });
});
