/** `hubbub keys`, run as a process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConnectionString } from '@hubbub/hub';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));

function hubbub(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('hubbub keys', () => {
  it('prints a new 256-bit key and a connection string that parses back to it', () => {
    const run = hubbub('keys');
    assert.equal(run.status, 0, run.stderr);
    const key = /^AccessKey: (\S+)$/m.exec(run.stdout)?.[1];
    const cs = /^ConnectionString: (\S+)$/m.exec(run.stdout)?.[1];
    assert.ok(key && cs, run.stdout);
    assert.equal(Buffer.from(key, 'base64').length, 32);
    const parsed = parseConnectionString(cs);
    assert.equal(parsed.accessKey, key);
    assert.equal(parsed.endpoint, 'http://localhost:7071');
  });

  it('takes --endpoint and prints JSON with --json; two runs give different keys', () => {
    const a = JSON.parse(hubbub('keys', '--json', '--endpoint', 'http://127.0.0.1:9000').stdout);
    const b = JSON.parse(hubbub('keys', '--json').stdout);
    assert.equal(parseConnectionString(a.connectionString).endpoint, 'http://127.0.0.1:9000');
    assert.notEqual(a.accessKey, b.accessKey);
  });

  it('fails with a usage error for unknown flags and a bad endpoint', () => {
    const unknown = hubbub('keys', '--nope');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /CLI_USAGE/);
    const bad = hubbub('keys', '--endpoint', 'ftp://x');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /HUB_INVALID_CONNECTION_STRING/);
  });
});
