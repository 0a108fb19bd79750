/**
 * Time-driven behaviour on a manual clock (keep-alive, timeouts, long-poll expiry), stateful
 * reconnect across a dropped WebSocket, automatic reconnect, and slow consumers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { HubConnectionState } from '@microsoft/signalr';
import { ConnectionState, type HubConnection } from '../src/index.ts';
import { buildClient, startHub } from './helpers.ts';
import { negotiate, RawClient } from './raw.ts';

const timing = { keepAliveIntervalMs: 1_000, clientTimeoutMs: 3_000, handshakeTimeoutMs: 2_000, tickMs: 100 };

/** Advances the manual clock one tick at a time, letting I/O run between ticks. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += timing.tickMs) {
    clock.advance(timing.tickMs);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Advances the clock a tick at a time (with real I/O between) until `done` holds. */
async function advanceUntil(clock: ManualClock, done: () => boolean, what: string): Promise<void> {
  await waitFor(
    () => {
      if (done()) return true;
      clock.advance(timing.tickMs);
      return false;
    },
    { what, intervalMs: 2 },
  );
}

/** Tracks a promise's settlement so a test can wait for it while driving the clock. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { promise, settled: () => settled };
}

describe('keep-alive and timeouts', () => {
  it('pings an idle connection and drops one that stays silent past the client timeout', async () => {
    const clock = new ManualClock();
    const { server, url } = await startHub({ ...timing, clock });
    const hub = server.hub('chat');
    const errors: Array<string | undefined> = [];
    hub.on('disconnected', (_c, error) => errors.push((error as { code?: string } | undefined)?.code));
    try {
      const client = await RawClient.json(url, 'chat');
      await advance(clock, 1_100);
      await waitFor(() => client.frames.some((f) => f.data.toString() === '{"type":6}\x1e'), { what: 'a ping' });
      await advance(clock, 2_000);
      await client.waitClosed();
      const close = client.frames.map((f) => f.data.toString()).find((t) => t.startsWith('{"type":7'));
      assert.match(String(close), /ClientTimeoutInterval/);
      assert.deepEqual(errors, ['HUB_CLIENT_TIMEOUT']);
    } finally {
      await server.close();
    }
  });

  it('keeps a connection that pings', async () => {
    const clock = new ManualClock();
    const { server, url } = await startHub({ ...timing, clock });
    server.hub('chat');
    try {
      const client = await RawClient.json(url, 'chat');
      for (let i = 0; i < 10; i++) {
        client.send('{"type":6}\x1e');
        await advance(clock, 1_000);
      }
      assert.equal(client.closed, undefined);
      assert.equal(server.hub('chat').connectionCount, 1);
      client.ws.close();
    } finally {
      await server.close();
    }
  });

  it('closes a transport that never completes its handshake, and forgets a negotiation never used', async () => {
    const clock = new ManualClock();
    const { server, url } = await startHub({ ...timing, negotiateTimeoutMs: 2_000, clock });
    server.hub('chat');
    try {
      await negotiate(url, 'chat');
      const { body } = await negotiate(url, 'chat');
      const client = await RawClient.connect(`${url.replace('http', 'ws')}/hubs/chat?id=${body.connectionToken}`);
      assert.equal(server.connectionCount, 2);
      await advance(clock, 2_200);
      await client.waitClosed();
      await waitFor(() => server.connectionCount === 0);
    } finally {
      await server.close();
    }
  });

  it('ends an idle long poll with an empty 200 and closes a connection that stops polling', async () => {
    const clock = new ManualClock();
    const { server, url } = await startHub({ ...timing, longPollTimeoutMs: 1_000, longPollDisconnectMs: 2_000, clock });
    const hub = server.hub('chat');
    try {
      const { body } = await negotiate(url, 'chat');
      const endpoint = `${url}/hubs/chat?id=${body.connectionToken}`;
      const first = await fetch(endpoint);
      assert.equal(first.status, 200);
      assert.equal((await first.arrayBuffer()).byteLength, 0);
      await fetch(endpoint, {
        method: 'POST',
        body: '{"protocol":"json","version":1}\x1e',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(await (await fetch(endpoint)).text(), '{}\x1e');
      const idle = track(fetch(endpoint));
      await advanceUntil(clock, idle.settled, 'the idle poll to end');
      const idleResponse = await idle.promise;
      assert.equal(idleResponse.status, 200);
      assert.equal(await idleResponse.text(), '');
      // a newer poll supersedes an older one with 204
      const transport = hub.connection(String(body.connectionId))!.transport as unknown as { isPolling: boolean };
      const older = track(fetch(endpoint));
      await waitFor(() => transport.isPolling, { what: 'the older poll to park' });
      const newer = track(fetch(endpoint));
      assert.equal((await older.promise).status, 204);
      await advanceUntil(clock, newer.settled, 'the newer poll to end');
      assert.equal((await newer.promise).status, 200);
      await advanceUntil(clock, () => hub.connectionCount === 0, 'the abandoned long-poll connection to close');
    } finally {
      await server.close();
    }
  });

  it('stops a long-polling connection on DELETE with 202, its pending poll ending with 204', async () => {
    const { server, url } = await startHub();
    server.hub('chat');
    try {
      const { body } = await negotiate(url, 'chat');
      const endpoint = `${url}/hubs/chat?id=${body.connectionToken}`;
      await fetch(endpoint);
      await fetch(endpoint, {
        method: 'POST',
        body: '{"protocol":"json","version":1}\x1e',
        headers: { 'content-type': 'text/plain' },
      });
      await fetch(endpoint);
      const pending = fetch(endpoint);
      const transport = server.hub('chat').connection(String(body.connectionId))!.transport as unknown as {
        isPolling: boolean;
      };
      await waitFor(() => transport.isPolling, { what: 'the poll to park' });
      assert.equal((await fetch(endpoint, { method: 'DELETE' })).status, 202);
      assert.equal((await pending).status, 204);
      assert.equal((await fetch(endpoint)).status, 404);
    } finally {
      await server.close();
    }
  });
});

describe('reconnect', () => {
  const dropSocket = (connection: HubConnection) =>
    (connection.transport as unknown as { terminate(): void } | undefined)?.terminate();

  for (const protocol of ['json', 'messagepack'] as const) {
    it(`stateful reconnect (${protocol}) replays what was sent while the WebSocket was down, once, in order`, async () => {
      const { server, url } = await startHub();
      const hub = server.hub('chat');
      hub.method('ping', () => 'pong');
      try {
        const client = buildClient(`${url}/hubs/chat`, { stateful: true, protocol });
        const received: number[] = [];
        client.on('tick', (n: number) => {
          received.push(n);
        });
        await client.start();
        const connection = hub.connection(client.connectionId!)!;
        assert.equal(connection.isStateful, true);
        for (let i = 1; i <= 5; i++) await hub.clients.all.send('tick', i);
        await waitFor(() => received.length === 5);
        // Drop the socket and keep sending before the server notices: these frames are lost in
        // flight and must come back from the replay buffer.
        dropSocket(connection);
        for (let i = 6; i <= 10; i++) void hub.clients.all.send('tick', i);
        await waitFor(() => received.length >= 10, { what: 'replayed messages' });
        assert.deepEqual(received, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.equal(client.connectionId, connection.connectionId, 'same connection, no renegotiation');
        assert.equal(client.state, HubConnectionState.Connected);
        assert.equal(await client.invoke('ping'), 'pong');
        await client.stop();
      } finally {
        await server.close();
      }
    });
  }

  it('closes a stateful connection whose client does not come back within the window', async () => {
    const clock = new ManualClock();
    const { server, url } = await startHub({ ...timing, clock, statefulReconnect: { windowMs: 1_000 } });
    const hub = server.hub('chat');
    try {
      const { body } = await negotiate(url, 'chat', 'negotiateVersion=1&useStatefulReconnect=true');
      const raw = await RawClient.connect(`${url.replace('http', 'ws')}/hubs/chat?id=${body.connectionToken}`);
      raw.send('{"protocol":"json","version":2}\x1e');
      await raw.next();
      const connection = hub.connection(String(body.connectionId))!;
      assert.equal(connection.isStateful, true);
      raw.ws.terminate();
      await waitFor(() => connection.state === ConnectionState.Disconnected);
      await advance(clock, 1_200);
      assert.equal(connection.state, ConnectionState.Closed);
    } finally {
      await server.close();
    }
  });

  it('automatic reconnect renegotiates after the server closes with allowReconnect', async () => {
    const { server, url } = await startHub();
    const hub = server.hub('chat');
    hub.method('ping', () => 'pong');
    try {
      const client = buildClient(`${url}/hubs/chat`, { reconnect: true });
      await client.start();
      const firstId = client.connectionId!;
      const reconnected = new Promise<string | undefined>((resolve) => client.onreconnected(resolve));
      await hub.close({ kind: 'connections', ids: [firstId] }, { reason: 'maintenance', allowReconnect: true });
      const secondId = await reconnected;
      assert.ok(secondId !== undefined && secondId !== firstId);
      assert.equal(await client.invoke('ping'), 'pong');
      await client.stop();
    } finally {
      await server.close();
    }
  });

  it('a close without allowReconnect stops the client with the reason', async () => {
    const { server, url } = await startHub();
    const hub = server.hub('chat');
    try {
      const client = buildClient(`${url}/hubs/chat`, { reconnect: true });
      const closed = new Promise<Error | undefined>((resolve) => client.onclose(resolve));
      await client.start();
      await hub.close({ kind: 'connections', ids: [client.connectionId!] }, { reason: 'go away' });
      assert.match(String((await closed)?.message), /go away/);
    } finally {
      await server.close();
    }
  });
});

describe('slow consumers', () => {
  it('closes a connection whose outbound buffer stays over its bound, without touching the others', async () => {
    const { server, url } = await startHub({ maxBufferedBytes: 128 * 1024 });
    const hub = server.hub('chat');
    const reasons: Array<string | undefined> = [];
    hub.on('disconnected', (_c, error) => reasons.push((error as { code?: string } | undefined)?.code));
    try {
      const slow = await RawClient.json(url, 'chat');
      const healthy = await RawClient.json(url, 'chat');
      slow.ws.pause();
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      // Loopback kernel buffers absorb a few MB before the server's own buffer grows.
      const payload = 'x'.repeat(32 * 1024);
      for (let i = 0; i < 2_000 && reasons.length === 0; i++) {
        await hub.clients.all.send('big', payload);
        await waitFor(() => healthy.frames.length > 0, { what: 'the healthy client to read' });
        healthy.frames.length = 0;
      }
      await waitFor(() => reasons.includes('HUB_SLOW_CONSUMER'), { what: 'the slow consumer to be closed' });
      assert.equal(hub.connectionCount, 1);
      assert.equal(healthy.closed, undefined);
      healthy.ws.close();
      slow.ws.terminate();
    } finally {
      await server.close();
    }
  });
});
