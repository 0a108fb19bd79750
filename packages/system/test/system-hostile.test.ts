/**
 * The all-in-one server's safe defaults: malformed targets get a 4xx (never a 500, never a crash),
 * an address that keeps failing authentication is throttled with 429 and Retry-After, binding
 * beyond loopback needs explicit keys, and the keys live in the data directory across restarts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { rawExchange as raw } from '@hubbub/kernel/testing';
import { startSystem } from '../src/index.ts';

describe('the all-in-one server under hostile requests', () => {
  const data = mkdtempSync(join(tmpdir(), 'hubbub-system-'));
  after(() => rmSync(data, { recursive: true, force: true }));

  it('answers malformed targets with 4xx and stays up', async () => {
    const errors: unknown[] = [];
    await using system = await startSystem({
      port: 0,
      demo: true,
      logger: { ...silentLogger, error: (o: unknown) => errors.push(o), child: () => silentLogger } as never,
    });
    for (const target of ['//', '//:', 'http://[', 'http://a:99999/', '/hubs/%ZZ', '/bus/%ZZ/messages', '/%ZZ', '*']) {
      const answer = await raw(system.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1.1 4\d\d/, target);
    }
    // Targets the guard lets through but that are odd; each answered, and the request log line
    // written when the answer finishes must not throw on them either.
    for (const target of ['///', '/\\', '//x', 'http://127.0.0.1/healthz', '/api/%ZZ', '/store/%ZZ']) {
      const answer = await raw(system.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1.1 [234]\d\d/, target);
    }
    assert.deepEqual(errors, [], 'bad input is not a server failure');
    assert.equal((await fetch(`${system.url}/healthz`)).status, 200);
  });

  it('throttles an address that keeps failing authentication, with Retry-After', async () => {
    await using system = await startSystem({
      port: 0,
      logger: silentLogger,
      rateLimits: { failures: { ratePerSecond: 1, burst: 5 } },
    });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${system.url}/bus/locations/messages`, { method: 'POST', body: 'x' });
      statuses.push(res.status);
      retryAfter ??= res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    assert.equal(retryAfter, '1');
    const health = await fetch(`${system.url}/healthz`);
    assert.equal(health.status, 429, 'every request from a throttled address waits');
  });

  it('refuses to listen beyond loopback without explicit keys', async () => {
    await assert.rejects(startSystem({ port: 0, host: '0.0.0.0', logger: silentLogger }), {
      code: 'KERNEL_INVALID_OPTION',
    });
  });

  it('keeps its keys in the data directory (mode 0600) and reuses them after a restart', async () => {
    let first: string;
    {
      await using system = await startSystem({ port: 0, dataDir: data, logger: silentLogger, secrets: ['AppSecret'] });
      first = JSON.stringify(system.keys);
      assert.equal(system.keys.bus.name, 'RootManageSharedAccessKey');
      assert.ok(system.keys.secrets.AppSecret!.length >= 16);
    }
    const file = join(data, 'keys.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { busKey: string };
    {
      await using system = await startSystem({ port: 0, dataDir: data, logger: silentLogger, secrets: ['AppSecret'] });
      assert.equal(JSON.stringify(system.keys), first);
      assert.equal(system.keys.bus.key, stored.busKey);
    }
    await using given = await startSystem({
      port: 0,
      dataDir: data,
      logger: silentLogger,
      keys: { bus: { name: 'ops', key: 'an-explicit-bus-key-0123' } },
    });
    assert.deepEqual(given.keys.bus, { name: 'ops', key: 'an-explicit-bus-key-0123' });
  });
});
