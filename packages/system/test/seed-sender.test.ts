/**
 * The seed's `sendToQueue.js` run as published against the system `npm start` runs: the 1.x
 * `@azure/service-bus` SDK, only its connection string and queue name edited, over AMQPS on 5671
 * with the local CA trusted through NODE_EXTRA_CA_CERTS; and the same send written with 7.9.x.
 * The script exits 0 even when it fails, so the message is looked for on the bus. The system
 * listens on a loopback address of its own (the 1.x SDK fixes the port), in the certificate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { runSdkScript, sdk7Sender, seedSampleSkipReason, seedSender } from '@hubbub/test-kit';
import { type RunningSystem, startSystem } from '../src/index.ts';

const skip = seedSampleSkipReason();
if (skip !== undefined && process.env.CI === 'true') throw new Error(`CI=true and ${skip}`);
const loopback = () =>
  `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;
const location = { orderid: '321', storeid: '123', lat: '30', longitude: '70' };

describe("the seed's sendToQueue.js against startSystem", { skip: skip ?? false }, () => {
  let data: string;
  let system: RunningSystem;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), 'hubbub-seed-sender-'));
    system = await startSystem({
      port: 0,
      host: loopback(),
      amqpsPort: 5671,
      dataDir: data,
      push: false,
      logger: silentLogger,
    });
    await system.bus.admin.createQueue('locations');
  });
  after(async () => {
    await system?.close();
    rmSync(data, { recursive: true, force: true });
  });

  const arrived = async () => {
    const [m] = await system.bus
      .createReceiver('locations', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(1, { maxWaitTimeMs: 5000 });
    return m;
  };

  it('prints and records the AMQPS connection string and the CA', () => {
    const host = new URL(system.url).hostname;
    assert.equal(
      system.amqpsConnectionString,
      `Endpoint=sb://${host}/;SharedAccessKeyName=${system.keys.bus.name};SharedAccessKey=${system.keys.bus.key}`,
    );
    assert.equal(system.caPath, join(data, 'tls', 'ca.pem'));
    const running = JSON.parse(readFileSync(join(data, 'running.json'), 'utf8'));
    assert.equal(running.amqp.tlsConnectionString, system.amqpsConnectionString);
    assert.equal(running.amqp.caPath, system.caPath);
  });

  it('takes the seed message from the 1.x SDK, the script run as published', async () => {
    const run = await runSdkScript({
      sdk: 1,
      source: seedSender(system.amqpsConnectionString!, 'locations'),
      caPath: system.caPath!,
    });
    assert.doesNotMatch(run.stdout, /Error occurred/, run.stdout);
    const m = await arrived();
    assert.deepEqual(m?.body, location, `stdout: ${run.stdout}`);
    assert.equal(m?.subject, 'driveby');
    assert.equal(m?.contentType, 'application/json');
  });

  it('takes the same send written with 7.9.x over AMQPS', async () => {
    const run = await runSdkScript({
      sdk: 7,
      source: sdk7Sender(),
      args: [system.amqpsConnectionString!, 'locations'],
      caPath: system.caPath!,
    });
    assert.equal(run.code, 0, run.stdout);
    const m = await arrived();
    assert.deepEqual(m?.body, location);
    assert.equal(m?.subject, 'driveby');
  });

  it('refuses the 1.x SDK with a wrong key: the script prints its error, exits 0, and nothing arrives', async () => {
    const run = await runSdkScript({
      sdk: 1,
      source: seedSender(system.amqpsConnectionString!.replace(system.keys.bus.key, 'wrong-key'), 'locations'),
      caPath: system.caPath!,
    });
    assert.match(run.stdout, /Error occurred/);
    assert.equal(run.code, 0, 'the seed script swallows its error');
    assert.equal(await arrived(), undefined);
  });
});
