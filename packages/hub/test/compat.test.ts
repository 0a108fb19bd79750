/**
 * The official @microsoft/signalr client (and its MessagePack protocol) against the hub, over
 * every transport and protocol it can use.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { Subject } from '@microsoft/signalr';
import { HubMethodError, type HubServer } from '../src/index.ts';
import { buildClient, deferred, matrix, startHub } from './helpers.ts';

let server: HubServer;
let base: string;

before(async () => {
  ({ server, url: base } = await startHub());
  const chat = server.hub('chat');
  chat.method('echo', (_ctx, value: unknown) => value);
  chat.method('add', async (_ctx, a: number, b: number) => a + b);
  chat.method('broadcast', (ctx, text: string) => ctx.clients.all.send('message', ctx.connectionId, text));
  chat.method('join', (ctx, group: string) => ctx.groups.add(ctx.connectionId, group));
  chat.method('leave', (ctx, group: string) => ctx.groups.remove(ctx.connectionId, group));
  chat.method('toGroup', (ctx, group: string, text: string) => ctx.clients.group(group).send('group', text));
  chat.method('fail', () => {
    throw new HubMethodError('nope');
  });
  chat.method('crash', () => {
    throw new Error('secret detail');
  });
  chat.method('askCaller', (ctx, question: string) => ctx.clients.caller.invoke('answer', question));
  chat.method('sum', async (_ctx, numbers: AsyncIterable<number>) => {
    let total = 0;
    for await (const n of numbers) total += n;
    return total;
  });
  chat.stream('counter', async function* (ctx, count: number) {
    for (let i = 0; i < count && !ctx.signal.aborted; i++) yield i;
  });
  chat.stream('forever', async function* (ctx) {
    let i = 0;
    while (!ctx.signal.aborted) {
      yield i++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
});

after(() => server.close());

for (const { transport, protocol } of matrix) {
  describe(`official client over ${transport} with ${protocol}`, () => {
    const connect = async () => {
      const client = buildClient(`${base}/hubs/chat`, { transport, protocol });
      await client.start();
      return client;
    };

    it('invokes methods with results, values surviving the protocol round trip', async () => {
      const client = await connect();
      try {
        assert.equal(await client.invoke('add', 2, 3), 5);
        const value = { text: 'héllo ✓', n: 1.5, list: [1, 'two', null], nested: { ok: true } };
        assert.deepEqual(await client.invoke('echo', value), value);
        assert.equal(await client.invoke('echo', null), null);
        assert.ok(client.connectionId);
      } finally {
        await client.stop();
      }
    });

    it('broadcasts to all and to groups, with membership granted by the server', async () => {
      const a = await connect();
      const b = await connect();
      try {
        const seen = deferred<[string, string]>();
        b.on('message', (from: string, text: string) => seen.resolve([from, text]));
        await a.invoke('broadcast', 'hi all');
        assert.deepEqual(await seen.promise, [a.connectionId, 'hi all']);

        const groupSeen: string[] = [];
        a.on('group', (text: string) => groupSeen.push(`a:${text}`));
        b.on('group', (text: string) => groupSeen.push(`b:${text}`));
        await b.invoke('join', 'order-1');
        await a.invoke('toGroup', 'order-1', 'first');
        await waitFor(() => groupSeen.length === 1);
        await b.invoke('leave', 'order-1');
        await a.invoke('join', 'order-1');
        await b.invoke('toGroup', 'order-1', 'second');
        await waitFor(() => groupSeen.length === 2);
        assert.deepEqual(groupSeen, ['b:first', 'a:second']);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it('reports hub method errors; unexpected ones without their detail', async () => {
      const client = await connect();
      try {
        await assert.rejects(client.invoke('fail'), /HubException: nope/);
        await assert.rejects(client.invoke('crash'), (err: Error) => !err.message.includes('secret'));
        await assert.rejects(client.invoke('missing'), /Unknown hub method 'missing'/);
        await assert.rejects(client.invoke('add', 1), /provides 1 argument\(s\) but target expects 2/);
        assert.equal(await client.invoke('add', 1, 1), 2, 'the connection stays usable');
      } finally {
        await client.stop();
      }
    });

    it('streams server to client, and cancels a stream', async () => {
      const client = await connect();
      try {
        const items: number[] = [];
        await new Promise<void>((resolve, reject) => {
          client
            .stream('counter', 5)
            .subscribe({ next: (i: number) => items.push(i), complete: resolve, error: reject });
        });
        assert.deepEqual(items, [0, 1, 2, 3, 4]);

        const received: number[] = [];
        const subscription = client
          .stream('forever')
          .subscribe({ next: (i: number) => received.push(i), complete() {}, error() {} });
        await waitFor(() => received.length >= 3);
        subscription.dispose();
        assert.equal(await client.invoke('add', 20, 22), 42);
      } finally {
        await client.stop();
      }
    });

    it('streams client to server', async () => {
      const client = await connect();
      try {
        const subject = new Subject<number>();
        const total = client.invoke('sum', subject);
        for (const n of [1, 2, 3, 4]) subject.next(n);
        subject.complete();
        assert.equal(await total, 10);
      } finally {
        await client.stop();
      }
    });

    it('answers server-to-client invocations (client results)', async () => {
      const client = await connect();
      try {
        client.on('answer', (q: string) => `answer to ${q}`);
        assert.equal(await client.invoke('askCaller', 'life'), 'answer to life');
      } finally {
        await client.stop();
      }
    });

    it('tells the hub when a client connects and disconnects', async () => {
      const chat = server.hub('chat');
      const events: string[] = [];
      const offConnected = chat.on('connected', (c) => events.push(`+${c.connectionId}`));
      const offDisconnected = chat.on('disconnected', (c) => events.push(`-${c.connectionId}`));
      try {
        const client = await connect();
        const id = client.connectionId;
        await client.stop();
        const mine = () => events.filter((e) => e.slice(1) === id);
        await waitFor(() => mine().length === 2);
        assert.deepEqual(mine(), [`+${id}`, `-${id}`]);
      } finally {
        offConnected();
        offDisconnected();
      }
    });
  });
}
