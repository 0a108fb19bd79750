/**
 * The AMQP front's or the push front's port held by another process: the start fails with
 * `SYSTEM_PORT_IN_USE` naming the flags that move or drop the part, as a second `npm start` on
 * another `--port` (which still takes 5673 and 7443) meets it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { createConsoleLogger, silentLogger } from '@hubbub/kernel';
import { startSystem } from '../src/index.ts';

it('an AMQP port another process holds fails the start with SYSTEM_PORT_IN_USE naming --no-amqp', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  try {
    await assert.rejects(
      startSystem({ port: 0, logger: silentLogger, push: false, amqpPort: port, amqpsPort: false }),
      (err: Error & { code?: string; detail?: { port?: number } }) => {
        assert.equal(err.code, 'SYSTEM_PORT_IN_USE');
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*--no-amqp`));
        assert.equal(err.detail?.port, port);
        return true;
      },
    );
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
});

it('a push port another process holds fails the start with SYSTEM_PORT_IN_USE naming --push-port', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  try {
    await assert.rejects(
      startSystem({ port: 0, logger: silentLogger, amqpPort: false, pushPort: port }),
      (err: Error & { code?: string; detail?: { port?: number } }) => {
        assert.equal(err.code, 'SYSTEM_PORT_IN_USE');
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*--push-port N.*--no-push`));
        assert.equal(err.detail?.port, port);
        return true;
      },
    );
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
});

it('a start that fails on a port logs no store error: the store it was opening is closed, not broken', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  const dataDir = mkdtempSync(join(tmpdir(), 'hubbub-ports-'));
  const lines: string[] = [];
  const logger = createConsoleLogger({ level: 'debug', write: (l) => lines.push(l) });
  try {
    await assert.rejects(startSystem({ port: 0, logger, dataDir, push: false, amqpPort: port, amqpsPort: false }), {
      code: 'SYSTEM_PORT_IN_USE',
    });
    // The store's open may still be settling after the start rejected: give it a moment to log.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(
      lines.filter((l) => l.includes('could not open')),
      [],
      'no "The store could not open" line for a store the failed start closed',
    );
  } finally {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
