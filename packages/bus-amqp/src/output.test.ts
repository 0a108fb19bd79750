import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { corkOutput } from './output.ts';
import { type RheaConnection, rhea } from './rhea.ts';

interface Writes {
  single: number;
  vectored: number[];
}

/** A real rhea server connection on a real socket, corked, with the socket's writes counted. */
async function pair(): Promise<{
  server: RheaConnection;
  socket: Socket;
  client: RheaConnection;
  writes: Writes;
  done(): void;
}> {
  const writes: Writes = { single: 0, vectored: [] };
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<{ server: RheaConnection; socket: Socket }>((resolve) => {
    listener.once('connection', (socket: Socket) => {
      const s = socket as unknown as {
        _write(c: Buffer, e: string, cb: () => void): void;
        _writev(chunks: unknown[], cb: () => void): void;
      };
      const write = s._write.bind(socket);
      const writev = s._writev.bind(socket);
      s._write = (c, e, cb) => {
        writes.single++;
        write(c, e, cb);
      };
      s._writev = (chunks, cb) => {
        writes.vectored.push(chunks.length);
        writev(chunks, cb);
      };
      const server = rhea.create_container().create_connection({ require_sasl: false, reconnect: false });
      corkOutput(server, socket);
      server.accept(socket);
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
