import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { corkOutput, poolFrames } from './output.ts';
import { type RheaConnection, rhea } from './rhea.ts';

interface Writes {
  single: number;
  vectored: number[];
  /** Chunks written and the distinct memory they live in. */
  chunks: number;
  memory: Set<ArrayBufferLike>;
}

/** A real rhea server connection on a real socket, corked and pooled, with the socket's writes counted. */
async function pair(): Promise<{
  server: RheaConnection;
  socket: Socket;
  client: RheaConnection;
  writes: Writes;
  done(): void;
}> {
  const writes: Writes = { single: 0, vectored: [], chunks: 0, memory: new Set() };
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<{ server: RheaConnection; socket: Socket }>((resolve) => {
    listener.once('connection', (socket: Socket) => {
      const s = socket as unknown as {
        _write(c: Buffer, e: string, cb: () => void): void;
        _writev(chunks: { chunk: Buffer }[], cb: () => void): void;
      };
      const write = s._write.bind(socket);
      const writev = s._writev.bind(socket);
      s._write = (c, e, cb) => {
        writes.single++;
        writes.chunks++;
        writes.memory.add(c.buffer);
        write(c, e, cb);
      };
      s._writev = (chunks, cb) => {
        writes.vectored.push(chunks.length);
        writes.chunks += chunks.length;
        for (const c of chunks) writes.memory.add(c.chunk.buffer);
        writev(chunks, cb);
      };
      const server = rhea.create_container().create_connection({ require_sasl: false, reconnect: false });
      corkOutput(server, socket);
      server.accept(socket);
      poolFrames(server);
      resolve({ server, socket });
    });
  });
  const container = rhea.create_container() as unknown as { connect(o: Record<string, unknown>): RheaConnection };
  const client = container.connect({
    host: '127.0.0.1',
    port: (listener.address() as AddressInfo).port,
    reconnect: false,
  });
  client.on('connection_error', () => {});
  client.on('disconnected', () => {});
  const { server, socket } = await accepted;
  await once(client as unknown as NodeJS.EventEmitter, 'connection_open');
  return {
    server,
    socket,
    client,
    writes,
    done() {
      socket.destroy();
      listener.close();
    },
  };
}

describe('corkOutput', () => {
  it('sends the frames rhea makes in one turn in one vectored write', async () => {
    const { server, client, writes, done } = await pair();
    try {
      writes.single = 0;
      writes.vectored = [];
      const opened = new Promise<void>((resolve) => {
        let n = 0;
        client.on('session_open', () => {
          if (++n === 3) resolve();
        });
      });
      const s = server as unknown as { create_session(): { begin(): void } };
      for (let i = 0; i < 3; i++) s.create_session().begin();
      await opened;
      // Uncorked, the first begin goes out alone (`_write`) and the other two after it.
      assert.equal(writes.single, 0);
      assert.deepEqual(writes.vectored, [3]);
    } finally {
      done();
    }
  });

  it('writes a close made just before the socket is ended', async () => {
    const { server, socket, client, done } = await pair();
    try {
      const closed = once(client as unknown as NodeJS.EventEmitter, 'connection_close');
      client.on('connection_close', () => {});
      server.close({ condition: 'amqp:resource-limit-exceeded', description: 'bye' });
      server._process();
      socket.end();
      const [context] = (await closed) as [{ connection: { error?: { condition?: string } } }];
      assert.equal(context.connection.error?.condition, 'amqp:resource-limit-exceeded');
    } finally {
      done();
    }
  });
});

describe('poolFrames', () => {
  it('delivers every frame intact across pool refills and frames larger than a pool', async () => {
    const { server, client, writes, done } = await pair();
    try {
      // Bodies from empty to 200 KiB: many small frames share a pool, a 100 KiB one needs a new
      // pool, and the 200 KiB one is split by rhea into frames of the negotiated size.
      const sizes = [0, 1, 100, 1000, 5000, 40_000, 100_000, 200_000];
      for (let i = 0; i < 500; i++) sizes.push(i * 37);
      const received: Buffer[] = [];
      const all = new Promise<void>((resolve) => {
        const c = client as unknown as {
          open_receiver(o: unknown): { on(e: string, f: (ctx: { message: { body: Buffer } }) => void): void };
        };
        c.open_receiver({ source: { address: 'q' }, credit_window: 50 }).on('message', (ctx) => {
          received.push(ctx.message.body);
          if (received.length === sizes.length) resolve();
        });
      });
      const link = await new Promise<{ send(m: unknown): void; sendable(): boolean }>((resolve) => {
        server.on('sender_open', (ctx) =>
          resolve(ctx.sender as unknown as { send(m: unknown): void; sendable(): boolean }),
        );
      });
      let next = 0;
      const pump = (): void => {
        while (next < sizes.length && link.sendable()) {
          const n = sizes[next]!;
          link.send({ body: Buffer.alloc(n, next % 251) });
          next++;
        }
        if (next < sizes.length) setTimeout(pump, 1);
      };
      pump();
      await all;
      assert.deepEqual(
        received.map((b) => b.length),
        sizes,
      );
      received.forEach((b, i) => {
        assert.ok(
          b.every((x) => x === i % 251),
          `body ${i} intact`,
        );
      });
      // Frames share their memory (5 MB of bodies fill ~80 pools): rhea alone allocates one buffer per frame.
      assert.ok(writes.chunks > sizes.length, `${writes.chunks} chunks`);
      assert.ok(writes.memory.size < writes.chunks / 4, `${writes.memory.size} buffers for ${writes.chunks} chunks`);
    } finally {
      done();
    }
  });
});
