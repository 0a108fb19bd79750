import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { ServiceBusClient } from '@azure/service-bus';
import { createSasToken } from '@hubbub/bus';
import { waitFor } from '@hubbub/kernel';
import { type AmqpFrontError, createAmqpFront } from '../src/index.ts';
import { type Harness, KEY, startHarness } from './harness.ts';
import { AMQP_HEADER, frames, RawPeer } from './raw-peer.ts';

// Misbehaving clients on raw sockets (and a rhea client pushed past the rules): each is closed or
// detached with the AMQP error the spec names, reported on connectionError, and a well-behaved
// SDK client on the same front keeps working throughout.

const rhea = createRequire(import.meta.url)('rhea') as {
  create_container(o?: Record<string, unknown>): {
    connect(o: Record<string, unknown>): RheaClientConnection;
  };
};
interface RheaClientLink {
  credit: number;
  send(m: Record<string, unknown>): unknown;
  on(
    e: string,
    f: (c: { sender?: RheaClientLink; receiver?: RheaClientLink; message?: Record<string, unknown> }) => void,
  ): void;
  error?: { condition: string };
}
interface RheaClientConnection {
  open_sender(o: unknown): RheaClientLink;
  open_receiver(o: unknown): RheaClientLink;
  on(e: string, f: (c: { connection: RheaClientConnection }) => void): void;
  error?: { condition: string };
  close(): void;
}

