/** The machine's Redis for the cluster tests: skip without it, saying why; fail under CI. */
import { connect } from 'node:net';

const START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no';

export async function redisMissing(): Promise<string | undefined> {
  const problem = await new Promise<string | undefined>((resolve) => {
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
  if (problem === undefined) return undefined;
  const what = `Redis is not reachable at 127.0.0.1:6379 (${problem})`;
  if (process.env.CI) throw new Error(`${what}; the cluster tests need it: start it with \`${START}\`.`);
  return `${what}; start it with \`${START}\` to run these tests`;
}

/** Deletes every key under `prefix` (what a test's cluster left: grants, killed nodes' records). */
export async function deleteKeys(prefix: string): Promise<void> {
  const { createClient } = await import('redis');
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
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
