import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from 'node:tls';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { createPushService } from '../service.ts';
import { createNotificationHubsFront, type NotificationHubsFrontOptions } from './front.ts';
import { defaultAccessPolicies, generateAccessKey } from './sas.ts';

const day = 86_400_000;
const policies = defaultAccessPolicies({ full: generateAccessKey(), listen: generateAccessKey() });

function peerSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** GET over HTTPS with no Authorization: the status, Retry-After and error code answered. */
function httpsGet(port: number, ca: string) {
  return (path = '/hubbub/installations/x?api-version=2020-06') =>
    new Promise<{ status: number; retryAfter: string | undefined; code: string | undefined }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, ca, agent: false }, (res) => {
        res.resume();
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'],
          code: res.headers['x-hubbub-error-code'] as string | undefined,
        });
      })
        .on('error', reject)
        .end();
    });
}

describe('Notification Hubs front', () => {
  const service = createPushService({ providers: [] });

  it('validates its options at construction', () => {
    const base: NotificationHubsFrontOptions = { service, policies, tls: { dir: '/tmp/unused' } };
    const bad: [Partial<NotificationHubsFrontOptions>, string][] = [
      [{ policies: [] }, 'policies'],
      [{ policies: [{ name: 'short', key: 'abc', rights: ['Manage'] }] }, 'policies'],
      [{ policies: [{ name: 'bad name', key: generateAccessKey(), rights: ['Manage'] }] }, 'policies'],
      [{ policies: [{ name: 'r', key: generateAccessKey(), rights: ['Everything' as 'Manage'] }] }, 'policies'],
      [{ policies: [policies[0]!, policies[0]!] }, 'policies'],
      [{ hubName: 'a/b' }, 'hubName'],
      [{ hubName: '' }, 'hubName'],
      [{ tls: {} as { dir: string } }, 'tls'],
      [{ port: 70_000 }, 'port'],
      [{ maxBodyBytes: 0 }, 'maxBodyBytes'],
      [{ rateLimit: { ratePerSecond: -1 } }, 'ratePerSecond'],
      [{ failureLimit: { ratePerSecond: 0 } }, 'ratePerSecond'],
    ];
    for (const [over, option] of bad) {
      assert.throws(() => createNotificationHubsFront({ ...base, ...over }), {
        code: 'KERNEL_INVALID_OPTION',
        detail: { option },
      });
    }
    const front = createNotificationHubsFront(base);
    assert.throws(() => front.connectionString(), { code: 'KERNEL_INVALID_OPTION' });
  });

  it('fails to start with a coded error for a taken port or an unusable certificate, and closes cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-nh-front-'));
    const first = createNotificationHubsFront({ service, policies, tls: { dir } });
    try {
      await first.start();
      const second = createNotificationHubsFront({ service, policies, tls: { dir }, port: first.port });
      await assert.rejects(second.start(), {
        code: 'PUSH_LISTEN_FAILED',
        detail: { host: '127.0.0.1', port: first.port },
      });
      await second.close();
      const bad = createNotificationHubsFront({
        service,
        policies,
        tls: { certPem: 'not a certificate', keyPem: 'nor a key' },
      });
      await assert.rejects(bad.start(), { code: 'PUSH_TLS_UNAVAILABLE' });
      await bad.close();
      // closed while starting: it never serves
      const early = createNotificationHubsFront({ service, policies, tls: { dir } });
      const starting = early.start();
      await early.close();
      await starting;
      assert.equal(early.handleRequest!({ url: '/hubbub/messages/' } as never, {} as never), false);
    } finally {
      await first.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('limits requests per client address when asked, answering 429 with Retry-After', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-nh-front-'));
    const clock = new ManualClock(Date.now());
    const front = createNotificationHubsFront({
      service,
      policies,
      clock, // no token is earned back while the test runs
      tls: { dir },
      rateLimit: { ratePerSecond: 1, burst: 2 },
    });
    try {
      await front.start();
      const get = httpsGet(front.port, await readFile(front.caPath!, 'utf8'));
      assert.equal((await get()).code, 'PUSH_UNAUTHORIZED');
      assert.equal((await get()).code, 'PUSH_UNAUTHORIZED');
      assert.deepEqual(await get(), { status: 429, retryAfter: '1', code: 'KERNEL_RATE_LIMITED' });
      clock.advance(1_000);
      assert.equal((await get()).code, 'PUSH_UNAUTHORIZED', 'a token earned back');
    } finally {
      await front.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers 429 to an address past its budget of refused requests, whatever it sends next', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-nh-front-'));
    const clock = new ManualClock(Date.now());
    const front = createNotificationHubsFront({
      service,
      policies,
      clock,
      tls: { dir },
      failureLimit: { ratePerSecond: 1, burst: 2 },
    });
    try {
      await front.start();
      const get = httpsGet(front.port, await readFile(front.caPath!, 'utf8'));
      assert.equal((await get()).code, 'PUSH_UNAUTHORIZED');
      assert.equal((await get()).code, 'PUSH_UNAUTHORIZED');
      assert.deepEqual(await get(), { status: 429, retryAfter: '1', code: 'KERNEL_RATE_LIMITED' });
      // every request from the address is refused now, whatever it asks
      assert.equal((await get('/hubbub/nothing?api-version=2020-06')).status, 429);
      clock.advance(1_000);
      assert.equal((await get()).code, 'PUSH_UNAUTHORIZED');
    } finally {
      await front.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('closes with keep-alive and half-open connections still there, leaving no socket behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-nh-front-'));
    const front = createNotificationHubsFront({
      service,
      policies,
      tls: { dir },
      limits: { keepAliveTimeoutMs: 600_000, idleTimeoutMs: 600_000 },
      handshakeTimeoutMs: 600_000,
    });
    try {
      const before = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
      await front.start();
      const ca = await readFile(front.caPath!, 'utf8');
      const agent = new Agent({ keepAlive: true, ca });
      const status = await new Promise<number>((resolve, reject) => {
        request(
          { host: '127.0.0.1', port: front.port, path: '/hubbub/installations/x?api-version=2020-06', agent },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        )
          .on('error', reject)
          .end();
      });
      assert.equal(status, 401);
      const kept = Object.values(agent.freeSockets).flat();
      assert.equal(kept.length, 1, 'the client keeps its connection open');
      const keptClosed = new Promise<void>((resolve) => kept[0]!.once('close', () => resolve()));
      // and a connection that never starts its handshake
      const silent = connectTcp(front.port, '127.0.0.1');
      silent.on('error', () => {});
      const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
      await new Promise<void>((resolve) => silent.once('connect', () => resolve()));
      await front.close();
      await Promise.all([keptClosed, silentClosed]);
      agent.destroy();
      await waitFor(() => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length <= before, {
        what: 'no TCP handle left',
      });
    } finally {
      await front.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves only its hub when mounted, and renews its certificate while running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-nh-front-'));
    const clock = new ManualClock(Date.now());
    const front = createNotificationHubsFront({
      service,
      policies,
      hubName: 'Orders',
      clock,
      tls: { dir, serverValidityDays: 3, renewBeforeDays: 1 },
    });
    try {
      assert.equal(front.handleRequest!({ url: '/Orders/messages/' } as never, {} as never), false, 'not before start');
      await front.start();
      await assert.rejects(front.start(), { code: 'KERNEL_INVALID_OPTION' });
      assert.equal(front.handleRequest!({ url: '/other/messages/' } as never, {} as never), false);
      assert.match(
        front.connectionString('DefaultListenSharedAccessSignature'),
        /SharedAccessKeyName=DefaultListenSharedAccessSignature;/,
      );
      assert.equal(front.origin, `https://127.0.0.1:${front.port}`);

      const before = await peerSerial(front.port);
      const renewed: number[] = [];
      front.on('tls:renewed', (info) => renewed.push(info.serverNotAfter));
      clock.advance(day); // the first daily check: not yet due (the renewal falls due a day before expiry)
      clock.advance(day + 60_000);
      await waitFor(() => renewed.length === 1, { what: 'the renewal' });
      assert.ok(renewed[0]! > clock.now() + 2 * day, 'the new certificate runs its full lifetime from now');
      assert.notEqual(await peerSerial(front.port), before, 'new connections get the new certificate');
    } finally {
      await front.close();
      await front.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