describe('hostile clients', () => {
  let h: Harness;
  let bystander: ServiceBusClient;
  const reported: AmqpFrontError[] = [];
  before(async () => {
    h = await startHarness({
      entities: { queues: [{ name: 'orders' }, { name: 'bystander' }] },
      front: { maxFrameSize: 4096, maxMessageSize: 1024, maxTransferBytes: 2048, linkCredit: 10 },
    });
    h.front.on('connectionError', (e) => reported.push(e));
    bystander = new ServiceBusClient(h.connectionString);
    await bystander.createSender('bystander').sendMessages({ body: 'before' });
  });
  after(async () => {
    try {
      // Nothing the hostile clients did hurt the well-behaved one, connected all along.
      await bystander.createSender('bystander').sendMessages({ body: 'after' });
      const receiver = bystander.createReceiver('bystander', { receiveMode: 'receiveAndDelete' });
      const got: unknown[] = [];
      for (let i = 0; i < 5 && got.length < 2; i++) {
        for (const m of await receiver.receiveMessages(2, { maxWaitTimeInMs: 3000 })) got.push(m.body);
      }
      assert.deepEqual(got, ['before', 'after']);
    } finally {
      await bystander.close();
      await h.close();
    }
  });

  const reportedCode = (code: string) => waitFor(() => reported.some((e) => e.code === code), { what: code });

  it('offers SASL ANONYMOUS and MSSBCBS, and completes MSSBCBS', async () => {
    const peer = await RawPeer.connect(h.port);
    await peer.handshake('MSSBCBS');
    const mechanisms = await peer.waitFor('sasl_mechanisms');
    const offered = (mechanisms.fields.sasl_server_mechanisms as unknown[]).map(String);
    assert.ok(offered.includes('ANONYMOUS') && offered.includes('MSSBCBS'), String(offered));
    assert.equal(Number((await peer.waitFor('sasl_outcome')).fields.code), 0);
    const open = await peer.waitFor('open');
    assert.equal(Number(open.fields.max_frame_size), 4096);
    assert.ok(Number(open.fields.idle_time_out) > 0);
    peer.destroy();
  });

  it('closes a frame over max-frame-size with amqp:connection:framing-error', async () => {
    const peer = await RawPeer.connect(h.port);
    await peer.handshake();
    const header = Buffer.alloc(8);
    header.writeUInt32BE(10 * 1024 * 1024, 0);
    header.writeUInt8(2, 4);
    peer.write(header);
    await peer.waitFor('close');
    assert.equal(peer.condition('close'), 'amqp:connection:framing-error');
    await peer.waitClosed();
    await reportedCode('BUS_AMQP_FRAMING_ERROR');
  });

  it('closes a frame size under 8', async () => {
    const peer = await RawPeer.connect(h.port);
    await peer.handshake();
    peer.write(Buffer.from([0, 0, 0, 3, 2, 0, 0, 0]));
    await peer.waitFor('close');
    assert.equal(peer.condition('close'), 'amqp:connection:framing-error');
    await peer.waitClosed();
  });

  it('drops a peer that does not speak AMQP', async () => {
    const peer = await RawPeer.connect(h.port);
    peer.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await peer.waitClosed();
  });

  it('closes an unknown performative with amqp:decode-error', async () => {
    const peer = await RawPeer.connect(h.port);
    await peer.handshake();
    // A frame whose body is a described list with descriptor 0x30 (no such performative).
    const body = Buffer.from([0x00, 0x53, 0x30, 0x45]);
    const frame = Buffer.alloc(8 + body.length);
    frame.writeUInt32BE(frame.length, 0);
    frame.writeUInt8(2, 4);
    body.copy(frame, 8);
    peer.write(frame);
    await peer.waitFor('close');
    assert.equal(peer.condition('close'), 'amqp:decode-error');
    await peer.waitClosed();
    await reportedCode('BUS_AMQP_PROTOCOL_VIOLATION');
  });

  it('closes undecodable bytes inside a frame with amqp:decode-error', async () => {
    const peer = await RawPeer.connect(h.port);
    await peer.handshake();
    const frame = Buffer.alloc(24, 0xff);
    frame.writeUInt32BE(24, 0);
    frame.writeUInt8(2, 4);
    frame.writeUInt8(0, 5);
    frame.writeUInt16BE(0, 6);
    peer.write(frame);
    await peer.waitFor('close');
    assert.equal(peer.condition('close'), 'amqp:decode-error');
    await peer.waitClosed();
  });

  it('ends sessions past the per-connection bound with amqp:resource-limit-exceeded', async () => {
    const few = await startHarness({ front: { maxSessionsPerConnection: 2 } });
    const peer = await RawPeer.connect(few.port);
    await peer.handshake();
    for (let channel = 0; channel < 3; channel++) {
      peer.frame(frames.begin({ next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }), channel);
    }
    await peer.waitFor('end');
    assert.equal(peer.condition('end'), 'amqp:resource-limit-exceeded');
    peer.destroy();
    await few.close();
  });

  it('closes a connection that puts no token in time with amqp:unauthorized-access', async () => {
    const strict = await startHarness({ front: { authTimeoutMs: 200 } });
    const errors: string[] = [];
    strict.front.on('connectionError', (e) => errors.push(e.code));
    const peer = await RawPeer.connect(strict.port);
    await peer.handshake();
    await peer.waitFor('close');
    assert.equal(peer.condition('close'), 'amqp:unauthorized-access');
    assert.deepEqual(errors, ['BUS_AMQP_UNAUTHORIZED']);
    peer.destroy();
    await strict.close();
  });

  it('sends heartbeats and closes a silent peer after twice the idle time-out', async () => {
    const idle = await startHarness({ front: { idleTimeoutMs: 300, authTimeoutMs: 60_000 } });
    const errors: string[] = [];
    idle.front.on('connectionError', (e) => errors.push(e.code));
    const peer = await RawPeer.connect(idle.port);
    await peer.handshake('ANONYMOUS', { idle_time_out: 100 });
    await peer.waitFor('empty', 2000);
    await peer.waitFor('close', 3000);
    assert.equal(peer.condition('close'), 'amqp:resource-limit-exceeded');
    assert.deepEqual(errors, ['BUS_AMQP_IDLE_TIMEOUT']);
    peer.destroy();
    await idle.close();
  });

  async function tokenConnection(port = h.port): Promise<RheaClientConnection> {
    const container = rhea.create_container({ id: 'abuser' });
    const conn = container.connect({ host: '127.0.0.1', port, username: KEY.name, reconnect: false });
    conn.on('connection_error', () => {});
    conn.on('error' as never, () => {});
    const cbs = conn.open_sender('$cbs');
    const replies = conn.open_receiver({ source: { address: '$cbs' }, name: 'cbs-reply' });
    const status = new Promise<number>((resolve) => {
      replies.on('message', (c) =>
        resolve(Number((c.message?.application_properties as Record<string, unknown> | undefined)?.['status-code'])),
      );
    });
    cbs.on('sendable', () => {});
    await waitFor(() => cbs.credit > 0);
    cbs.send({
      message_id: '1',
      reply_to: 'cbs-reply',
      application_properties: {
        operation: 'put-token',
        name: `sb://127.0.0.1/orders`,
        type: 'servicebus.windows.net:sastoken',
      },
      body: createSasToken(`sb://127.0.0.1/orders`, KEY, Date.now() / 1000 + 600),
    });
    assert.equal(await status, 202);
    return conn;
  }

  it('answers malformed CBS and management requests with an error status, not a crash', async () => {
    const conn = await tokenConnection();
    const replies = new Map<string, Record<string, unknown>>();
    const cbsReply = conn.open_receiver({ source: { address: '$cbs' }, name: 'cbs-bad' });
    cbsReply.on('message', (c) =>
      replies.set(String(c.message?.correlation_id), c.message?.application_properties as never),
    );
    const cbs = conn.open_sender('$cbs');
    await waitFor(() => cbs.credit > 0);
    cbs.send({
      message_id: 'no-token',
      reply_to: 'cbs-bad',
      application_properties: { operation: 'put-token', name: 'sb://x/orders' },
      body: 42,
    });
    cbs.send({
      message_id: 'jwt',
      reply_to: 'cbs-bad',
      application_properties: { operation: 'put-token', name: 'sb://x/orders', type: 'jwt' },
      body: 'eyJ',
    });
    // A token for the management node itself is accepted too (the one for orders already covers it).
    const put = conn.open_sender('$cbs');
    await waitFor(() => put.credit > 0);
    put.send({
      message_id: 'm',
      reply_to: 'cbs-bad',
      application_properties: {
        operation: 'put-token',
        name: 'sb://127.0.0.1/orders/$management',
        type: 'servicebus.windows.net:sastoken',
      },
      body: createSasToken('sb://127.0.0.1/orders/$management', KEY, Date.now() / 1000 + 600),
    });
    await waitFor(() => replies.get('m'));
    const mgmtReply = conn.open_receiver({
      source: { address: 'orders/$management' },
      target: { address: 'mgmt-reply' },
      name: 'mgmt-reply',
    });
    mgmtReply.on('message', (c) =>
      replies.set(String(c.message?.correlation_id), c.message?.application_properties as never),
    );
    const mgmt = conn.open_sender({ target: { address: 'orders/$management' } });
    await waitFor(() => mgmt.credit > 0);
    mgmt.send({
      message_id: 'unknown-op',
      reply_to: 'mgmt-reply',
      application_properties: { operation: 'com.microsoft:explode' },
      body: {},
    });
    mgmt.send({
      message_id: 'not-a-map',
      reply_to: 'mgmt-reply',
      application_properties: { operation: 'com.microsoft:renew-lock' },
      body: 'x',
    });
    mgmt.send({
      message_id: 'bad-tokens',
      reply_to: 'mgmt-reply',
      application_properties: { operation: 'com.microsoft:renew-lock' },
      body: { 'lock-tokens': ['not-a-uuid'] },
    });
    await waitFor(() => replies.size >= 6, { what: 'six replies' });
    assert.equal(Number(replies.get('no-token')?.['status-code']), 400);
    assert.equal(Number(replies.get('jwt')?.['status-code']), 401);
    assert.equal(Number(replies.get('m')?.['status-code']), 202);
    assert.equal(Number(replies.get('unknown-op')?.statusCode), 501);
    assert.equal(String(replies.get('unknown-op')?.errorCondition), 'amqp:not-implemented');
    assert.equal(Number(replies.get('not-a-map')?.statusCode), 400);
    assert.equal(Number(replies.get('bad-tokens')?.statusCode), 400);
    conn.close();
  });

  it('detaches a link that transfers past its credit with amqp:link:transfer-limit-exceeded', async () => {
    const conn = await tokenConnection();
    const sender = conn.open_sender('orders');
    let detached: string | undefined;
    sender.on('sender_error', (c) => {
      detached = c.sender?.error?.condition;
    });
    sender.on('sender_close', () => {});
    await waitFor(() => sender.credit > 0);
    sender.credit = 1_000; // ignore the 10 credits the front granted
    for (let i = 0; i < 50; i++) sender.send({ body: `flood ${i}` });
    await waitFor(() => detached, { what: 'the detach' });
    assert.equal(detached, 'amqp:link:transfer-limit-exceeded');
    await reportedCode('BUS_AMQP_PROTOCOL_VIOLATION');
    conn.close();
  });

  it('detaches a link whose delivery is over maxTransferBytes with amqp:link:message-size-exceeded', async () => {
    const conn = await tokenConnection();
    const sender = conn.open_sender('orders');
    let detached: string | undefined;
    sender.on('sender_error', (c) => {
      detached = c.sender?.error?.condition;
    });
    sender.on('sender_close', () => {});
    await waitFor(() => sender.credit > 0);
    sender.send({ body: 'x'.repeat(10_000) });
    await waitFor(() => detached, { what: 'the detach' });
    assert.equal(detached, 'amqp:link:message-size-exceeded');
    conn.close();
  });

  it('delivers no more than the link credit, and answers a drain without delivering', async () => {
    await h.bus.broker.send(
      'orders',
      [1, 2, 3, 4, 5].map((n) => ({ body: `credit ${n}` })),
    );
    const conn = await tokenConnection();
    const receiver = conn.open_receiver({
      source: { address: 'orders' },
      credit_window: 0,
      autoaccept: false,
    }) as RheaClientLink & {
      add_credit(n: number): void;
      drain_credit(): void;
      drain: boolean;
    };
    const got: unknown[] = [];
    let drained = false;
    receiver.on('message', (c) => got.push(c.message?.body));
    receiver.on('receiver_drained' as never, () => {
      drained = true;
    });
    receiver.add_credit(2);
    await waitFor(() => got.length === 2);
    // Three messages wait, but the link has no credit left: nothing more arrives.
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 2);
    receiver.add_credit(1);
    receiver.drain = true;
    receiver.drain_credit();
    await waitFor(() => drained, { what: 'the drained flow' });
    assert.ok(got.length <= 3);
    conn.close();
  });

  it("holds sending links' credit back while bytes in flight are over half of maxInflightBytes", async () => {
    let release!: () => void;
    const latch = new Promise<void>((r) => {
      release = r;
    });
    const broker = h.bus.broker;
    const gated = new Proxy(broker, {
      get(target, prop) {
        if (prop === 'send') return async (...a: Parameters<typeof broker.send>) => latch.then(() => target.send(...a));
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const front = createAmqpFront({
      bus: { broker: gated },
      keys: [KEY],
      port: 0,
      maxInflightBytes: 10_000,
      linkCredit: 10,
    });
    await front.start();
    try {
      const conn = await tokenConnection(front.port!);
      const first = conn.open_sender('orders');
      const settled: string[] = [];
      first.on('accepted', () => settled.push('accepted'));
      await waitFor(() => first.credit === 10);
      for (let i = 0; i < 4; i++) first.send({ body: 'z'.repeat(1500) });
      await waitFor(() => first.credit === 6);
      // 6,000 bytes wait on the broker: a link attached now gets no credit.
      const second = conn.open_sender('orders');
      let opened = false;
      second.on('sender_open', () => {
        opened = true;
      });
      await waitFor(() => opened);
      assert.equal(second.credit, 0);
      release();
      await waitFor(() => settled.length === 4);
      await waitFor(() => first.credit === 10 && second.credit === 10, { what: 'both windows back' });
      conn.close();
    } finally {
      release();
      await front.close();
    }
  });

  it('closes a connection whose sends in flight pass maxInflightBytes with amqp:resource-limit-exceeded', async () => {
    // The real broker, with a latch on send: the sends stay in flight until the test lets them go.
    let release!: () => void;
    const latch = new Promise<void>((r) => {
      release = r;
    });
    const broker = h.bus.broker;
    const gated = new Proxy(broker, {
      get(target, prop) {
        if (prop === 'send') return async (...a: Parameters<typeof broker.send>) => latch.then(() => target.send(...a));
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const tight = createAmqpFront({ bus: { broker: gated }, keys: [KEY], port: 0, maxInflightBytes: 4096 });
    await tight.start();
    const errors: string[] = [];
    tight.on('connectionError', (e) => errors.push(e.code));
    try {
      const conn = await tokenConnection(tight.port!);
      let condition: string | undefined;
      conn.on('connection_error', (c) => {
        condition = c.connection.error?.condition;
      });
      conn.on('disconnected' as never, () => {});
      const sender = conn.open_sender('orders');
      sender.on('sender_error', () => {});
      await waitFor(() => sender.credit > 0);
      for (let i = 0; i < 4; i++) sender.send({ body: 'y'.repeat(1500) });
      await waitFor(() => condition, { what: 'the close' });
      assert.equal(condition, 'amqp:resource-limit-exceeded');
      assert.deepEqual(errors, ['BUS_AMQP_LIMIT_EXCEEDED']);
    } finally {
      release();
      await tight.close();
    }
  });

  it('closes a connection flooding attaches with amqp:resource-limit-exceeded', async () => {
    const container = rhea.create_container({ id: 'flooder' });
    const conn = container.connect({ host: '127.0.0.1', port: h.port, username: 'x', reconnect: false });
    let condition: string | undefined;
    conn.on('connection_error', (c) => {
      condition = c.connection.error?.condition;
    });
    conn.on('connection_close', () => {});
    conn.on('disconnected' as never, () => {});
    for (let i = 0; i < 150; i++) {
      const l = conn.open_receiver({ source: { address: '$cbs' }, name: `r${i}` });
      l.on('receiver_error', () => {});
      l.on('receiver_close', () => {});
    }
    await waitFor(() => condition, { what: 'the close' });
    assert.equal(condition, 'amqp:resource-limit-exceeded');
    await reportedCode('BUS_AMQP_LIMIT_EXCEEDED');
  });

  it('keeps the AMQP header check strict: AMQP before SASL is answered, not crashed on', async () => {
    const peer = await RawPeer.connect(h.port);
    peer.write(AMQP_HEADER);
    peer.frame(frames.open({ container_id: 'no-sasl' }));
    await peer.waitFor('open');
    peer.destroy();
  });
});
