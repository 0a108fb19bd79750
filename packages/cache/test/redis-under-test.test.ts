import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { redisUnderTest } from './redis-under-test.ts';

async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the Redis the tests need', () => {
  it('when missing, skips with the reason and the command that starts it — or, under CI, fails saying so', async () => {
    const port = await closedPort();
    const ci = process.env.CI;
    try {
      delete process.env.CI;
      const missing = await redisUnderTest(port);
      assert.match(
        missing.unavailable ?? '',
        new RegExp(`not reachable at 127\\.0\\.0\\.1:${port}.*redis-server .*--port ${port}`),
      );
      assert.equal(missing.suite.unavailable, missing.unavailable);
      process.env.CI = 'true';
      await assert.rejects(redisUnderTest(port), new RegExp(`need it: start it with \`redis-server .*--port ${port}`));
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });
});
