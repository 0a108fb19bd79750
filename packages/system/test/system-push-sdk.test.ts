/**
 * The push part end to end with the official `@azure/notification-hubs` SDK in a child process
 * (trusting the data directory's CA through NODE_EXTRA_CA_CERTS) against `startSystem` on a
 * temporary data directory: a browser installation whose channel is a subscription of the local
 * RFC 8030 endpoint, a send by tag expression that the endpoint receives (VAPID verified) and
 * decrypts; then a scheduled send pending while the system stops, delivered after it starts again
 * on the same data directory — the job was on the bus's file log, the installation and the
 * outcome in the store.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger, waitFor } from '@hubbub/kernel';
import { startPushEndpoint } from '@hubbub/push/testing';
import { type RunningSystem, startSystem } from '../src/index.ts';

const runner = new URL('./fixtures/nh-sdk-run.ts', import.meta.url).pathname;

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs SDK steps in a child process against the system's Notification Hubs front. */
function sdk(system: RunningSystem, steps: unknown[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        runner,
        system.pushConnectionString!,
        system.pushHubName!,
        JSON.stringify(steps),
      ],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: system.pushCaPath! }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the SDK process exited with ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out) as Record<string, unknown>[]);
    });
  });
}

describe('the push part with the official Notification Hubs SDK', () => {
  it('delivers a send by tag to a browser installation, and a scheduled send across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hubbub-system-push-sdk-'));
    dirs.push(dataDir);
    const endpoint = await startPushEndpoint();
    let system = await startSystem({ port: 0, dataDir, logger: silentLogger });
    try {
      const sub = endpoint.subscribe({ applicationServerKey: system.keys.push.vapid.publicKey });
      const { endpoint: url, keys } = sub.toJSON();
      const pushChannel = { endpoint: url, p256dh: keys.p256dh, auth: keys.auth };

      const [installed, sent] = await sdk(system, [
        { op: 'install', installationId: 'browser-1', pushChannel, tags: ['customer_42'] },
        { op: 'send', body: '{"title":"Order 42 is on its way"}', tagExpression: 'customer_42 && !muted' },
      ]);
      assert.equal(installed?.error, undefined, JSON.stringify(installed));
      assert.equal(sent?.error, undefined, JSON.stringify(sent));
      await waitFor(() => sub.messages.length === 1, { timeoutMs: 15_000 });
      assert.equal(sub.messages[0]?.text, '{"title":"Order 42 is on its way"}');
      assert.equal(sub.messages[0]?.vapid.publicKey, system.keys.push.vapid.publicKey);
      const stored = await system.push!.getInstallation('browser-1');
      assert.deepEqual(stored?.tags, ['customer_42']);

      // A scheduled send, pending when the system stops.
      const at = new Date(Date.now() + 4_000).toISOString();
      const [scheduled] = await sdk(system, [
        { op: 'schedule', body: '{"title":"Your courier is near"}', tagExpression: 'customer_42', at },
      ]);
      const notificationId = scheduled?.notificationId as string;
      assert.equal(typeof notificationId, 'string', JSON.stringify(scheduled));
      await system.close();
      assert.equal(sub.messages.length, 1, 'not delivered before its time');

      system = await startSystem({ port: 0, dataDir, logger: silentLogger });
      await waitFor(() => sub.messages.length === 2, { timeoutMs: 30_000 });
      assert.equal(sub.messages[1]?.text, '{"title":"Your courier is near"}');
      await waitFor(async () => (await system.push!.getNotificationOutcome(notificationId))?.state === 'Completed', {
        timeoutMs: 10_000,
      });
      const [outcome] = await sdk(system, [{ op: 'outcome', notificationId }]);
      assert.equal(outcome?.state, 'Completed', JSON.stringify(outcome));
      assert.equal(sub.messages.length, 2, 'delivered once');
    } finally {
      await system.close();
      await endpoint.close();
    }
  });
});
