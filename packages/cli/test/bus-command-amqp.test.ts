/**
 * `hubbub bus` serves the `@azure/service-bus` SDK too: it prints the AMQP and AMQPS connection
 * strings, and the seed's `sendToQueue.js` run as published with the 1.x SDK (AMQPS on 5671, on a
 * loopback address of this run's own) puts its message on the bus, read back with `hubbub receive`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { hubbub, type Running, ran, runSdkScript, seedSampleSkipReason, seedSender } from '@hubbub/test-kit';

const skip = seedSampleSkipReason();
if (skip !== undefined && process.env.CI === 'true') throw new Error(`CI=true and ${skip}`);
const host = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;

describe('hubbub bus and the Service Bus SDK', { skip: skip ?? false }, () => {
  let data: string;
  let app: Running;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), 'hubbub-bus-amqp-'));
    writeFileSync(join(data, 'entities.json'), JSON.stringify({ queues: [{ name: 'locations' }] }));
    app = hubbub(
      ['bus', '--port', '0', '--host', host, '--url', 'memory://', '--config', join(data, 'entities.json')],
      { HUBBUB_BUS_KEYS: undefined, HUBBUB_DATA_DIR: data },
    );
    await waitFor(() => /with NODE_EXTRA_CA_CERTS=/.test(app.stdout()), {
      timeoutMs: 20_000,
      what: `the connection strings (stderr: ${app.stderr()})`,
    });
  });
  after(async () => {
    app?.child.kill('SIGTERM');
    await app?.exited;
    rmSync(data, { recursive: true, force: true });
  });

  it('prints both connection strings and passes the seed send to the bus', async () => {
    const out = app.stdout();
    const url = JSON.parse(out.split('\n')[0]!).listening as string;
    const key = /^Bus key: (\S+)/m.exec(out)![1]!;
    assert.match(
      out,
      /^Service Bus \(AMQP\): Endpoint=sb:\/\/[\d.]+:\d+;SharedAccessKeyName=.*;UseDevelopmentEmulator=true$/m,
    );
    const amqps = /^Service Bus \(AMQPS, the 1\.x SDK too\): (\S+)$/m.exec(out)?.[1];
    assert.equal(amqps?.startsWith(`Endpoint=sb://${host}:`), true, out);
    // --port 0 gives AMQPS a free port too; the 1.x SDK needs 5671, so this run asks for it below.
    assert.equal(/^ {2}with NODE_EXTRA_CA_CERTS=(\S+)$/m.exec(out)?.[1], join(data, 'tls', 'ca.pem'));
    const on5671 = hubbub(
      [
        'bus',
        '--port',
        '0',
        '--host',
        host,
        '--amqp-port',
        '0',
        '--amqps-port',
        '5671',
        '--url',
        'memory://',
        '--config',
        join(data, 'entities.json'),
        '--data',
        data,
      ],
      { HUBBUB_BUS_KEYS: undefined },
    );
    try {
      const line = await waitFor(() => /^Service Bus \(AMQPS, the 1\.x SDK too\): (\S+)$/m.exec(on5671.stdout()), {
        timeoutMs: 20_000,
        what: `the AMQPS connection string (stderr: ${on5671.stderr()})`,
      });
      assert.equal(line[1]!.startsWith(`Endpoint=sb://${host}/;`), true, line[1]);
      const run = await runSdkScript({
        sdk: 1,
        source: seedSender(line[1]!, 'locations'),
        caPath: join(data, 'tls', 'ca.pem'),
      });
      assert.doesNotMatch(run.stdout, /Error occurred/, run.stdout);
      const busUrl = JSON.parse(on5671.stdout().split('\n')[0]!).listening as string;
      const received = await ran(hubbub(['receive', 'locations', '--url', busUrl, '--key', key, '--timeout', '5']));
      assert.equal(received.code, 0, received.stderr);
      assert.match(received.stdout, /"orderid":"321"/);
      assert.ok(url.length > 0);
    } finally {
      on5671.child.kill('SIGTERM');
      await on5671.exited;
    }
  });

  it('refuses a bad --amqp-port or --amqps-port with a usage error', async () => {
    for (const args of [
      ['bus', '--port', '0', '--amqps-port', 'x'],
      ['bus', '--port', '0', '--amqp-port', '70000'],
      ['functions', '--port', '0', '--amqps-port', ''],
    ]) {
      const run = await ran(hubbub(args, { HUBBUB_DATA_DIR: data }));
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, /is neither a port number nor off\. \[CLI_USAGE\]/);
    }
  });
});
