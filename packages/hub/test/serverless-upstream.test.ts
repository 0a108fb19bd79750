/**
 * Upstream webhooks: connection events and client invocations POSTed with the X-ASRS-* headers,
 * signatures verified on the receiving side with plain node:crypto, replies forwarded, and an
 * upstream that fails, is down or is slow.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isHubbubError, ManualClock, waitFor } from '@hubbub/kernel';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import {
  createSignalRService,
  type SignalRService,
  type UpstreamRule,
  upstreamSignature,
  verifyUpstreamSignature,
} from '../src/index.ts';
import { deferred } from './helpers.ts';

const keys = ['upstream-key-one-0123456789abcdefghijklmnop', 'upstream-key-two-0123456789abcdefghijklmnop'];

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  signatureValid: boolean;
}

/** An upstream receiver that checks X-ASRS-Signature itself: any entry made with any key. */
class Receiver {
  readonly requests: Received[] = [];
  respond: (request: Received, response: ServerResponse) => void = (_r, res) => res.writeHead(200).end();
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const connectionId = String(request.headers['x-asrs-connection-id']);
        const expected = keys.map((k) => createHmac('sha256', k).update(connectionId).digest('hex'));
        const given = String(request.headers['x-asrs-signature'] ?? '')
          .split(',')
          .map((s) =>
            s
              .trim()
              .replace(/^sha256=/, '')
              .toLowerCase(),
          );
        const received: Received = {
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks),
          signatureValid: expected.every((e) => given.includes(e)),
        };
        this.requests.push(received);
        this.respond(received, response);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  of(category: string, event: string): Received[] {
    return this.requests.filter(
      (r) => r.headers['x-asrs-category'] === category && r.headers['x-asrs-event'] === event,
    );
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

function completion(invocationId: string, result: unknown): string {
  return `${JSON.stringify({ type: 3, invocationId, result })}\u001e`;
}

async function connect(service: SignalRService, userId: string | undefined, protocol: 'json' | 'messagepack' = 'json') {
  const access = await service.clientAccess('chat', {
    ...(userId === undefined ? {} : { userId }),
    claims: { role: 'courier' },
  });
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(`${access.url}&tenant=t1`, { accessTokenFactory: () => access.accessToken })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === 'messagepack') builder.withHubProtocol(new MessagePackHubProtocol());
  const client = builder.build();
  await client.start();
  return client;
}

