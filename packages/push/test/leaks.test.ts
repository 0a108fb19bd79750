import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import {
  createApnsProvider,
  createFcmProvider,
  createWebPushProvider,
  generateVapidKeys,
} from '../src/providers/index.ts';
import { startApnsServer, startFcmServer, startPushEndpoint } from '../src/testing/index.ts';

/** Sockets, HTTP/2 sessions and (ref'd) timers alive now, by kind. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Waits until no kind of resource outnumbers the baseline. */
async function backTo(baseline: Map<string, number>): Promise<void> {
  await waitFor(
    () => {
      for (const [kind, n] of resources()) if (kind !== 'TTYWrap' && n > (baseline.get(kind) ?? 0)) return false;
      return true;
    },
    {
      timeoutMs: 1_000,
      what: `resources back to ${JSON.stringify([...baseline])}, now ${JSON.stringify([...resources()])}`,
    },
  );
}

describe('no sockets or timers outlive a hung request and a closed provider', () => {
  it('Web Push', async () => {
    const endpoint = await startPushEndpoint();
    const sub = endpoint.subscribe();
    const baseline = resources();
    const provider = createWebPushProvider({
      vapid: { ...generateVapidKeys(), subject: 'mailto:a@b.test' },
      timeoutMs: 100,
    });
    sub.hang();
    const channel = { endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth };
    assert.deepEqual(await provider.deliver({ platform: 'browser', channel, body: '{}' }), {
      kind: 'retry',
      reason: 'timeout',
    });
    sub.accept();
    assert.equal((await provider.deliver({ platform: 'browser', channel, body: '{}' })).kind, 'delivered');
    assert.ok((await endpoint.openConnections()) > 0);
    await provider.close();
    await backTo(baseline);
    await waitFor(async () => (await endpoint.openConnections()) === 0, {
      what: 'the provider’s connections to close',
      timeoutMs: 1_000,
    });
    await endpoint.close();
  });

  it('FCM', async () => {
    const fcm = await startFcmServer();
    const account = fcm.createServiceAccount();
    const baseline = resources();
    const provider = createFcmProvider({ serviceAccount: account, endpoint: fcm.origin, timeoutMs: 100 });
    fcm.hang('hung-token');
    const body = JSON.stringify({ message: { data: { a: 'b' } } });
    assert.deepEqual(await provider.deliver({ platform: 'fcmv1', channel: 'hung-token', body }), {
      kind: 'retry',
      reason: 'timeout',
    });
    assert.equal((await provider.deliver({ platform: 'fcmv1', channel: 'good-token', body })).kind, 'delivered');
    assert.ok((await fcm.openConnections()) > 0);
    await provider.close();
    await backTo(baseline);
    await waitFor(async () => (await fcm.openConnections()) === 0, {
      what: 'the provider’s connections to close',
      timeoutMs: 1_000,
    });
    await fcm.close();
  });

  it('APNs', async () => {
    const apns = await startApnsServer();
    const key = apns.createSigningKey();
    const baseline = resources();
    const provider = createApnsProvider({
      ...key,
      topic: 'com.hubbub.delivery',
      endpoint: apns.origin,
      timeoutMs: 100,
    });
    const hung = randomBytes(32).toString('hex');
    apns.hang(hung);
    const body = JSON.stringify({ aps: { alert: 'hi' } });
    assert.deepEqual(await provider.deliver({ platform: 'apns', channel: hung, body }), {
      kind: 'retry',
      reason: 'timeout',
    });
    assert.equal(
      (await provider.deliver({ platform: 'apns', channel: randomBytes(32).toString('hex'), body })).kind,
      'delivered',
    );
    assert.equal(apns.openSessions, 1);
    await provider.close();
    await backTo(baseline);
    await waitFor(() => apns.openSessions === 0, { what: 'the provider’s session to close', timeoutMs: 1_000 });
    await apns.close();
  });
});
