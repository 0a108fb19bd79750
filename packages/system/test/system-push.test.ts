/**
 * The push part of the all-in-one system: on by default with its Notification Hubs front on a port
 * of its own, its keys kept in keys.json across restarts (given ones winning), the VAPID public key
 * served on the system's port, the local CA in the data directory, and `push: false`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { generateVapidKeys } from '@hubbub/push/providers';
import { startApnsServer, startFcmServer } from '@hubbub/push/testing';
import { startSystem } from '../src/index.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-system-push-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the push part of the system', () => {
  it('is on by default: a front on its own port, the connection string, the VAPID key at /push/vapid-public-key', async () => {
    await using system = await startSystem({ port: 0, logger: silentLogger });
    assert.ok(system.push);
    assert.equal(system.pushHubName, 'hubbub');
    const match =
      /^Endpoint=sb:\/\/127\.0\.0\.1:(\d+)\/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=(.+)$/.exec(
        system.pushConnectionString ?? '',
      );
    assert.ok(match, system.pushConnectionString);
    assert.notEqual(Number(match[1]), system.port);
    assert.equal(match[2], system.keys.push.full);
    assert.ok(system.pushCaPath !== undefined && existsSync(system.pushCaPath));

    const answer = await fetch(`${system.url}/push/vapid-public-key`);
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { publicKey: system.keys.push.vapid.publicKey });
    const post = await fetch(`${system.url}/push/vapid-public-key`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('keeps its keys in keys.json and its CA in <dataDir>/tls across a restart', async () => {
    const dataDir = tempDir();
    let first: { vapid: string; full: string; listen: string; ca: string };
    {
      await using system = await startSystem({ port: 0, dataDir, logger: silentLogger });
      assert.equal(system.pushCaPath, join(dataDir, 'tls', 'ca.pem'));
      first = {
        vapid: system.keys.push.vapid.publicKey,
        full: system.keys.push.full,
        listen: system.keys.push.listen,
        ca: readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8'),
      };
      const running = JSON.parse(readFileSync(join(dataDir, 'running.json'), 'utf8'));
      assert.deepEqual(running.push, {
        connectionString: system.pushConnectionString,
        hubName: 'hubbub',
        caPath: system.pushCaPath,
      });
      const file = JSON.parse(readFileSync(join(dataDir, 'keys.json'), 'utf8'));
      assert.equal(file.vapidPublicKey, first.vapid);
      assert.equal(file.pushFullKey, first.full);
      assert.equal(file.pushListenKey, first.listen);
    }
    await using again = await startSystem({ port: 0, dataDir, logger: silentLogger });
    assert.equal(again.keys.push.vapid.publicKey, first.vapid);
    assert.equal(again.keys.push.full, first.full);
    assert.equal(again.keys.push.listen, first.listen);
    assert.equal(readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8'), first.ca);
  });

  it('takes keys given explicitly over the file, and refuses malformed ones with a coded error', async () => {
    const dataDir = tempDir();
    const vapid = generateVapidKeys();
    const full = 'f'.repeat(44);
    {
      await using system = await startSystem({
        port: 0,
        dataDir,
        logger: silentLogger,
        keys: { push: { vapid, full } },
      });
      assert.equal(system.keys.push.vapid.publicKey, vapid.publicKey);
      assert.match(system.pushConnectionString ?? '', new RegExp(`SharedAccessKey=${full}$`));
      const file = JSON.parse(readFileSync(join(dataDir, 'keys.json'), 'utf8'));
      assert.equal(file.vapidPublicKey, undefined, 'a given key is not written');
      assert.equal(file.pushFullKey, undefined);
      assert.equal(typeof file.pushListenKey, 'string');
    }
    for (const push of [{ full: 'short' }, { vapid: { publicKey: 'nope', privateKey: vapid.privateKey } }]) {
      await assert.rejects(startSystem({ port: 0, logger: silentLogger, keys: { push } }), {
        code: 'KERNEL_INVALID_OPTION',
      });
    }
  });

  it('a taken push port fails the start with SYSTEM_PORT_IN_USE (naming --push-port) and leaves nothing open', async () => {
    await using first = await startSystem({ port: 0, logger: silentLogger });
    const taken = Number(/:(\d+)\//.exec(first.pushConnectionString ?? '')?.[1]);
    await assert.rejects(startSystem({ port: 0, pushPort: taken, logger: silentLogger }), {
      code: 'SYSTEM_PORT_IN_USE',
    });
  });

  it('delivers through FCM and APNs when they are configured, and without them refuses those platforms', async () => {
    const fcm = await startFcmServer();
    const apns = await startApnsServer({ topics: ['com.hubbub.delivery'] });
    try {
      const fcmToken = 'fcm-token-1:abc';
      const apnsToken = 'a'.repeat(64);
      {
        await using system = await startSystem({
          port: 0,
          logger: silentLogger,
          push: {
            fcm: {
              serviceAccount: JSON.stringify(fcm.createServiceAccount('hubbub-test')),
              endpoint: fcm.origin,
              tokenUri: fcm.tokenUri,
            },
            apns: { ...apns.createSigningKey(), topic: 'com.hubbub.delivery', endpoint: apns.origin },
          },
        });
        const push = system.push!;
        await push.upsertInstallation({
          installationId: 'android-1',
          platform: 'fcmv1',
          pushChannel: fcmToken,
          tags: ['t'],
        });
        await push.upsertInstallation({
          installationId: 'ios-1',
          platform: 'apns',
          pushChannel: apnsToken,
          tags: ['t'],
        });
        await push.send(
          { format: 'fcmv1', body: '{"message":{"notification":{"title":"Order 42"}}}' },
          { kind: 'tags', expression: 't' },
        );
        await push.send({ format: 'apns', body: '{"aps":{"alert":"Order 42"}}' }, { kind: 'tags', expression: 't' });
        await waitFor(() => fcm.messages.length === 1 && apns.notifications.length === 1, { timeoutMs: 10_000 });
        assert.equal(fcm.messages[0]?.token, fcmToken);
        assert.equal(apns.notifications[0]?.deviceToken, apnsToken);
        assert.equal(apns.notifications[0]?.headers['apns-topic'], 'com.hubbub.delivery');
      }
      await using plain = await startSystem({ port: 0, logger: silentLogger });
      await assert.rejects(
        plain.push!.upsertInstallation({ installationId: 'android-1', platform: 'fcmv1', pushChannel: fcmToken }),
        { code: 'PUSH_PLATFORM_NOT_CONFIGURED' },
      );
    } finally {
      await Promise.all([fcm.close(), apns.close()]);
    }
  });

  it('is off with push: false', async () => {
    await using system = await startSystem({ port: 0, push: false, logger: silentLogger });
    assert.equal(system.push, undefined);
    assert.equal(system.pushConnectionString, undefined);
    assert.equal((await fetch(`${system.url}/push/vapid-public-key`)).status, 404);
  });
});
