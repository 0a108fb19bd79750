/**
 * `hubbub push serve`: the push part alone in its own process — on the data directory's default
 * file:// bus and pglite:// store, its keys in keys.json and the local CA in tls/ — prints what a
 * client needs; `@hubbub/push/client` (through @hubbub/system) sends through it to a browser
 * channel (a push service on 127.0.0.1 that takes every push with 201); Ctrl-C drains and stops.
 * Bad flags and a taken port are coded errors.
 */
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { createPushClient } from '@hubbub/system';
import { hubbub, ran } from '@hubbub/test-kit';

const data = mkdtempSync(join(tmpdir(), 'hubbub-push-serve-'));
const clean = { HUBBUB_DATA_DIR: '', HUBBUB_PUSH_PORT: '', HUBBUB_PUSH_HUB: '', HUBBUB_PUSH: '' };

describe('hubbub push serve', () => {
  after(() => rmSync(data, { recursive: true, force: true }));

  it('serves the push part alone; the client sends through it; Ctrl-C drains and stops', async () => {
    const pushes: IncomingMessage[] = [];
    const pushService = createServer((req, res) => {
      pushes.push(req);
      req.resume().on('end', () => res.writeHead(201).end());
    });
    await new Promise<void>((r) => pushService.listen(0, '127.0.0.1', r));
    const run = hubbub(['push', 'serve', '--port', '0', '--data', data], { ...clean, HUBBUB_PUSH_HUB: 'orders' });
    try {
      await waitFor(() => run.stdout().includes('Press Ctrl-C to stop.'), {
        timeoutMs: 60_000,
        what: `the banner (stderr: ${run.stderr()})`,
      });
      const out = run.stdout();
      const connectionString = /^Connection string: (\S+)$/m.exec(out)?.[1];
      const caPath = /^CA: (\S+)/m.exec(out)?.[1];
      assert.match(
        connectionString ?? '',
        /^Endpoint=sb:\/\/127\.0\.0\.1:\d+\/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=.{44}$/,
      );
      assert.match(out, /^Hub name: orders$/m);
      assert.equal(caPath, join(data, 'tls', 'ca.pem'));
      const keys = JSON.parse(readFileSync(join(data, 'keys.json'), 'utf8')) as Record<string, string>;
      assert.equal(/^VAPID public key: (\S+)$/m.exec(out)?.[1], keys.vapidPublicKey);
      assert.ok(connectionString!.endsWith(`SharedAccessKey=${keys.pushFullKey}`), 'the key of keys.json');
      assert.ok(
        existsSync(join(data, 'bus')) && existsSync(join(data, 'store')),
        'file:// bus and pglite:// store in the data directory',
      );

      await using push = createPushClient({
        connectionString: connectionString!,
        hubName: 'orders',
        ca: readFileSync(caPath!),
      });
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      await push.createOrUpdateInstallation({
        installationId: 'browser-1',
        platform: 'browser',
        tags: ['customer_1'],
        pushChannel: {
          endpoint: `http://127.0.0.1:${(pushService.address() as AddressInfo).port}/push/sub-1`,
          p256dh: ecdh.getPublicKey().toString('base64url'),
          auth: randomBytes(16).toString('base64url'),
        },
      });
      const { notificationId } = await push.send(
        { format: 'browser', body: '{"title":"Order 1 is ready"}' },
        { kind: 'tags', expression: 'customer_1' },
      );
      const details = await waitFor(
        async () => {
          const d = await push.getNotificationOutcome(notificationId);
          return d.state === 'Completed' ? d : undefined;
        },
        { timeoutMs: 20_000, what: 'the outcome' },
      );
      assert.equal(details.counts.browser?.success, 1);
      assert.equal(pushes.length, 1);
      assert.equal(pushes[0]?.headers['content-encoding'], 'aes128gcm');

      const listed = await ran(
        hubbub(
          ['push', 'installations', '--connection-string', connectionString!, '--hub', 'orders', '--ca', caPath!],
          clean,
        ),
      );
      assert.equal(listed.stdout, 'browser-1\tbrowser\tcustomer_1\n1 installation.\n', listed.stderr);

      run.child.kill('SIGINT');
      assert.equal(await run.exited, 0, run.stderr());
      assert.match(run.stdout(), /Received SIGINT: draining/);
      assert.match(run.stdout(), /Stopped\.\n$/);
    } finally {
      run.child.kill('SIGKILL');
      await new Promise((r) => pushService.close(r));
    }
  });

  it('a bad flag, a bad engine URL and a taken port are coded errors', async () => {
    const badPort = await ran(hubbub(['push', 'serve', '--port', 'x', '--data', data], clean));
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /--port: 'x' is not a port number\. \[CLI_USAGE\]/);
    const badBus = await ran(hubbub(['push', 'serve', '--port', '0', '--bus', 'nope://x', '--data', data], clean));
    assert.equal(badBus.code, 1);
    assert.match(badBus.stderr, /\[KERNEL_INVALID_OPTION\]/);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const inUse = await ran(
        hubbub(['push', 'serve', '--port', port, '--bus', 'memory://', '--store', 'memory://', '--data', data], clean),
      );
      assert.equal(inUse.code, 1);
      assert.match(inUse.stderr, /\[PUSH_LISTEN_FAILED\]/);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
