/**
 * The commands find a running Hubbub on any port through `<data>/running.json`, and say exactly
 * which flag or variable to use when they cannot.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub, ran } from '@hubbub/test-kit';

/** No bus, key or connection string from the test's own environment. */
const clean = {
  HUBBUB_BUS_URL: undefined,
  HUBBUB_BUS_KEY: undefined,
  HUBBUB_SIGNALR_CONNECTION_STRING: undefined,
  AzureSignalRConnectionString: undefined,
  HUBBUB_LOG_LEVEL: 'warn',
};

describe('finding the running system', () => {
  it('send, peek and token reach `hubbub start` on a random port through <data>/running.json', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-find-'));
    // A directory of the repository (tsx resolves from it) with no .data of its own.
    const other = new URL('..', import.meta.url).pathname;
    const run = hubbub(['start', '--port', '0', '--data', data], clean);
    try {
      const url = await waitFor(() => /Open (http:\/\/\S+)\//.exec(run.stdout())?.[1], {
        timeoutMs: 30_000,
        what: 'the URL',
      });
      const file = join(data, 'running.json');
      assert.equal(statSync(file).mode & 0o777, 0o600, 'it holds keys: owner only');
      assert.match(
        run.stdout(),
        /Endpoint=http:\/\/127\.0\.0\.1:\d+;AccessKey=/,
        'the banner has the connection string',
      );
      assert.match(run.stdout(), /RootManageSharedAccessKey=/, 'and the bus key');
      assert.match(
        run.stdout(),
        /Service Bus: {3}Endpoint=sb:\/\/127\.0\.0\.1:\d+;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=\S+;UseDevelopmentEmulator=true\n {2}over TLS: {6}Endpoint=sb:\/\/127\.0\.0\.1:\d+\/;/,
        "and the Service Bus SDK's connection strings",
      );

      const env = { ...clean, HUBBUB_DATA_DIR: data };
      // From another directory, with the data directory named by the variable and by the flag.
      const sent = await ran(hubbub(['send', 'located', '{"n":1}'], env, other));
      assert.equal(sent.code, 1, 'no such queue yet');
      assert.match(sent.stderr, /\[BUS_ENTITY_NOT_FOUND\]/, 'but the bus answered, signed');
      const peeked = await ran(hubbub(['peek', 'demo', '--data', data], clean, other));
      assert.match(peeked.stderr, /\[BUS_ENTITY_NOT_FOUND\]/);
      const token = await ran(hubbub(['token', 'client', '--hub', 'chat'], env, other));
      assert.equal(token.code, 0, token.stderr);
      assert.equal((JSON.parse(token.stdout) as { url: string }).url, `${url}/client/?hub=chat`);

      // A flag still wins over the file.
      const elsewhere = await ran(hubbub(['peek', 'q', '--url', 'http://127.0.0.1:1/bus'], env, other));
      assert.match(elsewhere.stderr, /\[CLI_BUS_UNREACHABLE\]/);
      assert.match(elsewhere.stderr, /came from --url/);
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0);
    assert.equal(existsSync(join(data, 'running.json')), false, 'removed on a clean stop');
    rmSync(data, { recursive: true, force: true });
  });

  it('without a running system, the error names --url, HUBBUB_BUS_URL and the file it looked for', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-none-'));
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const viaEnv = await ran(
      hubbub(['send', 'q', 'x'], { ...clean, HUBBUB_DATA_DIR: data, HUBBUB_BUS_URL: `http://127.0.0.1:${port}/bus` }),
    );
    assert.equal(viaEnv.code, 1);
    assert.match(viaEnv.stderr, /\[CLI_BUS_UNREACHABLE\]/);
    assert.match(viaEnv.stderr, /came from \$HUBBUB_BUS_URL/);
    assert.match(viaEnv.stderr, /--url URL or \$HUBBUB_BUS_URL/);
    assert.ok(viaEnv.stderr.includes(join(data, 'running.json')));

    const token = await ran(hubbub(['token', 'client', '--hub', 'chat'], { ...clean, HUBBUB_DATA_DIR: data }));
    assert.equal(token.code, 1);
    assert.match(token.stderr, /--connection-string or set HUBBUB_SIGNALR_CONNECTION_STRING\. \[CLI_USAGE\]/);
    rmSync(data, { recursive: true, force: true });
  });

  it('a port in use is SYSTEM_PORT_IN_USE naming --port; a locked data directory is BUS_DIR_LOCKED', async () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-busy-'));
    const first = hubbub(['start', '--port', '0', '--data', data], clean);
    try {
      const url = await waitFor(() => /Open (http:\/\/\S+)\//.exec(first.stdout())?.[1], {
        timeoutMs: 30_000,
        what: 'the URL',
      });
      const port = new URL(url).port;
      const taken = await ran(hubbub(['start', '--port', port, '--data', mkdtempSync(join(tmpdir(), 'x-'))], clean));
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, /--port N .*\[SYSTEM_PORT_IN_USE\]/);
      const locked = await ran(hubbub(['start', '--port', '0', '--data', data], clean));
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, /\[BUS_DIR_LOCKED\]/);
      assert.ok(existsSync(join(data, 'running.json')), 'the refused start leaves the running one’s file');
    } finally {
      first.child.kill('SIGINT');
    }
    assert.equal(await first.exited, 0);
    rmSync(data, { recursive: true, force: true });
  });
});
