/**
 * AMQPS on 5671 for the 1.x `@azure/service-bus` SDK, which connects to nothing else: the front
 * with a certificate from the local CA (`@hubbub/tls`) on a loopback address of its own (the SDK
 * fixes the port, so each run takes a fresh 127.x.y.z), the 1.x API driven through it in a child
 * process trusting the CA with NODE_EXTRA_CA_CERTS, the 7.9.x SDK over the same port, and what a
 * client that is not TLS gets.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runSdkScript, sdk7Sender } from '@hubbub/test-kit';
import { ensureLocalCa, type LocalCa } from '@hubbub/tls';
import { createAmqpFront } from '../src/index.ts';
import { type Harness, KEY, startHarness } from './harness.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const sdks = { 1: join(root, 'node_modules', 'azure-sb-1'), 7: join(root, 'node_modules', '@azure', 'service-bus') };

/** A loopback address of this run's own, so 5671 is free on it. */
const loopback = () =>
  `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${2 + Math.floor(Math.random() * 250)}`;

/** Runs a fixture with plain node where `require('@azure/service-bus')` is the given SDK; its stdout. */
async function runWith(sdk: 1 | 7, fixture: string, args: string[], caPath: string): Promise<string> {
  const source = fixture === 'sdk7-send.js' ? sdk7Sender() : readFileSync(join(fixtures, fixture), 'utf8');
  return (await runSdkScript({ sdk, source, args, caPath })).stdout;
}

describe('AMQPS for the 1.x SDK', {
  skip: existsSync(join(sdks[1], 'package.json')) ? false : 'npm install (azure-sb-1)',
}, () => {
  let dir: string;
  let ca: LocalCa;
  let host: string;
  let h: Harness;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bus-amqp-tls-'));
    host = loopback();
    ca = await ensureLocalCa({ dir, hosts: [host] });
    h = await startHarness({
      engine: 'file',
      entities: { queues: [{ name: 'locations' }, { name: 'probe' }] },
      front: { host, tls: ca, amqpsPort: 5671 },
    });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the AMQPS port in a connection string the 1.x SDK takes (no port) and 7.x too', () => {
    assert.equal(h.front.amqpsPort, 5671);
    assert.equal(
      h.front.amqpsConnectionString(KEY, host),
      `Endpoint=sb://${host}/;SharedAccessKeyName=${KEY.name};SharedAccessKey=${KEY.key}`,
    );
  });

  it('runs the 1.x API: send, batch, peek, peek-lock settlement, drain, schedule, handler, dead letters', async () => {
    const out = await runWith(1, 'sdk1-probe.js', [h.front.amqpsConnectionString(KEY, host)!, 'probe'], ca.caPath);
    assert.doesNotMatch(out, /Error occurred/, out);
    const seen = JSON.parse(out.trim().split('\n').at(-1)!);
    assert.deepEqual(seen.peek, [
      [{ n: 1 }, '1', true],
      ['two', '2', true],
      [{ n: 3 }, '3', true],
    ]);
    assert.deepEqual(seen.received, [
      [{ n: 1 }, 'one', { k: 'v' }, true],
      ['two', null, {}, true],
      [{ n: 3 }, null, {}, true],
    ]);
    assert.deepEqual(seen.again, [['two', 1, { why: 'x' }]]);
    assert.equal(seen.emptyReceive, 0);
    assert.deepEqual(seen.afterDrain, ['after-drain'], 'a drain is answered without deliveries the SDK would drop');
    assert.deepEqual(seen.scheduledReceived, ['scheduled']);
    assert.equal(seen.handled, 'handled');
    assert.deepEqual(seen.dead, [[{ n: 3 }, { DeadLetterReason: 'bad', DeadLetterErrorDescription: 'very' }]]);
  });

  it('takes the same send from the 7.9.x SDK over TLS, seen by the bus like any other message', async () => {
    const out = await runWith(7, 'sdk7-send.js', [h.front.amqpsConnectionString(KEY, host)!, 'locations'], ca.caPath);
    assert.match(out, /^sent$/m, out);
    const [m] = await h.bus.createReceiver('locations', { receiveMode: 'receiveAndDelete' }).receiveMessages(1);
    assert.deepEqual(m?.body, { orderid: '321', storeid: '123', lat: '30', longitude: '70' });
    assert.equal(m?.subject, 'driveby');
    assert.equal(m?.contentType, 'application/json');
  });

  it('drops a client that does not speak TLS on the AMQPS port and keeps serving', async () => {
    const socket = connect(5671, host);
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.from('AMQP\x00\x01\x00\x00'));
    await new Promise((resolve) => socket.once('close', resolve));
    const out = await runWith(7, 'sdk7-send.js', [h.front.amqpsConnectionString(KEY, host)!, 'locations'], ca.caPath);
    assert.match(out, /^sent$/m, out);
  });
});

describe('AMQPS options', () => {
  it('listens on no TLS port without a certificate or with amqpsPort false', async () => {
    const h = await startHarness();
    try {
      assert.equal(h.front.amqpsPort, undefined);
      assert.equal(h.front.amqpsConnectionString(KEY), undefined);
    } finally {
      await h.close();
    }
    const dir = mkdtempSync(join(tmpdir(), 'bus-amqp-tls-'));
    try {
      const ca = await ensureLocalCa({ dir });
      const off = await startHarness({ front: { tls: ca, amqpsPort: false } });
      assert.equal(off.front.amqpsPort, undefined);
      await off.close();
      const any = await startHarness({ front: { tls: ca, amqpsPort: 0 } });
      assert.ok((any.front.amqpsPort ?? 0) > 0);
      assert.match(any.front.amqpsConnectionString(KEY) ?? '', /^Endpoint=sb:\/\/localhost:\d+\/;/);
      await any.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops a client that opens a TLS connection and never finishes the handshake', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bus-amqp-tls-'));
    const ca = await ensureLocalCa({ dir });
    const h = await startHarness({ front: { tls: ca, amqpsPort: 0, handshakeTimeoutMs: 200 } });
    try {
      const socket = connect(h.front.amqpsPort!, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('close', resolve));
      assert.equal(h.front.connectionCount, 0);
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad port or certificate with coded errors', async () => {
    const bus = { broker: {} as never };
    assert.throws(() => createAmqpFront({ bus, keys: [KEY], amqpsPort: 70_000 }), { code: 'KERNEL_INVALID_OPTION' });
    assert.throws(() => createAmqpFront({ bus, keys: [KEY], tls: { certPem: 1 as never, keyPem: '' } }), {
      code: 'KERNEL_INVALID_OPTION',
    });
    const bad = createAmqpFront({ bus, keys: [KEY], port: 0, amqpsPort: 0, tls: { certPem: 'nope', keyPem: 'nope' } });
    await assert.rejects(bad.start(), { code: 'BUS_AMQP_LISTEN_FAILED' });
    await bad.close();
  });
});
