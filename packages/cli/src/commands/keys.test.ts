/** `hubbub keys`, run as a process. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it("prints the Service Bus SDK's AMQP and AMQPS connection strings for the data directory's bus key", () => {
    const data = mkdtempSync(join(tmpdir(), 'hubbub-keys-'));
    try {
      const none = hubbub('keys', '--data', data);
      assert.doesNotMatch(none.stdout, /ServiceBus/, 'no bus key, no Service Bus lines');
      writeFileSync(join(data, 'keys.json'), JSON.stringify({ busKey: 'bus-key-0123456789abcdef' }));
      const run = hubbub('keys', '--data', data);
      assert.equal(run.status, 0, run.stderr);
      const sas = 'SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=bus-key-0123456789abcdef';
      assert.match(
        run.stdout,
        new RegExp(
          `^ServiceBus \\(AMQP\\): Endpoint=sb://127\\.0\\.0\\.1:5673;${sas};UseDevelopmentEmulator=true$`,
          'm',
        ),
      );
      assert.match(
        run.stdout,
        new RegExp(`^ServiceBus \\(AMQPS, the 1\\.x SDK too\\): Endpoint=sb://127\\.0\\.0\\.1/;${sas}$`, 'm'),
      );
      assert.ok(run.stdout.includes(`NODE_EXTRA_CA_CERTS=${join(data, 'tls', 'ca.pem')}`), run.stdout);
      const json = JSON.parse(hubbub('keys', '--json', '--data', data).stdout);
      assert.equal(json.serviceBus.amqps, `Endpoint=sb://127.0.0.1/;${sas}`);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
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
