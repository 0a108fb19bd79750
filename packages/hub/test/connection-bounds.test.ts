/**
 * A connection's outbound bounds on a fake transport and a manual clock: stateful connections are
 * paced by their socket and bounded by their replay buffer, every connection may stay over its
 * bound only for the grace period (never past twice the bound), and a slow consumer is told why.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonProtocol } from '@hubbub/hub-protocol';
import { ManualClock } from '@hubbub/kernel';
import { type ConnectionOwner, ConnectionState, HubConnection } from '../src/connection.ts';
import { OutboundFrame, type Transport, TransportKind } from '../src/transport.ts';

const limits = {
  maxMessageBytes: 32_768,
  maxBufferedBytes: 1_000,
  statefulBufferBytes: 4_000,
  slowConsumerGraceMs: 5_000,
};

/** A WebSocket-like transport whose socket holds what was sent until the test drains it. */
class FakeTransport implements Transport {
  readonly kind = TransportKind.WebSockets;
  readonly sent: string[] = [];
  buffered = 0;
  closed = false;
  send(frame: OutboundFrame): void {
    this.sent.push(Buffer.from(frame.payload).toString());
    this.buffered += frame.byteLength;
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  discard(): void {
    this.buffered = 0;
  }
  close(): void {
    this.closed = true;
  }
  /** Messages sent so far, parsed, pings and acks left out. */
  messages(): Array<Record<string, unknown>> {
    return this.sent
      .flatMap((text) => text.split('\x1e'))
      .filter((part) => part !== '' && part !== '{}')
      .map((part) => JSON.parse(part) as Record<string, unknown>);
  }
}

function setup(options: { stateful: boolean } = { stateful: true }) {
  const clock = new ManualClock();
  const errors: Array<string | undefined> = [];
  const owner: ConnectionOwner = {
    name: 'chat',
    tick: 0,
    limits,
    now: () => clock.now(),
    connected() {},
    message() {},
    closed: (_connection, error) => errors.push((error as { code?: string } | undefined)?.code),
  };
  const connection = new HubConnection(owner, {
    connectionId: 'c',
    connectionToken: 't',
    principal: { userId: undefined, claims: {} },
    stateful: options.stateful,
  });
  const transport = new FakeTransport();
  connection.attach(transport);
  connection.receive(Buffer.from(`{"protocol":"json","version":${options.stateful ? 2 : 1}}\x1e`), false);
  transport.sent.length = 0;
  assert.equal(connection.isStateful, options.stateful);
  return { clock, errors, connection, transport };
}

/** An Invocation of `n` whose frame is about `bytes` long. */
function tick(n: number, bytes = 300): OutboundFrame {
  const padding = 'x'.repeat(Math.max(0, bytes - 60));
  return new OutboundFrame(jsonProtocol.writeMessage({ type: 1, target: 'tick', arguments: [n, padding] }), false);
}

const ticks = (transport: FakeTransport) =>
  transport
    .messages()
    .filter((m) => m.type === 1)
    .map((m) => (m.arguments as number[])[0]);

const ack = (sequenceId: number) => Buffer.from(`{"type":8,"sequenceId":${sequenceId}}\x1e`);

describe('stateful connections are paced by their socket', () => {
  it('writes while the socket holds less than maxBufferedBytes and the rest as it drains, in order', () => {
    const { connection, transport, errors } = setup();
    for (let i = 1; i <= 10; i++) connection.sendFrame(tick(i), true);
    assert.deepEqual(ticks(transport), [1, 2, 3, 4], 'stops once 1,000 bytes are in the socket');
    transport.buffered = 0;
    connection.transportDrained(transport);
    assert.deepEqual(ticks(transport), [1, 2, 3, 4, 5, 6, 7, 8]);
    transport.buffered = 0;
    connection.transportDrained(transport);
    assert.deepEqual(ticks(transport), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(connection.state, ConnectionState.Connected);
    assert.deepEqual(errors, []);
  });

  it('replays after a reconnect from the first unacknowledged message, paced the same way', () => {
    const { connection, transport } = setup();
    for (let i = 1; i <= 3; i++) connection.sendFrame(tick(i), true);
    connection.receive(ack(2), false);
    connection.transportClosed(transport, false);
    assert.equal(connection.state, ConnectionState.Disconnected);
    for (let i = 4; i <= 9; i++) connection.sendFrame(tick(i), true);
    const next = new FakeTransport();
    connection.attach(next);
    assert.deepEqual(next.messages()[0], { type: 9, sequenceId: 3 });
    assert.deepEqual(ticks(next), [3, 4, 5, 6]);
    next.buffered = 0;
    connection.transportDrained(next);
    assert.deepEqual(ticks(next), [3, 4, 5, 6, 7, 8, 9]);
  });

  it('writes everything that waits before a Close', () => {
    const { connection, transport } = setup();
    for (let i = 1; i <= 6; i++) connection.sendFrame(tick(i), true);
    connection.close('bye');
    assert.deepEqual(ticks(transport), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(transport.messages().at(-1), { type: 7, error: 'bye' });
  });
});

describe('slow consumers', () => {
  it('tolerates a replay buffer over its bound for the grace period, and forgets it once acked', () => {
    const { clock, connection, transport, errors } = setup();
    for (let i = 1; i <= 20; i++) connection.sendFrame(tick(i), true); // 6,000 bytes: over 4,000, under 8,000
    clock.advance(4_000);
    connection.sendFrame(tick(21), true);
    assert.equal(connection.state, ConnectionState.Connected);
    connection.receive(ack(15), false);
    clock.advance(10_000);
    for (let i = 22; i <= 25; i++) connection.sendFrame(tick(i), true);
    assert.equal(connection.state, ConnectionState.Connected);
    assert.deepEqual(errors, []);
    void transport;
  });

  it('closes a stateful client over its bound for longer than the grace period, with a Close saying why', () => {
    const { clock, connection, transport, errors } = setup();
    for (let i = 1; i <= 20; i++) connection.sendFrame(tick(i), true);
    clock.advance(5_001);
    connection.sendFrame(tick(21), true);
    assert.equal(connection.state, ConnectionState.Closed);
    assert.deepEqual(errors, ['HUB_SLOW_CONSUMER']);
    const close = transport.messages().at(-1)!;
    assert.equal(close.type, 7);
    assert.match(String(close.error), /not reading fast enough/);
    assert.equal(close.allowReconnect, true);
    assert.equal(transport.closed, true);
  });

  it('closes at once past twice the bound, so memory stays bounded', () => {
    const { connection, errors } = setup();
    let sent = 0;
    let largest = 0;
    for (let i = 1; i <= 100 && connection.state !== ConnectionState.Closed; i++) {
      const frame = tick(i);
      connection.sendFrame(frame, true);
      sent += frame.byteLength;
      largest = Math.max(largest, frame.byteLength);
    }
    assert.deepEqual(errors, ['HUB_SLOW_CONSUMER']);
    assert.ok(sent <= 2 * limits.statefulBufferBytes + largest, `closed after ${sent} bytes`);
  });

  it('closes a stateful client that stays away over its bound, and keeps the Close it missed', () => {
    const { clock, connection, transport, errors } = setup();
    connection.transportClosed(transport, false);
    for (let i = 1; i <= 20; i++) connection.sendFrame(tick(i), true);
    clock.advance(6_000);
    connection.sendFrame(tick(21), true);
    assert.deepEqual(errors, ['HUB_SLOW_CONSUMER']);
    assert.match(String(connection.missedClose?.error), /not reading fast enough/);
  });

  it('applies the same rule to a plain connection, on what its transport holds', () => {
    const { clock, connection, transport, errors } = setup({ stateful: false });
    for (let i = 1; i <= 5; i++) connection.sendFrame(tick(i), true); // 1,500 bytes: over 1,000
    clock.advance(3_000);
    connection.sendFrame(tick(6), true);
    assert.equal(connection.state, ConnectionState.Connected);
    transport.buffered = 0; // the client caught up
    connection.sendFrame(tick(7), true);
    clock.advance(10_000);
    for (let i = 8; i <= 10; i++) connection.sendFrame(tick(i), true);
    assert.equal(connection.state, ConnectionState.Connected);
    clock.advance(5_001);
    connection.sendFrame(tick(11), true);
    assert.deepEqual(errors, ['HUB_SLOW_CONSUMER']);
    assert.equal(transport.messages().at(-1)?.type, 7);
  });
});

describe('the grace period', () => {
  it('starts afresh for a client that caught up in between', () => {
    const { clock, connection, transport, errors } = setup({ stateful: false });
    for (let i = 1; i <= 5; i++) connection.sendFrame(tick(i), true); // over the bound
    transport.buffered = 0;
    connection.transportDrained(transport); // the socket took it all
    clock.advance(60_000);
    for (let i = 6; i <= 10; i++) connection.sendFrame(tick(i), true); // over again, a minute later
    assert.equal(connection.state, ConnectionState.Connected);
    assert.deepEqual(errors, []);
  });
});

describe('a connection that ends while its stateful transport is down', () => {
  it('keeps the Close its client missed: the window expired, reconnecting is allowed', () => {
    const { connection, transport } = setup();
    connection.transportClosed(transport, false);
    connection.close();
    assert.deepEqual(connection.missedClose, {
      error: 'The connection no longer exists (its reconnect window expired); negotiate again.',
      allowReconnect: true,
    });
  });
});
