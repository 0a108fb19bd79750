/**
 * The conformance suite every {@link Backplane} runs: the in-process one here, Redis and NATS
 * ones in their packages, each from a five-line test file.
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import type { Backplane, BackplaneMessage } from './backplane.ts';

export interface BackplaneSuiteOptions {
  name: string;
  /** A backplane for one node; calls made in one test share the same bus (e.g. one Redis channel). */
  create(): Backplane | Promise<Backplane>;
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
  const node = async () => {
    const backplane = await options.create();
    open.push(backplane);
    return backplane;
  };
  const test = (name: string, fn: () => Promise<void>) => {
    const skipped = options.skip?.find((s) => s.test === name);
    it(name, skipped === undefined ? {} : { skip: skipped.reason }, fn);
  };

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
  });
}
