/** `hubbub start` as a user runs it: prints where to open it, serves the page and the hub, stops on Ctrl-C. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';

describe('hubbub start', () => {
  it('serves the demo page and its hub, and stops cleanly on SIGINT', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-start-'));
    const run = hubbub(['start', '--port', '0', '--data', data], { HUBBUB_LOG_LEVEL: 'warn' });
    try {
      const url = await waitFor(() => /Open (http:\/\/\S+)\//.exec(run.stdout())?.[1], {
        timeoutMs: 20_000,
        what: 'the URL',
      });
      const home = await fetch(`${url}/`, { redirect: 'manual' });
      assert.equal(home.status, 302);
      assert.equal(home.headers.get('location'), '/demo');
      const page = await fetch(`${url}/demo`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /signalr\.min\.js/);
      assert.equal((await fetch(`${url}/vendor/signalr.min.js`)).status, 200);
      assert.equal((await fetch(`${url}/nope`)).status, 404);
      // The push part: its connection string, hub and the CA to trust, in the banner.
      const cs =
        /Push: +(Endpoint=sb:\/\/127\.0\.0\.1:\d+\/;SharedAccessKeyName=DefaultFullSharedAccessSignature;SharedAccessKey=\S+)/.exec(
          run.stdout(),
        );
      assert.ok(cs, run.stdout());
      assert.match(
        run.stdout(),
        new RegExp(`hub hubbub \\(Notification Hubs SDK; trust NODE_EXTRA_CA_CERTS=${join(data, 'tls', 'ca.pem')}\\)`),
      );
      assert.equal((await fetch(`${url}/push/vapid-public-key`)).status, 200);

      const a = new signalR.HubConnectionBuilder()
        .withUrl(`${url}/hubs/demo`)
        .configureLogging(signalR.LogLevel.None)
        .build();
      const b = new signalR.HubConnectionBuilder()
        .withUrl(`${url}/hubs/demo`)
        .configureLogging(signalR.LogLevel.None)
        .build();
      const got = new Promise<{ from: string; text: string }>((resolve) => b.on('message', resolve));
      await Promise.all([a.start(), b.start()]);
      assert.equal(await a.invoke('send', 'ada', 'hello'), true);
      assert.deepEqual({ ...(await got), at: 0 }, { from: 'ada', text: 'hello', at: 0 });
      assert.equal(await a.invoke('send', 'ada', '   '), false, 'blank messages are refused');
      await Promise.all([a.stop(), b.stop()]);
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0);
    assert.match(run.stdout(), /Stopped\./);
    assert.ok(existsSync(join(data, 'keys.json')), 'the access key is kept in the data directory');
    rmSync(data, { recursive: true, force: true });
  });

  it('refuses a bad port with a usage error', async () => {
    const run = hubbub(['start', '--port', 'abc']);
    assert.equal(await run.exited, 1);
    assert.match(run.stderr(), /CLI_USAGE/);
  });

  it('names an unknown command and lists the commands', async () => {
    const run = hubbub(['frobnicate']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /unknown command 'frobnicate'/);
    const help = hubbub(['help']);
    assert.equal(await help.exited, 0);
    assert.match(help.stdout(), /start\s+Run everything/);
  });
});
