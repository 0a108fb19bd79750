/**
 * `hubbub func start`, run in the app directory as a function app's `npm start` runs `func start`:
 * Core Tools' flags, keys unchecked unless --enforce-keys, the app's relative reads, a function
 * whose binding Hubbub lacks skipped (non-zero exit under --strict).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hubbub/kernel';
import { hubbub, ran } from '@hubbub/test-kit';
import * as signalR from '@microsoft/signalr';

const fixture = (name: string) => fileURLToPath(new URL(`../../functions/test/fixtures/${name}`, import.meta.url));
const data = mkdtempSync(join(tmpdir(), 'hubbub-func-'));
after(() => rmSync(data, { recursive: true, force: true }));

async function started(args: string[], cwd: string) {
  const app = hubbub(args, { HUBBUB_DATA_DIR: data }, cwd);
  const line = await waitFor(() => /\[(?:GET|POST)[^\]]*\] (http:\/\/[^/]+)\/api\//.exec(app.stdout()), {
    timeoutMs: 20_000,
    what: `the functions to be listed (stderr: ${app.stderr()})`,
  });
  return { app, url: line[1]! };
}

describe('hubbub func start', () => {
  it('runs the app in the working directory like func start: relative reads, keys not enforced', async () => {
    const { app, url } = await started(['func', 'start', '--port', '0'], fixture('serverless-chat-auth'));
    try {
      const page = await fetch(`${url}/api/index`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Serverless chat/);
      const negotiate = await fetch(`${url}/api/negotiate`, { method: 'POST' });
      assert.equal(negotiate.status, 200);
      assert.match(((await negotiate.json()) as { url: string }).url, /\/client\/\?hub=chat$/);
    } finally {
      app.child.kill('SIGTERM');
    }
    assert.equal(await app.exited, 0);
  });

  it("runs a bidirectional chat: the client's invocations reach its signalRTrigger functions", async () => {
    const { app, url } = await started(['func', 'start', '--port', '0'], fixture('bidirectional-chat'));
    try {
      const res = await fetch(`${url}/api/negotiate`, { method: 'POST', headers: { 'x-ms-signalr-userid': 'ada' } });
      const info = (await res.json()) as { url: string; accessToken: string };
      const client = new signalR.HubConnectionBuilder()
        .withUrl(info.url, { accessTokenFactory: () => info.accessToken })
        .configureLogging(signalR.LogLevel.None)
        .build();
      await client.start();
      try {
        assert.equal(((await client.invoke('echo', 'via the CLI')) as { echo: string }).echo, 'via the CLI');
        await assert.rejects(client.invoke('fail'), /The chat refused this message\./);
      } finally {
        await client.stop();
      }
      assert.match(app.stdout(), /echo: signalRTrigger/);
    } finally {
      app.child.kill('SIGTERM');
    }
    assert.equal(await app.exited, 0);
  });

  it('runs only the functions named with --functions', async () => {
    const { app, url } = await started(
      ['func', 'start', '--functions', 'index', 'negotiate', '--port', '0'],
      fixture('serverless-chat-auth'),
    );
    try {
      assert.equal((await fetch(`${url}/api/index`)).status, 200);
      assert.equal((await fetch(`${url}/api/messages`, { method: 'POST', body: '{}' })).status, 404);
      assert.doesNotMatch(app.stdout(), /messages:/);
    } finally {
      app.child.kill('SIGTERM');
    }
    assert.equal(await app.exited, 0);
  });

  it('checks keys with --enforce-keys', async () => {
    const { app, url } = await started(
      ['func', 'start', '--port', '0', '--enforce-keys'],
      fixture('serverless-chat-auth'),
    );
    try {
      assert.equal((await fetch(`${url}/api/negotiate`, { method: 'POST' })).status, 401);
    } finally {
      app.child.kill('SIGTERM');
    }
    assert.equal(await app.exited, 0);
  });

  it('reports and skips a function whose binding cannot load; --strict exits non-zero', async () => {
    const { app, url } = await started(['functions', '--port', '0'], fixture('partly-supported'));
    try {
      await waitFor(() => app.stdout().includes('Skipped'));
      assert.match(app.stdout(), /saveToSql: not loaded .*\[FUNCTIONS_UNKNOWN_BINDING\]/);
      assert.equal(await (await fetch(`${url}/api/hello`)).text(), 'hello');
    } finally {
      app.child.kill('SIGTERM');
    }
    assert.equal(await app.exited, 0);
    const strict = await ran(
      hubbub(['func', 'start', '--port', '0', '--strict'], { HUBBUB_DATA_DIR: data }, fixture('partly-supported')),
    );
    assert.notEqual(strict.code, 0);
    assert.match(strict.stderr, /FUNCTIONS_UNKNOWN_BINDING/);
  });

  it('knows start only', async () => {
    const wrong = await ran(hubbub(['func', 'new'], {}, fixture('partly-supported')));
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /knows 'start' only/);
  });
});
