/**
 * `hubbub push` as a user runs it against a running system's Notification Hubs front: sends by tag,
 * installation and template that reach a browser channel (a push service on 127.0.0.1 that takes
 * every push with 201 and counts it; the system's own tests decrypt them), "nothing" said when
 * nothing matches, the installation list, outcomes, and coded errors for bad input and a front
 * that is not there.
 */
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { type RunningSystem, startSystem } from '@hubbub/system';
import { ran, hubbub as run } from '@hubbub/test-kit';

const root = new URL('../../../', import.meta.url).pathname;
const data = mkdtempSync(join(tmpdir(), 'hubbub-push-cli-'));
const hubbub = (args: string[], env: Record<string, string> = {}) =>
  ran(run(['push', ...args], { HUBBUB_PUSH_CONNECTION_STRING: '', HUBBUB_DATA_DIR: '', ...env }, root));

describe('hubbub push', () => {
  let system: RunningSystem;
  let pushService: Server;
  const pushes: IncomingMessage[] = [];
  let front: string[];

  before(async () => {
    system = await startSystem({ port: 0, dataDir: data, logger: silentLogger });
    pushService = createServer((req, res) => {
      pushes.push(req);
      req.resume().on('end', () => res.writeHead(201).end());
    });
    await new Promise<void>((resolve) => pushService.listen(0, '127.0.0.1', resolve));
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    await system.push!.upsertInstallation({
      installationId: 'browser-7',
      platform: 'browser',
      tags: ['customer_7'],
      pushChannel: {
        endpoint: `http://127.0.0.1:${(pushService.address() as AddressInfo).port}/push/sub-7`,
        p256dh: ecdh.getPublicKey().toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      },
      templates: { order: { body: '{"title":"{\'Order \' + $(order)}"}' } },
    });
    const port = /:(\d+)\//.exec(system.pushConnectionString!)![1];
    front = ['--url', `https://127.0.0.1:${port}`, '--data', data];
  });
  after(async () => {
    await system.close();
    await new Promise((resolve) => pushService.close(resolve));
    rmSync(data, { recursive: true, force: true });
  });

  it('send --tag delivers and says how it went; a tag nobody carries sends nothing and says so', async () => {
    const sent = await hubbub(['send', ...front, '--tag', 'customer_7 && !muted', '{"title":"Order 7 is ready"}']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /Queued notification \S+ \(browser\) to tag expression 'customer_7 && !muted'\./);
    assert.match(sent.stdout, /: Completed\.\n {2}Browser: Success 1/);
    assert.equal(pushes.length, 1);
    assert.equal(pushes[0]?.headers['content-encoding'], 'aes128gcm');

    const none = await hubbub(['send', ...front, '--tag', 'customer_8', '{"title":"x"}']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /Nothing was sent: no installation matched/);
    assert.equal(pushes.length, 1);
  });

  it('send --installation --template renders the installation template; found through the connection string', async () => {
    const sent = await hubbub(
      ['send', '--installation', 'browser-7', '--template', '{"order":"42"}', '--ca', system.pushCaPath!],
      { HUBBUB_PUSH_CONNECTION_STRING: system.pushConnectionString! },
    );
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(
      sent.stdout,
      /\(template\) to installation 'browser-7'\.\nNotification \S+: Completed\.\n {2}Browser: Success 1/,
    );
    assert.equal(pushes.length, 2);
  });

  it('installations lists them (by tag too, and found through running.json), and says when there are none', async () => {
    const all = await hubbub(['installations', ...front]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^browser-7\tbrowser\tcustomer_7\ttemplate order\n1 installation\.\n$/);
    const found = await hubbub(['installations', '--data', data]);
    assert.equal(found.stdout, all.stdout, 'found through <data>/running.json on its own');
    const none = await hubbub(['installations', ...front, '--tag', 'nobody']);
    assert.equal(none.stdout, "No installation carries the tag 'nobody'.\n");
  });

  it('outcome reads a notification; an unknown one is said so with exit code 1', async () => {
    const { notificationId } = await system.push!.send(
      { format: 'browser', body: '{"title":"hi"}' },
      { kind: 'installation', installationId: 'browser-7' },
    );
    const [known, unknown] = await Promise.all([
      (async () => {
        for (;;) {
          const o = await system.push!.getNotificationOutcome(notificationId);
          if (o?.state === 'Completed') return hubbub(['outcome', ...front, notificationId]);
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      hubbub(['outcome', ...front, 'no-such-notification']),
    ]);
    assert.equal(known.code, 0, known.stderr);
    assert.match(known.stdout, new RegExp(`Notification ${notificationId}: Completed\\.\\n {2}Browser: Success 1`));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /No notification 'no-such-notification' is known/);
  });

  it('bad input and a missing front are coded errors', async () => {
    const notJson = await hubbub(['send', ...front, '--all', '{nope']);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /not JSON.*\[CLI_USAGE\]/);
    const noTarget = await hubbub(['send', ...front, '{}']);
    assert.match(noTarget.stderr, /exactly one of --tag, --installation or --all \[CLI_USAGE\]/);
    const badExpression = await hubbub(['send', ...front, '--tag', 'a && (b', '{}']);
    assert.equal(badExpression.code, 1);
    assert.match(badExpression.stderr, /\[PUSH_TAG_EXPRESSION_INVALID\]/);
    const gone = await hubbub(['installations', '--url', 'https://127.0.0.1:1', '--data', data]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /\[PUSH_UNREACHABLE\]/);
    const notTls = await hubbub(['installations', '--url', `https://127.0.0.1:${system.port}`, '--data', data]);
    assert.match(notTls.stderr, /\[PUSH_UNREACHABLE\]/, 'a plain-http port is not the front');
    const wrongKey = system.pushConnectionString!.replace(/SharedAccessKey=.*$/, `SharedAccessKey=${'x'.repeat(44)}`);
    const refused = await hubbub(['installations', '--connection-string', wrongKey, '--data', data]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[PUSH_UNAUTHORIZED\]/);
    const badCs = await hubbub(['installations', '--connection-string', 'Endpoint=nope', '--data', data]);
    assert.match(badCs.stderr, /connection string must be.*\[CLI_USAGE\]/);
    const noKey = await hubbub(['installations', '--data', join(data, 'nothing-here')]);
    assert.match(noKey.stderr, /no push key.*\[CLI_USAGE\]/);
  });
});
