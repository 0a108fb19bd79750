/** startSystem with a data directory publishes how to reach it in running.json, and takes it back on close. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
import { readRunningFile, startSystem } from '../src/index.ts';

describe('running.json of a started system', () => {
  it('names the URLs, keys and connection strings in force, and is removed on close', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hubbub-running-system-'));
    try {
      const system = await startSystem({ port: 0, dataDir, logger: silentLogger, push: false });
      const info = readRunningFile(dataDir);
      assert.ok(info !== undefined);
      assert.equal(info.pid, process.pid);
      assert.equal(info.url, system.url);
      assert.equal(info.bus.url, `${system.url}/bus`);
      assert.deepEqual(info.bus.key, system.keys.bus);
      assert.deepEqual(info.store, { url: `${system.url}/store`, key: system.keys.store });
      assert.equal(info.signalR.connectionString, system.connectionString);
      assert.equal(info.amqp?.connectionString, system.amqpConnectionString);
      assert.equal(info.push, undefined, 'push is off');
      await system.close();
      assert.equal(existsSync(join(dataDir, 'running.json')), false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
