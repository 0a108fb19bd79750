/** `hubbub token`, run as a process; tokens are checked with jose against the key. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const key = 'cli-token-key-0123456789abcdefghijklmnopqrs';
const cs = `Endpoint=http://localhost;Port=7071;AccessKey=${key};Version=1.0;`;

function hubbub(args: string[], env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.HUBBUB_SIGNALR_CONNECTION_STRING;
  delete clean.AzureSignalRConnectionString;
  return spawnSync(process.execPath, ['--import', 'tsx', main, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...clean, ...env },
  });
}

const verify = (token: string) => jwtVerify(token, new TextEncoder().encode(key), { algorithms: ['HS256'] });

describe('hubbub token', () => {
  it('prints a client {url, accessToken} with the user and claims', async () => {
    const run = hubbub([
      'token',
      'client',
      '--connection-string',
      cs,
      '--hub',
      'Chat',
      '--user',
      'alice',
      '--claim',
      'role=courier',
      '--lifetime',
      '60',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const { url, accessToken } = JSON.parse(run.stdout);
    assert.equal(url, 'http://localhost:7071/client/?hub=chat');
    const { payload } = await verify(accessToken);
    assert.equal(payload.aud, url);
    assert.equal(payload['asrs.s.uid'], 'alice');
    assert.equal(payload.role, 'courier');
    assert.equal(payload.exp! - payload.iat!, 60);
  });

  it('prints a server token for a REST path, reading AzureSignalRConnectionString', async () => {
    const run = hubbub(['token', 'server', '--url', '/api/hubs/chat/:send?api-version=2022-06-01'], {
      AzureSignalRConnectionString: cs,
    });
    assert.equal(run.status, 0, run.stderr);
    const { payload } = await verify(run.stdout.trim());
    assert.equal(payload.aud, 'http://localhost:7071/api/hubs/chat/:send?api-version=2022-06-01');
  });

  it('fails clearly without a connection string, a kind, a hub, a url, or with a bad lifetime or string', () => {
    const cases: Array<[string[], RegExp]> = [
      [['token', 'client', '--hub', 'chat'], /CLI_USAGE/],
      [['token', '--connection-string', cs], /CLI_USAGE/],
      [['token', 'client', '--connection-string', cs], /--hub/],
      [['token', 'server', '--connection-string', cs], /--url/],
      [['token', 'client', '--connection-string', cs, '--hub', 'c', '--lifetime', 'soon'], /--lifetime/],
      [['token', 'client', '--connection-string', cs, '--hub', 'c', '--claim', 'novalue'], /--claim/],
      [['token', 'client', '--connection-string', 'Endpoint=http://h', '--hub', 'c'], /HUB_INVALID_CONNECTION_STRING/],
    ];
    for (const [args, pattern] of cases) {
      const run = hubbub(args);
      assert.equal(run.status, 1, args.join(' '));
      assert.match(run.stderr, pattern, args.join(' '));
    }
  });
});
