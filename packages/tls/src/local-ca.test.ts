import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@hubbub/kernel';
import { ensureLocalCa } from './local-ca.ts';

const day = 86_400_000;

describe('local CA', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubbub-ca-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('creates a CA and a server certificate for the loopback names, keys 0600, and reuses them', async () => {
    const first = await ensureLocalCa({ dir });
    assert.equal(first.action, 'created-ca');
    assert.equal(first.caPath, join(dir, 'ca.pem'));
    for (const name of ['ca-key.pem', 'server-key.pem'])
      assert.equal((await stat(join(dir, name))).mode & 0o777, 0o600);
    const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
    const server = new X509Certificate(await readFile(join(dir, 'server.pem')));
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.verify(ca.publicKey), 'the server certificate is signed by the CA');
    assert.ok(server.checkIssued(ca));
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkIP('::1'), '::1');
    assert.equal(server.checkHost('example.com'), undefined);

    const second = await ensureLocalCa({ dir });
    assert.equal(second.action, 'reused');
    assert.equal(second.caPem, first.caPem);
    assert.equal(second.certPem, first.certPem);
  });

  it('is trusted by a TLS client given the CA, as NODE_EXTRA_CA_CERTS would', async () => {
    const ca = await ensureLocalCa({ dir });
    const server = createHttpsServer({ cert: ca.certPem, key: ca.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const { get } = await import('node:https');
      const body = await new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/', ca: ca.caPem }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      assert.equal(body, 'ok');
      // without the CA the same server is refused
      const refused = await new Promise<string>((resolve) => {
        get({ host: '127.0.0.1', port, path: '/' }, () => resolve('accepted')).on('error', (e: NodeJS.ErrnoException) =>
          resolve(e.code ?? 'error'),
        );
      });
      assert.notEqual(refused, 'accepted');
    } finally {
      server.close();
    }
  });

  it('renews the server certificate when it nears expiry or misses a configured host, keeping the CA', async () => {
    const clock = new ManualClock(Date.now());
    const own = await mkdtemp(join(tmpdir(), 'hubbub-ca-'));
    try {
      const first = await ensureLocalCa({ dir: own, clock, serverValidityDays: 60, renewBeforeDays: 10 });
      assert.equal(first.renewAt, first.serverNotAfter - 10 * day);
      clock.advance(49 * day);
      assert.equal(
        (await ensureLocalCa({ dir: own, clock, serverValidityDays: 60, renewBeforeDays: 10 })).action,
        'reused',
      );
      clock.advance(2 * day);
      const renewed = await ensureLocalCa({ dir: own, clock, serverValidityDays: 60, renewBeforeDays: 10 });
      assert.equal(renewed.action, 'renewed-server');
      assert.equal(renewed.caPem, first.caPem);
      assert.ok(renewed.serverNotAfter > first.serverNotAfter);
      const named = await ensureLocalCa({ dir: own, clock, hosts: ['hubbub.test', '10.1.2.3'] });
      assert.equal(named.action, 'renewed-server');
      const cert = new X509Certificate(named.certPem);
      assert.equal(cert.checkHost('hubbub.test'), 'hubbub.test');
      assert.equal(cert.checkIP('10.1.2.3'), '10.1.2.3');
      assert.equal(cert.checkHost('localhost'), 'localhost');
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('makes a new pair when a file is damaged or the key does not match, and survives concurrent first starts', async () => {
    const own = await mkdtemp(join(tmpdir(), 'hubbub-ca-'));
    try {
      const results = await Promise.all([ensureLocalCa({ dir: own }), ensureLocalCa({ dir: own })]);
      assert.equal(results.filter((r) => r.action === 'created-ca').length, 1);
      assert.equal(results[0].caPem, results[1].caPem);
      await writeFile(join(own, 'server.pem'), 'garbage');
      const fixed = await ensureLocalCa({ dir: own });
      assert.equal(fixed.action, 'renewed-server');
      assert.equal(fixed.caPem, results[0].caPem);
      // a server key that is not the certificate's
      const other = await mkdtemp(join(tmpdir(), 'hubbub-ca-'));
      await ensureLocalCa({ dir: other });
      await writeFile(join(own, 'server-key.pem'), await readFile(join(other, 'server-key.pem')));
      await rm(other, { recursive: true, force: true });
      assert.equal((await ensureLocalCa({ dir: own })).action, 'renewed-server');
      // a CA key that is not the CA's: the CA itself is made anew
      await writeFile(join(own, 'ca-key.pem'), fixed.keyPem);
      assert.equal((await ensureLocalCa({ dir: own })).action, 'created-ca');
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('refuses bad options and reports an unusable directory with a code', async () => {
    await assert.rejects(ensureLocalCa({ dir: '' }), { code: 'KERNEL_INVALID_OPTION' });
    await assert.rejects(ensureLocalCa({ dir, hosts: ['bad host!'] }), { code: 'KERNEL_INVALID_OPTION' });
    await assert.rejects(ensureLocalCa({ dir, renewBeforeDays: 400 }), { code: 'KERNEL_INVALID_OPTION' });
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    await assert.rejects(ensureLocalCa({ dir: join(file, 'sub') }), { code: 'TLS_UNAVAILABLE' });
  });
});
