/**
 * Outbound bounds end to end: a stateful client that comes back after an outage gets the replay
 * and the live traffic behind it without being cut for the socket bound, and a client that does
 * not read is closed with a Close message saying why.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { HubConnectionState } from '@microsoft/signalr';
import { ConnectionState, type HubConnection } from '../src/index.ts';
import { authGate, buildClient, startHub } from './helpers.ts';
import { RawClient } from './raw.ts';

describe('stateful reconnect past the socket bound', () => {
  for (const protocol of ['json', 'messagepack'] as const) {
    it(`replays over 1 MiB sent during an outage, then live messages, in order, without closing (${protocol})`, async () => {
      const gate = authGate('courier-7');
      const { server, url } = await startHub({
        auth: gate.auth,
        maxBufferedBytes: 1_048_576,
        statefulReconnect: { bufferBytes: 4 * 1_048_576 },
      });
      const hub = server.hub('tracking');
      const closed: Array<string | undefined> = [];
      hub.on('disconnected', (_c, error) => closed.push((error as { code?: string } | undefined)?.code));
      try {
        const client = buildClient(`${url}/hubs/tracking`, { stateful: true, protocol, accessToken: 'token' });
        const received: number[] = [];
        client.on('position', (n: number) => {
          received.push(n);
        });
        await client.start();
        const connection = hub.connection(client.connectionId!)!;
        assert.equal(connection.isStateful, true);
        const payload = 'p'.repeat(16 * 1024);
        await hub.clients.all.send('position', 0, payload);
        await waitFor(() => received.length === 1);

        // The outage: the socket drops and the client's reconnect waits on its token check.
        gate.close();
        const waitingBefore = gate.waiting;
        (connection.transport as unknown as { terminate(): void }).terminate();
        await waitFor(() => connection.state === ConnectionState.Disconnected, { what: 'the drop' });
        await waitFor(() => gate.waiting > waitingBefore, { what: 'the reconnect attempt' });
        const outage = 160; // 160 × 16 KiB = 2.5 MiB: over maxBufferedBytes, within the replay buffer
        for (let i = 1; i <= outage; i++) await hub.clients.all.send('position', i, payload);

        // Live messages follow the replay at once, while it still fills the socket.
        const live = 20;
        followAttach(connection, () => {
          for (let i = outage + 1; i <= outage + live; i++) void hub.clients.all.send('position', i, payload);
        });
        gate.open();
        await waitFor(() => received.length === outage + live + 1 || closed.length > 0, {
          what: 'the replay and the live messages',
        });
        assert.deepEqual(closed, [], 'the connection stays open');
        assert.deepEqual(
          received,
          Array.from({ length: outage + live + 1 }, (_, i) => i),
        );
        assert.equal(client.state, HubConnectionState.Connected);
        assert.equal(client.connectionId, connection.connectionId, 'resumed, not renegotiated');
        await client.stop();
      } finally {
        await server.close();
      }
    });
  }
});

/** Runs `then` right after the connection's next attach (the reconnect), in the same turn. */
function followAttach(connection: HubConnection, then: () => void): void {
  const attach = connection.attach.bind(connection);
  connection.attach = (transport) => {
    attach(transport);
    connection.attach = attach;
    then();
  };
}

describe('slow consumers are told why', () => {
  it('sends a Close naming the reason before closing a client that stopped reading', async () => {
    const { server, url } = await startHub({ maxBufferedBytes: 128 * 1024, slowConsumerGraceMs: 60_000 });
    const hub = server.hub('chat');
    const reasons: Array<string | undefined> = [];
    hub.on('disconnected', (_c, error) => reasons.push((error as { code?: string } | undefined)?.code));
    try {
      const slow = await RawClient.json(url, 'chat');
      const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      slow.ws.pause();
      socket.pause();
      const payload = 'x'.repeat(32 * 1024);
      for (let i = 0; i < 2_000 && reasons.length === 0; i++) {
        await hub.clients.all.send('big', payload);
        await new Promise((resolve) => setImmediate(resolve)); // let the socket take what it can
      }
      await waitFor(() => reasons.includes('HUB_SLOW_CONSUMER'), { what: 'the slow consumer to be closed' });
      // The client catches up: after what was already on its way comes the Close, then the end.
      slow.ws.resume();
      socket.resume();
      await slow.waitClosed();
      const last = slow.frames.at(-1)!.data.toString();
      const close = JSON.parse(last.slice(0, -1)) as { type: number; error: string; allowReconnect?: boolean };
      assert.equal(close.type, 7);
      assert.match(close.error, /not reading fast enough/);
      assert.equal(close.allowReconnect, true);
    } finally {
      await server.close();
    }
  });
});
