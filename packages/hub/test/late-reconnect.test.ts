/**
 * A stateful client that comes back too late learns why it cannot resume: the official client
 * shows the reason instead of "WebSocket closed with status code: 1006".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, waitFor } from '@hubbub/kernel';
import { ConnectionState } from '../src/index.ts';
import { authGate, buildClient, type ProtocolName, startHub } from './helpers.ts';
import { negotiate, RawClient } from './raw.ts';

const timing = { keepAliveIntervalMs: 1_000, clientTimeoutMs: 3_000, handshakeTimeoutMs: 2_000, tickMs: 100 };
const expired = /The connection no longer exists \(its reconnect window expired\); negotiate again\./;

/** Advances the manual clock a tick at a time (with real I/O between) until `done` holds. */
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

describe('a stateful client whose reconnect window expired', () => {
  for (const protocol of ['json', 'messagepack'] satisfies ProtocolName[]) {
    it(`is told why with a Close message, and the official client shows it (${protocol})`, async () => {
      const clock = new ManualClock();
      const gate = authGate('customer-42');
      const { server, url } = await startHub({
        ...timing,
        clock,
        auth: gate.auth,
        statefulReconnect: { windowMs: 1_000 },
      });
      const hub = server.hub('tracking');
      try {
        const client = buildClient(`${url}/hubs/tracking`, { stateful: true, protocol, accessToken: 'token' });
        const closed = new Promise<Error | undefined>((resolve) => client.onclose(resolve));
        await client.start();
        const connection = hub.connection(client.connectionId!)!;
        assert.equal(connection.isStateful, true);

        gate.close(); // the reconnect will wait on its token check…
        const waitingBefore = gate.waiting;
        (connection.transport as unknown as { terminate(): void }).terminate();
        await waitFor(() => gate.waiting > waitingBefore, { what: 'the reconnect attempt' });
        // …until the window has run out and the connection is gone.
        await advanceUntil(clock, () => connection.state === ConnectionState.Closed, 'the window to expire');
        gate.open();
        const error = await closed;
        assert.match(String(error?.message), /Server returned an error on close/);
        assert.match(String(error?.message), expired);
      } finally {
        await server.close();
      }
    });
  }

  it('lets a client with automatic reconnect renegotiate, telling it why', async () => {
    const clock = new ManualClock();
    const gate = authGate('customer-42');
    const { server, url } = await startHub({
      ...timing,
      clock,
      auth: gate.auth,
      statefulReconnect: { windowMs: 1_000 },
    });
    const hub = server.hub('tracking');
    hub.method('ping', () => 'pong');
    try {
      const client = buildClient(`${url}/hubs/tracking`, { stateful: true, reconnect: true, accessToken: 'token' });
      const reconnecting = new Promise<Error | undefined>((resolve) => client.onreconnecting(resolve));
      const reconnected = new Promise<string | undefined>((resolve) => client.onreconnected(resolve));
      await client.start();
      const firstId = client.connectionId!;
      const connection = hub.connection(firstId)!;
      gate.close();
      const waitingBefore = gate.waiting;
      (connection.transport as unknown as { terminate(): void }).terminate();
      await waitFor(() => gate.waiting > waitingBefore, { what: 'the reconnect attempt' });
      await advanceUntil(clock, () => connection.state === ConnectionState.Closed, 'the window to expire');
      gate.open();
      assert.match(String((await reconnecting)?.message), expired);
      const secondId = await reconnected;
      assert.ok(secondId !== undefined && secondId !== firstId);
      assert.equal(await client.invoke('ping'), 'pong');
      await client.stop();
    } finally {
      await server.close();
    }
  });

  it('answers a handshake on the expired id with the reason, once; later attempts get 404', async () => {
    const clock = new ManualClock();
    const { server, url } = await startHub({ ...timing, clock, statefulReconnect: { windowMs: 1_000 } });
    const hub = server.hub('tracking');
    try {
      const { body } = await negotiate(url, 'tracking', 'negotiateVersion=1&useStatefulReconnect=true');
      const endpoint = `${url.replace('http', 'ws')}/hubs/tracking?id=${body.connectionToken}`;
      const raw = await RawClient.connect(endpoint);
      raw.send('{"protocol":"json","version":2}\x1e');
      await raw.next();
      const connection = hub.connection(String(body.connectionId))!;
      raw.ws.terminate();
      await waitFor(() => connection.state === ConnectionState.Disconnected);
      await advanceUntil(clock, () => connection.state === ConnectionState.Closed, 'the window to expire');

      const late = await RawClient.connect(endpoint);
      late.send('{"protocol":"json","version":2}\x1e');
      const reply = JSON.parse((await late.next()).data.toString().slice(0, -1)) as { error: string };
      assert.match(reply.error, expired);
      assert.equal((await late.waitClosed()).code, 1000);
      await assert.rejects(RawClient.connect(endpoint), { status: 404 });
    } finally {
      await server.close();
    }
  });
});
