/**
 * The machine's Redis for the integration tests: where it is, a key prefix of its own per run, and
 * what to do when it is not there — fail loudly under CI, naming the command that starts it;
 * elsewhere skip, saying why.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { CacheEngineSuiteOptions } from '@hubbub/cache/engine';

export const REDIS_URL = 'redis://127.0.0.1:6379';
const start = (port: number) =>
  `redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no`;

export interface RedisUnderTest {
  readonly url: string;
  /** Every key this run writes starts with it. */
  readonly prefix: string;
  /** Why the tests are skipped; absent when Redis answered. */
  readonly unavailable?: string;
  /** Deletes every key under `prefix`. */
  cleanup(): Promise<void>;
  /** The conformance suite's prefix / unavailable / cleanup. */
  readonly suite: Pick<CacheEngineSuiteOptions, 'prefix' | 'unavailable' | 'cleanup'>;
}

function probe(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.end();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('connection timed out');
    });
    socket.once('error', (err) => resolve(err.message));
  });
}

/** The Redis on 127.0.0.1:`port` (6379), or why there is none. */
export async function redisUnderTest(port = 6379): Promise<RedisUnderTest> {
  const url = `redis://127.0.0.1:${port}`;
  const prefix = `hubbub-test:${randomUUID()}:`;
  const problem = await probe(port);
  if (problem !== undefined) {
    const what = `Redis is not reachable at 127.0.0.1:${port} (${problem})`;
    if (process.env.CI)
      throw new Error(`${what}; the cache's integration tests need it: start it with \`${start(port)}\`.`);
    const unavailable = `${what}; start it with \`${start(port)}\` to run these tests`;
    const cleanup = async () => {};
    return { url, prefix, unavailable, cleanup, suite: { prefix, unavailable, cleanup } };
  }
  const cleanup = () => deleteKeys(url, prefix);
  return { url, prefix, cleanup, suite: { prefix, cleanup } };
}

/** A plain client for checks and set-up behind the cache's back. */
export async function rawClient(url = REDIS_URL) {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = await rawClient(url);
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  } finally {
    client.destroy();
  }
}
