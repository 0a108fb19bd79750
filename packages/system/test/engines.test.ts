/** The one engine URL table: known schemes open lazily, anything else names the choices. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { absoluteEngineUrl } from '../src/engines.ts';
import { engineScheme, openBusAt, startSystem } from '../src/index.ts';

it('opens memory:// and file://DIR buses, and refuses other URLs naming the choices', async () => {
  await using memory = await openBusAt('memory://');
  await memory.admin.createQueue('q');
  await memory.createSender('q').send({ body: 'x' });
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-engines-'));
  try {
    const file = await openBusAt(`file://${dir}`);
    await file.admin.createQueue('q');
    await file.close();
    assert.ok(readdirSync(dir).length > 0, 'the file engine wrote its log');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const url of ['http://x/bus', 'memory', '', '::', 'nats:/x']) {
    assert.throws(() => engineScheme('bus', url), { code: 'KERNEL_INVALID_OPTION' }, url);
  }
  await assert.rejects(openBusAt('file://'), { code: 'KERNEL_INVALID_OPTION' });
  // A NATS URL may list the servers of a cluster, which WHATWG URL parsing refuses as a port.
  assert.equal(engineScheme('bus', 'nats://127.0.0.1:4222,127.0.0.1:4223?replicas=3'), 'nats:');
  assert.equal(engineScheme('backplane', 'REDIS://127.0.0.1:6379'), 'redis:');
});

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    setTimeout(() => resolve(false), 1_000).unref();
  });
const natsUp = await listening(4222);
if (!natsUp && process.env.CI === 'true') {
  throw new Error('CI=true and NATS with JetStream is not listening on 127.0.0.1:4222: start nats-server -js');
}

it('opens nats:// as a bus shared by every process that opens it', {
  skip: natsUp ? false : 'NATS is not listening on 127.0.0.1:4222 (start nats-server -js)',
}, async () => {
  const url = `nats://127.0.0.1:4222?namespace=engines${process.pid}${Date.now()}`;
  assert.equal(engineScheme('bus', url), 'nats:');
  const [one, two] = [await openBusAt(url), await openBusAt(url)];
  try {
    await one.admin.createQueue('shared');
    await one.createSender('shared').send({ body: { from: 'one' } });
    const receiver = two.createReceiver({ queue: 'shared' }, { receiveMode: 'receiveAndDelete' });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeMs: 10_000 });
    await receiver.close();
    assert.deepEqual(message?.body, { from: 'one' }, 'the other bus on the same URL received it');
    await one.admin.deleteQueue('shared');
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});

const redisUp = await new Promise<boolean>((resolve) => {
  const socket = createConnection(6379, '127.0.0.1');
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
  setTimeout(() => resolve(false), 1_000).unref();
});
const redisSkip =
  redisUp || process.env.CI
    ? false
    : "no Redis on 127.0.0.1:6379 (start it: redis-server --daemonize yes --port 6379 --save '')";

it('gives the system the cache its URL names: memory by default, Redis when configured', async () => {
  {
    await using system = await startSystem({ port: 0, logger: silentLogger });
    await system.cache.set('k', { n: 1 }, { ttlMs: 60_000 });
    assert.deepEqual(await system.cache.get('k'), { n: 1 });
  }
  await assert.rejects(startSystem({ port: 0, logger: silentLogger, cacheUrl: 'nats://x' }), {
    code: 'KERNEL_INVALID_OPTION',
  });
});

it('opens a Redis cache from redis://', { skip: redisSkip }, async () => {
  await using system = await startSystem({ port: 0, logger: silentLogger, cacheUrl: 'redis://127.0.0.1:6379' });
  const key = `hubbub-system-test-${process.pid}-${Date.now()}`;
  assert.equal(await system.cache.increment(key, { ttlMs: 10_000 }), 1);
  assert.equal(await system.cache.increment(key), 2);
  await system.cache.delete(key);
});

it('makes the directory of a relative file:// or pglite:// URL absolute, leaving other URLs alone', () => {
  assert.equal(absoluteEngineUrl('file://./data/bus'), `file://${join(process.cwd(), 'data/bus')}`);
  assert.equal(absoluteEngineUrl('pglite://store'), `pglite://${join(process.cwd(), 'store')}`);
  assert.equal(absoluteEngineUrl('file:///var/bus'), 'file:///var/bus');
  for (const url of ['memory://', 'pglite://', 'postgres://u@h/db', 'nats://127.0.0.1:4222']) {
    assert.equal(absoluteEngineUrl(url), url);
  }
});
