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

  it('a node started again with the same id drops what its former process left', async () => {
    const first = createRedisBackplane({ url: REDIS_URL, prefix, nodeId: 'fixed-id', heartbeatMs: 1_000 });
    await first.start();
    first.presence.record({ kind: 'connected', hub: 'h', connectionId: 'old', userId: 'u-old' });
    const observer = await node(1_000);
    await waitFor(() => observer.presence.exists('h', { kind: 'connection', id: 'old' }), { intervalMs: 20 });
    // Killed without leaving: its client just goes (the records stay in Redis).
    const { createClient } = await import('redis');
    const admin = createClient({ url: REDIS_URL });
    admin.on('error', () => {});
    await admin.connect();
    try {
      const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
      for (const line of list.split('\n').filter((l) => l.includes('name=hubbub-hub-fixed-id'))) {
        await admin.sendCommand(['CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!]);
      }
    } finally {
      admin.destroy();
    }
    const again = createRedisBackplane({ url: REDIS_URL, prefix, nodeId: 'fixed-id', heartbeatMs: 1_000 });
    await again.start();
    open.push(again);
    assert.equal(await observer.presence.exists('h', { kind: 'connection', id: 'old' }), false);
    assert.equal(await observer.presence.exists('h', { kind: 'user', id: 'u-old' }), false);
    // The first process's clients reconnect in the background; it is closed without leaving records.
    await first.close().catch(() => undefined);
  });
});
