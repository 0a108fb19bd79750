/**
 * The conformance suite every {@link Backplane} runs: the in-process one here, Redis and NATS
 * ones in their packages, each from a five-line test file.
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { Backplane, BackplaneMessage, ClusterPresence } from './backplane.ts';

export interface BackplaneSuiteOptions {
  name: string;
  /**
   * A started backplane for one node of `cluster`: calls with the same `cluster` share one bus
   * (e.g. one Redis key prefix); each test names a fresh one.
   */
  create(cluster: string): Backplane | Promise<Backplane>;
  /** Cases this implementation cannot pass, each with its reason. */
  skip?: ReadonlyArray<{ test: string; reason: string }>;
}

const send = (n: number, hub = 'h'): BackplaneMessage => ({
  kind: 'send',
  hub,
  audience: { kind: 'all' },
  target: 't',
  arguments: [n],
});

export function describeBackplane(options: BackplaneSuiteOptions): void {
  const open: Backplane[] = [];
  let cluster = '';
  let clusters = 0;
  const node = async () => {
    const backplane = await options.create(cluster);
    open.push(backplane);
    return backplane;
  };
  const test = (name: string, fn: (t: TestContext) => Promise<void>) => {
    const skipped = options.skip?.find((s) => s.test === name);
    it(name, skipped === undefined ? {} : { skip: skipped.reason }, (t) => {
      cluster = `c${++clusters}-${process.pid}-${Date.now().toString(36)}`;
      return fn(t);
    });
  };
  /** Presence cases: run only where the backplane keeps cluster presence. */
  const presenceTest = (
    name: string,
    fn: (a: ClusterPresence, b: ClusterPresence, bNode: Backplane) => Promise<void>,
  ) =>
    test(name, async (t) => {
      const [a, b] = [await node(), await node()];
      if (a.presence === undefined || b.presence === undefined) {
        t.skip('a single-node backplane keeps no cluster presence (the hub answers for its node)');
        return;
      }
      await fn(a.presence, b.presence, b);
    });

  describe(`Backplane conformance: ${options.name}`, () => {
    after(async () => {
      await Promise.all(open.map((b) => b.close()));
    });

    test('delivers a published message to the publishing node itself', async () => {
      const a = await node();
      const seen: BackplaneMessage[] = [];
      a.subscribe((m) => seen.push(m));
      await a.publish(send(1));
      await waitFor(() => seen.length === 1);
      assert.deepEqual(seen[0], send(1));
    });

    test('delivers to every node, in publish order from one node', async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      const atB: number[] = [];
      const atC: number[] = [];
      const numbers = (m: BackplaneMessage) => (m.kind === 'send' ? (m.arguments[0] as number) : -1);
      b.subscribe((m) => atB.push(numbers(m)));
      c.subscribe((m) => atC.push(numbers(m)));
      for (let i = 0; i < 100; i++) await a.publish(send(i));
      await waitFor(() => atB.length === 100 && atC.length === 100);
      const expected = Array.from({ length: 100 }, (_, i) => i);
      assert.deepEqual(atB, expected);
      assert.deepEqual(atC, expected);
    });

    test('carries every message kind intact', async () => {
      const a = await node();
      const seen: BackplaneMessage[] = [];
      a.subscribe((m) => seen.push(m));
      const messages: BackplaneMessage[] = [
        {
          kind: 'send',
          hub: 'h',
          audience: { kind: 'groups', names: ['g1', 'g2'] },
          exclude: { connectionIds: ['c1'], userIds: ['u1'] },
          target: 'notify',
          arguments: [{ nested: [1, 'two', null, true] }],
        },
        { kind: 'group', hub: 'h', action: 'add', group: 'g', userId: 'u' },
        { kind: 'close', hub: 'h', audience: { kind: 'users', ids: ['u'] }, reason: 'bye', allowReconnect: true },
      ];
      for (const m of messages) await a.publish(m);
      await waitFor(() => seen.length === messages.length);
      assert.deepEqual(seen, messages);
    });

    test('stops delivering to a handler once it unsubscribes', async () => {
      const a = await node();
      const seen: number[] = [];
      const off = a.subscribe(() => seen.push(1));
      const all: number[] = [];
      a.subscribe(() => all.push(1));
      await a.publish(send(1));
      await waitFor(() => seen.length === 1 && all.length === 1);
      off();
      await a.publish(send(2));
      await waitFor(() => all.length === 2);
      assert.equal(seen.length, 1);
    });

    test('a message past the bus reaches every node intact, bytes included', async () => {
      const [a, b] = [await node(), await node()];
      const seen: BackplaneMessage[] = [];
      b.subscribe((m) => seen.push(m));
      const bytes = new Uint8Array([0, 1, 254, 255]);
      await a.publish({ kind: 'send', hub: 'h', audience: { kind: 'all' }, target: 'bin', arguments: [bytes, 'x'] });
      await waitFor(() => seen.length === 1);
      const got = seen[0]!;
      assert.equal(got.kind, 'send');
      if (got.kind !== 'send') return;
      assert.deepEqual([...(got.arguments[0] as Uint8Array)], [0, 1, 254, 255]);
      assert.equal(got.arguments[1], 'x');
    });

    presenceTest(
      'presence: a connection, its user and groups recorded on one node exist for every node',
      async (a, b) => {
        a.record({ kind: 'connected', hub: 'h', connectionId: 'c1', userId: 'u1' });
        a.record({ kind: 'joined', hub: 'h', connectionId: 'c1', group: 'g1' });
        await waitFor(async () => await b.exists('h', { kind: 'group', name: 'g1' }));
        assert.equal(await b.exists('h', { kind: 'connection', id: 'c1' }), true);
        assert.equal(await b.exists('h', { kind: 'user', id: 'u1' }), true);
        assert.equal(await b.exists('h', { kind: 'user-in-group', userId: 'u1', group: 'g1' }), true);
        assert.equal(await b.exists('h', { kind: 'user-in-group', userId: 'u1', group: 'g2' }), false);
        assert.equal(await b.exists('other', { kind: 'connection', id: 'c1' }), false, 'hubs are apart');
        a.record({ kind: 'left', hub: 'h', connectionId: 'c1', group: 'g1' });
        await waitFor(async () => !(await b.exists('h', { kind: 'group', name: 'g1' })));
        a.record({ kind: 'joined', hub: 'h', connectionId: 'c1', group: 'g2' });
        a.record({ kind: 'disconnected', hub: 'h', connectionId: 'c1', userId: 'u1' });
        await waitFor(async () => !(await b.exists('h', { kind: 'connection', id: 'c1' })));
        assert.equal(await b.exists('h', { kind: 'user', id: 'u1' }), false);
        assert.equal(await b.exists('h', { kind: 'group', name: 'g2' }), false, 'its groups go with it');
      },
    );

    presenceTest('presence: a user grant made on one node is read on every node until revoked', async (a, b) => {
      await a.grant('h', 'u1', 'g1', 60_000);
      await a.grant('h', 'u1', 'g2', 60_000);
      assert.deepEqual((await b.grants('h', 'u1')).sort(), ['g1', 'g2']);
      assert.equal(await b.exists('h', { kind: 'user-in-group', userId: 'u1', group: 'g2' }), true);
      await b.revoke('h', 'u1', 'g1');
      assert.deepEqual(await a.grants('h', 'u1'), ['g2']);
      await b.revoke('h', 'u1');
      assert.deepEqual(await a.grants('h', 'u1'), []);
    });

    presenceTest('presence: a grant runs out after its TTL', async (a, b) => {
      await a.grant('h', 'u1', 'g1', 1);
      await waitFor(async () => (await b.grants('h', 'u1')).length === 0);
      assert.equal(await b.exists('h', { kind: 'user-in-group', userId: 'u1', group: 'g1' }), false);
    });

    presenceTest(
      'presence: nodes advertise their URLs and load; one that closes takes its records along',
      async (a, b, bNode) => {
        await a.advertise('http://127.0.0.1:1001');
        await b.advertise('http://127.0.0.1:1002');
        b.record({ kind: 'connected', hub: 'h', connectionId: 'cb' });
        await waitFor(async () => (await a.nodes()).find((n) => n.id === b.nodeId)?.connections === 1);
        const urls = (await a.nodes()).map((n) => n.url).sort();
        assert.deepEqual(urls, ['http://127.0.0.1:1001', 'http://127.0.0.1:1002']);
        assert.equal(await a.exists('h', { kind: 'connection', id: 'cb' }), true);
        await bNode.close();
        assert.deepEqual(
          (await a.nodes()).map((n) => n.id),
          [a.nodeId],
        );
        assert.equal(await a.exists('h', { kind: 'connection', id: 'cb' }), false);
      },
    );
  });
}
