/**
 * The write delay (`writeDelayMs`): a connection's messages within the delay go out as one
 * WebSocket data frame, which the official client reads in order with JSON and MessagePack; the
 * bytes held back per connection are bounded, and a client that does not read is still closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionError, waitFor } from '@hubbub/kernel';
import { createHubServer } from '../src/index.ts';
import { buildClient, startHub } from './helpers.ts';
import { RawClient } from './raw.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** The hub messages (pings left out) in each frame the raw client received. */
function recordsPerFrame(client: RawClient): Array<Array<Record<string, unknown>>> {
  return client.frames.map((frame) =>
    frame.data
      .toString()
      .split('\x1e')
      .filter((s) => s !== '')
      .map((s) => JSON.parse(s) as Record<string, unknown>)
      .filter((m) => m.type !== 6),
  );
}

describe('write delay', () => {
  for (const protocol of ['json', 'messagepack'] as const) {
    it(`the official client receives every message in order (${protocol}, 5 ms)`, async () => {
      const { server, url } = await startHub({ writeDelayMs: 5 });
      try {
        const hub = server.hub('tracking');
        const client = buildClient(`${url}/hubs/tracking`, { protocol });
        const received: number[] = [];
        client.on('position', (n: number, text: string) => {
          assert.equal(text, `p${n}`);
          received.push(n);
        });
        await client.start();
        const total = 600;
        for (let n = 0; n < total; n++) {
          void hub.clients.all.send('position', n, `p${n}`);
          // Bursts within one turn, turns within one delay, and pauses longer than the delay.
          if (n % 7 === 6) await nextTurn();
          if (n % 97 === 96) await new Promise((resolve) => setTimeout(resolve, 8));
        }
        await waitFor(() => received.length === total, { what: `${total} messages` });
        assert.deepEqual(
          received,
          Array.from({ length: total }, (_, i) => i),
        );
        await client.stop();
      } finally {
        await server.close();
      }
    });
  }

  it('messages sent in separate turns within the delay arrive in one frame; without it, one frame each', async () => {
    for (const writeDelayMs of [500, 0]) {
      const { server, url } = await startHub({ writeDelayMs });
      try {
        const hub = server.hub('chat');
        const raw = await RawClient.json(url, 'chat');
        for (let i = 0; i < 5; i++) {
          await hub.clients.all.send('m', i);
          await nextTurn();
        }
        await waitFor(() => recordsPerFrame(raw).flat().length === 5, { what: 'five messages' });
        const frames = recordsPerFrame(raw).filter((records) => records.length > 0);
        const args = frames.flat().map((m) => (m.arguments as number[])[0]);
        assert.deepEqual(args, [0, 1, 2, 3, 4]);
        assert.equal(frames.length, writeDelayMs > 0 ? 1 : 5, `frames with writeDelayMs ${writeDelayMs}`);
        raw.ws.close();
      } finally {
        await server.close();
      }
    }
  });

  it('a connection holding writeDelayMaxBytes writes at the end of the turn, not after the delay', async () => {
    const { server, url } = await startHub({ writeDelayMs: 1_000, writeDelayMaxBytes: 1_000 });
    try {
      const hub = server.hub('chat');
      const raw = await RawClient.json(url, 'chat');
      const payload = 'x'.repeat(600);
      const started = Date.now();
      for (let i = 0; i < 4; i++) {
        await hub.clients.all.send('m', i, payload);
        await nextTurn();
      }
      await waitFor(() => recordsPerFrame(raw).flat().length === 4, { what: 'four messages' });
      assert.ok(Date.now() - started < 1_000, 'written before the delay ran out');
      const sizes = recordsPerFrame(raw)
        .filter((records) => records.length > 0)
        .map((records) => records.length);
      assert.deepEqual(sizes, [2, 2], 'two messages of 600 bytes reach the bound of 1,000');
      raw.ws.close();
    } finally {
      await server.close();
    }
  });

  it('a client that stopped reading is still closed as a slow consumer', async () => {
    const { server, url } = await startHub({
      writeDelayMs: 5,
      maxBufferedBytes: 128 * 1024,
      slowConsumerGraceMs: 60_000,
    });
    const hub = server.hub('chat');
    const reasons: Array<string | undefined> = [];
    hub.on('disconnected', (_c, error) => reasons.push((error as { code?: string } | undefined)?.code));
    try {
      const slow = await RawClient.json(url, 'chat');
      const socket = (slow.ws as unknown as { _socket: { pause(): void } })._socket;
      slow.ws.pause();
      socket.pause();
      const payload = 'x'.repeat(32 * 1024);
      for (let i = 0; i < 2_000 && reasons.length === 0; i++) {
        await hub.clients.all.send('big', payload);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await waitFor(() => reasons.includes('HUB_SLOW_CONSUMER'), { what: 'the slow consumer to be closed' });
      slow.ws.terminate();
    } finally {
      await server.close();
    }
  });

  it('rejects a delay below 0 or above 1 s, and a non-integer byte bound', () => {
    assert.throws(() => createHubServer({ writeDelayMs: -1 }), InvalidOptionError);
    assert.throws(() => createHubServer({ writeDelayMs: 5_000 }), InvalidOptionError);
    assert.throws(() => createHubServer({ writeDelayMs: Number.NaN }), InvalidOptionError);
    assert.throws(() => createHubServer({ writeDelayMs: 5, writeDelayMaxBytes: 0.5 }), InvalidOptionError);
  });
});
