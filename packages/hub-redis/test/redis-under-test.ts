/**
 * The machine's Redis for these tests, and what to do when it is not there: under CI fail loudly,
 * naming the command that starts it; elsewhere skip, saying why.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';

export const REDIS_URL = 'redis://127.0.0.1:6379';
const START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no';

function probe(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 6379, timeout: 2_000 });
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

/** Why the Redis tests are skipped, or undefined when Redis answers; throws under CI. */
export async function redisMissing(): Promise<string | undefined> {
  const problem = await probe();
  if (problem === undefined) return undefined;
  const what = `Redis is not reachable at 127.0.0.1:6379 (${problem})`;
  if (process.env.CI) throw new Error(`${what}; the hub-redis tests need it: start it with \`${START}\`.`);
  return `${what}; start it with \`${START}\` to run these tests`;
}

/** A key prefix no other run uses. */
export const freshPrefix = (): string => `hubbub-test:${randomUUID()}:`;

/** Deletes every key under `prefix`. */
export async function deleteKeys(prefix: string): Promise<void> {
  const { createClient } = await import('redis');
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  } finally {
    client.destroy();
  }
}
