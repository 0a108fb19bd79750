/**
 * Presence when a node is taken for dead while it still lives (a long pause, a partition longer
 * than nodeTtlMs): another node removes its records, and the node, finding that out at its next
 * heartbeat, writes its connections and groups again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { createRedisBackplane, type RedisBackplane } from '../src/index.ts';
import { deleteKeys, freshPrefix, REDIS_URL, redisMissing } from './redis-under-test.ts';

const missing = await redisMissing();

describe('Redis presence', { skip: missing }, () => {
  const prefix = freshPrefix();
  const open: RedisBackplane[] = [];
  const node = async (heartbeatMs: number) => {
    const backplane = createRedisBackplane({ url: REDIS_URL, prefix, heartbeatMs, nodeTtlMs: heartbeatMs * 4 });
    await backplane.start();
    open.push(backplane);
    return backplane;
  };

  after(async () => {
    await Promise.all(open.map((b) => b.close()));
    await deleteKeys(prefix);
  });

  it('a node taken for dead writes its records again at its next heartbeat', async () => {
    // a beats seldom (it is the one "paused"), b often (it notices first).
    const [a, b] = [await node(1_000), await node(50)];
    const removed: string[] = [];
    b.on('node-removed', (id) => removed.push(id));
    a.presence.record({ kind: 'connected', hub: 'h', connectionId: 'c1', userId: 'u1' });
    a.presence.record({ kind: 'joined', hub: 'h', connectionId: 'c1', group: 'g1' });
    await waitFor(() => b.presence.exists('h', { kind: 'group', name: 'g1' }), { intervalMs: 20 });

    // As if a's heartbeat had run out: b removes a and its connection.
    const { createClient } = await import('redis');
    const admin = createClient({ url: REDIS_URL });
    admin.on('error', () => {});
    await admin.connect();
    try {
      await admin.zAdd(`${prefix}nodes`, { score: 1, value: a.nodeId });
    } finally {
      admin.destroy();
    }
    await waitFor(() => removed.includes(a.nodeId), { intervalMs: 10 });

    // a's next heartbeat finds itself gone and writes c1, its user and its group again.
    await waitFor(
      async () =>
        (await b.presence.exists('h', { kind: 'connection', id: 'c1' })) &&
        (await b.presence.exists('h', { kind: 'user-in-group', userId: 'u1', group: 'g1' })),
      { intervalMs: 20 },
    );
    const load = Number(
      (await (async () => {
        const client = createClient({ url: REDIS_URL });
        client.on('error', () => {});
        await client.connect();
        try {
          return await client.hGet(`${prefix}node:${a.nodeId}`, 'connections');
        } finally {
          client.destroy();
        }
      })()) ?? 0,
    );
    assert.equal(load, 1, 'its load counts the connection once');
  });
});