describe('upstream with a live receiver', () => {
  const receiver = new Receiver();
  let service: SignalRService;

  before(async () => {
    await receiver.start();
    const rules: UpstreamRule[] = [
      { urlTemplate: `${receiver.url}/none/{event}`, hubPattern: 'other' },
      {
        urlTemplate: `${receiver.url}/hooks/{hub}/{category}/{event}`,
        eventPattern: 'connected,disconnected,echo,void,fail,garbage,fire',
      },
    ];
    service = createSignalRService({ keys, upstream: rules, upstreamOptions: { retries: 0 } });
    await service.listen();
  });
  after(async () => {
    await service.close();
    await receiver.stop();
  });

  it('posts connected and disconnected with the X-ASRS headers and a valid signature', async () => {
    const client = await connect(service, 'alice');
    const id = client.connectionId!;
    const connected = await waitFor(() =>
      receiver.of('connections', 'connected').find((r) => r.headers['x-asrs-connection-id'] === id),
    );
    assert.equal(connected.path, '/hooks/chat/connections/connected');
    assert.equal(connected.signatureValid, true);
    assert.equal(connected.headers['x-asrs-hub'], 'chat');
    assert.equal(connected.headers['x-asrs-user-id'], 'alice');
    assert.equal(connected.headers['x-asrs-user-claims'], 'role: courier');
    // The connect query, without the connection token or access token.
    assert.equal(connected.headers['x-asrs-client-query'], '?hub=chat&tenant=t1');
    assert.match(String(connected.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(connected.body.toString()), { type: 10 });
    await client.stop();
    const disconnected = await waitFor(() =>
      receiver.of('connections', 'disconnected').find((r) => r.headers['x-asrs-connection-id'] === id),
    );
    assert.equal(disconnected.signatureValid, true);
    assert.equal(JSON.parse(disconnected.body.toString()).type, 11);
  });

  it('omits X-ASRS-User-Id for anonymous users', async () => {
    const client = await connect(service, undefined);
    const id = client.connectionId!;
    const connected = await waitFor(() =>
      receiver.of('connections', 'connected').find((r) => r.headers['x-asrs-connection-id'] === id),
    );
    assert.equal(connected.headers['x-asrs-user-id'], undefined);
    await client.stop();
  });

  it('forwards a JSON invocation unframed and returns the framed reply to the caller', async () => {
    receiver.respond = (r, res) => {
      if (r.headers['x-asrs-category'] !== 'messages') return res.writeHead(200).end();
      const message = JSON.parse(r.body.toString());
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(completion(message.invocationId, `echo:${message.arguments[0]}`));
    };
    const client = await connect(service, 'bob');
    try {
      assert.equal(await client.invoke('echo', 'hi'), 'echo:hi');
      const request = receiver.of('messages', 'echo').at(-1)!;
      assert.equal(request.signatureValid, true);
      assert.equal(request.path, '/hooks/chat/messages/echo');
      assert.equal(request.body.at(-1) === 0x1e, false);
      const body = JSON.parse(request.body.toString());
      assert.equal(body.type, 1);
      assert.equal(body.target, 'echo');
      assert.deepEqual(body.arguments, ['hi']);
    } finally {
      await client.stop();
    }
  });

  it('forwards a MessagePack invocation as unframed MessagePack', async () => {
    receiver.respond = (r, res) => {
      if (r.headers['x-asrs-category'] !== 'messages') return res.writeHead(200).end();
      // [1, {}, id, target, args]: read the id (a fixstr) and answer [3, {}, id, 3, "ok"], VarInt-framed.
      const idLength = r.body[3]! & 0x1f;
      const id = r.body.subarray(4, 4 + idLength);
      const payload = Buffer.concat([
        Buffer.from([0x95, 0x03, 0x80, 0xa0 | idLength]),
        id,
        Buffer.from([0x03, 0xa2, 0x6f, 0x6b]),
      ]);
      res.writeHead(200, { 'Content-Type': 'application/x-msgpack' });
      res.end(Buffer.concat([Buffer.from([payload.length]), payload]));
    };
    const client = await connect(service, 'carol', 'messagepack');
    try {
      assert.equal(await client.invoke('echo', 'x'), 'ok');
      const request = receiver.of('messages', 'echo').at(-1)!;
      assert.equal(request.headers['content-type'], 'application/x-msgpack');
      assert.equal(request.body[0], 0x95);
      assert.equal(request.body[1], 0x01);
    } finally {
      await client.stop();
    }
  });

  it('completes with no result on 204 or an empty 200, and fires non-blocking sends', async () => {
    receiver.respond = (r, res) => res.writeHead(r.headers['x-asrs-event'] === 'void' ? 204 : 200).end();
    const client = await connect(service, 'dave');
    try {
      assert.equal(await client.invoke('void'), undefined);
      assert.equal(await client.invoke('echo', 1), undefined);
      await client.send('fire', 42);
      const fired = await waitFor(() => receiver.of('messages', 'fire').at(-1));
      assert.equal(JSON.parse(fired.body.toString()).invocationId, undefined);
    } finally {
      await client.stop();
    }
  });

  it('gives the caller a Completion error for an error status, an invalid reply or no matching rule', async () => {
    receiver.respond = (r, res) => {
      if (r.headers['x-asrs-event'] === 'garbage') res.writeHead(200).end('not a hub message');
      else res.writeHead(500).end();
    };
    const client = await connect(service, 'erin');
    try {
      await assert.rejects(client.invoke('fail'), /Invocation failed, status code 500/);
      await assert.rejects(client.invoke('garbage'), /not a hub message/);
      await assert.rejects(client.invoke('unrouted'), /no upstream handles 'unrouted'/);
      // The connection survives all of these.
      receiver.respond = (r, res) =>
        res.end(
          r.headers['x-asrs-category'] === 'messages'
            ? completion(JSON.parse(r.body.toString()).invocationId, 'still here')
            : '',
        );
      assert.equal(await client.invoke('echo'), 'still here');
    } finally {
      await client.stop();
    }
  });

  it('closes a connection whose connected event the upstream rejects with a 4xx', async () => {
    receiver.respond = (r, res) => res.writeHead(r.headers['x-asrs-event'] === 'connected' ? 403 : 200).end();
    const errors: string[] = [];
    const off = service.on('upstream-error', (error, event) => errors.push(`${error.code}:${event.event}`));
    try {
      const client = await connect(service, 'mallory');
      const closed = deferred<Error | undefined>();
      client.onclose((err) => closed.resolve(err));
      assert.match(String((await closed.promise)?.message), /rejected the connection/);
      assert.ok(errors.includes('HUB_UPSTREAM_FAILED:connected'));
    } finally {
      off();
      receiver.respond = (_r, res) => res.writeHead(200).end();
    }
  });
});

describe('upstream that is down or slow (manual clock)', () => {
  const clock = new ManualClock(Date.now());
  const receiver = new Receiver();
  let service: SignalRService;
  let downUrl: string;

  before(async () => {
    await receiver.start();
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    downUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    service = createSignalRService({
      keys,
      clock,
      upstream: [
        { urlTemplate: `${downUrl}/{event}`, categoryPattern: 'messages', eventPattern: 'down' },
        { urlTemplate: `${receiver.url}/{category}/{event}` },
      ],
      upstreamOptions: { timeoutMs: 1_000, retries: 2, backoff: { initialMs: 100, maxMs: 100, random: () => 1 } },
    });
    await service.listen();
  });
  after(async () => {
    await service.close();
    await receiver.stop();
  });

  it('answers an invocation with an error when the upstream is unreachable', async () => {
    const client = await connect(service, 'u1');
    try {
      await assert.rejects(client.invoke('down'), /could not be reached/);
    } finally {
      await client.stop();
    }
  });

  it('answers an invocation with an error when the upstream does not answer in time', async () => {
    const held: ServerResponse[] = [];
    receiver.respond = (r, res) => {
      if (r.headers['x-asrs-event'] === 'slow') held.push(res);
      else res.writeHead(200).end();
    };
    const client = await connect(service, 'u2');
    try {
      const result = client.invoke('slow');
      await waitFor(() => held.length === 1, { what: 'the slow request to arrive' });
      clock.advance(999);
      clock.advance(1);
      await assert.rejects(result, /did not answer within 1000 ms/);
    } finally {
      for (const res of held) res.end();
      await client.stop();
    }
  });

  it('retries a failing connection event a bounded number of times, then reports it', async () => {
    receiver.respond = (r, res) => res.writeHead(r.headers['x-asrs-event'] === 'connected' ? 503 : 200).end();
    const reported = deferred<string>();
    const off = service.on('upstream-error', (error, event) => {
      if (event.event === 'connected') reported.resolve(error.code);
    });
    try {
      const client = await connect(service, 'u3');
      const id = client.connectionId!;
      const attempts = () =>
        receiver.of('connections', 'connected').filter((r) => r.headers['x-asrs-connection-id'] === id).length;
      await waitFor(() => {
        clock.advance(100);
        return attempts() === 3;
      });
      assert.equal(await reported.promise, 'HUB_UPSTREAM_FAILED');
      clock.advance(10_000);
      assert.equal(attempts(), 3);
      // A 503 is not a rejection: the client stays connected.
      assert.equal(client.state, signalR.HubConnectionState.Connected);
      await client.stop();
    } finally {
      off();
    }
  });
});

describe('upstream signatures', () => {
  it('signs the connection id once per key, and verifies any entry case-insensitively', () => {
    const header = upstreamSignature('conn-1', keys);
    const entries = header.split(',');
    assert.equal(entries.length, 2);
    assert.equal(entries[0], `sha256=${createHmac('sha256', keys[0]!).update('conn-1').digest('hex').toUpperCase()}`);
    assert.equal(verifyUpstreamSignature(header, 'conn-1', [keys[1]!]), true);
    assert.equal(verifyUpstreamSignature(header.toLowerCase(), 'conn-1', keys), true);
    assert.equal(verifyUpstreamSignature(header, 'conn-2', keys), false);
    assert.equal(verifyUpstreamSignature(header, 'conn-1', ['another-key']), false);
    assert.equal(verifyUpstreamSignature('sha256=zz,md5=00', 'conn-1', keys), false);
  });
});

describe('upstream options', () => {
  it('rejects templates that are not http(s) URLs and empty patterns', () => {
    for (const upstream of [
      [{ urlTemplate: 'ftp://x/{event}' }],
      [{ urlTemplate: 'nope' }],
      [{ urlTemplate: 'http://x', hubPattern: ' ' }],
    ]) {
      assert.throws(
        () => createSignalRService({ keys, upstream }),
        (err: unknown) => isHubbubError(err, 'KERNEL_INVALID_OPTION'),
      );
    }
    assert.throws(
      () => createSignalRService({ keys, upstream: [], upstreamOptions: { retries: -1 } }),
      (err: unknown) => isHubbubError(err, 'KERNEL_INVALID_OPTION'),
    );
    assert.throws(
      () => createSignalRService({}),
      (err: unknown) => isHubbubError(err, 'KERNEL_INVALID_OPTION'),
    );
  });
});
