/**
 * The AMQP front's or the push front's port held by another process: the start fails with
 * `SYSTEM_PORT_IN_USE` naming the flags that move or drop the part, as a second `npm start` on
 * another `--port` (which still takes 5673 and 7443) meets it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { it } from 'node:test';
import { silentLogger } from '@hubbub/kernel';
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
