/**
 * Several nodes on one JetStream bus (`createBus({ url: 'nats://…' })` twice, the same namespace):
 * entities made on one are used on the other, receivers on both compete for one queue, a lock
 * taken on one node is settled from the other, a node that is gone takes its locks along (the
 * message comes back after the ack wait with its delivery count), session locks hold across
 * nodes; and bad URLs, an unreachable server and hostile input are coded errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@hubbub/kernel';
import { connect } from '@nats-io/transport-node';
import { type Bus, type BusErrorCode, openBus } from '../src/index.ts';
import { createNatsBroker, type NatsBroker } from '../src/nats/index.ts';
import { type NatsCluster, natsUnavailable, startNats } from '../src/nats/testing.ts';

const unavailable = natsUnavailable();
let nats: NatsCluster;
let n = 0;

async function rejects(work: Promise<unknown> | (() => unknown), code: BusErrorCode): Promise<void> {
  await assert.rejects(
    async () => (typeof work === 'function' ? work() : work),
    (err: { code?: string }) => {
      assert.equal(err.code, code);
      return true;
    },
  );
}

/** Two nodes on a fresh namespace. */
async function twoNodes(): Promise<[Bus, Bus, () => Promise<void>]> {
  const url = `${nats.url}?namespace=nodes${++n}`;
  const a = await openBus({ url });
  const b = await openBus({ url });
  return [a, b, async () => void (await Promise.allSettled([a.close(), b.close()]))];
}

const brokerOf = (bus: Bus): NatsBroker => bus.broker as NatsBroker;

describe('JetStream bus on several nodes', { skip: unavailable }, () => {
  before(async () => {
    nats = await startNats(1);
  });
  after(() => nats?.stop());

  it('nodes share entities and compete for one queue; every message is received once', async () => {
    const [a, b, close] = await twoNodes();
    try {
      await a.admin.createQueue('work');
      await waitFor(() => b.admin.queueExists('work'), { timeoutMs: 10_000 });
      const sent = Array.from({ length: 200 }, (_, i) => ({ body: i }));
      await Promise.all([
        a.createSender('work').send(sent.slice(0, 100)),
        b.createSender('work').send(sent.slice(100)),
      ]);
      const seen: number[] = [];
      const perNode = [0, 0];
      await Promise.all(
        [a, b].map(async (bus, i) => {
          const receiver = bus.createReceiver('work');
          for (;;) {
            const ms = await receiver.receiveMessages(20, { maxWaitTimeMs: 300 });
            if (ms.length === 0 && seen.length >= 200) return;
            for (const m of ms) {
              seen.push(m.body as number);
              perNode[i]!++;
              await m.complete();
            }
            if (ms.length === 0 && seen.length < 200) continue;
          }
        }),
      );
      assert.deepEqual(
        seen.sort((x, y) => x - y),
        sent.map((m) => m.body),
      );
      assert.ok(perNode[0]! > 0 && perNode[1]! > 0, `both nodes received (${perNode.join(', ')})`);
      assert.equal((await b.admin.getRuntimeProperties('work')).totalMessageCount, 0);
    } finally {
      await close();
    }
  });

  it('a lock taken on one node is completed, renewed, abandoned and dead-lettered from the other', async () => {
    const [a, b, close] = await twoNodes();
    try {
      await a.admin.createQueue('q', { lockDuration: 30_000 });
      await waitFor(() => b.admin.queueExists('q'), { timeoutMs: 10_000 });
      await a.createSender('q').send([1, 2, 3].map((body) => ({ body })));
      const [m1, m2, m3] = await a.createReceiver('q').receiveMessages(3);
      const bb = b.broker;
      const renewed = await bb.renewLock('q', m1!.lockToken!);
      assert.ok(renewed.getTime() > Date.now() + 20_000);
      await bb.settle('q', m1!.lockToken!, { kind: 'complete' });
      await rejects(bb.settle('q', m1!.lockToken!, { kind: 'complete' }), 'BUS_LOCK_LOST');
      await bb.settle('q', m2!.lockToken!, { kind: 'abandon', propertiesToModify: { big: 5n, when: new Date(7) } });
      await bb.settle('q', m3!.lockToken!, { kind: 'deadLetter', reason: 'from b' });
      const [again] = await b.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 5_000 });
      assert.equal(again!.body, 2);
      assert.equal(again!.deliveryCount, 1);
      assert.deepEqual(again!.applicationProperties, { big: 5n, when: new Date(7) });
      await again!.complete();
      const [dead] = await a.createReceiver('q/$deadletterqueue').receiveMessages(1, { maxWaitTimeMs: 5_000 });
      assert.equal(dead!.deadLetterReason, 'from b');
      await dead!.complete();
    } finally {
      await close();
    }
  });

  it('a node that is gone takes its locks along; the message returns after the ack wait, counted', async () => {
    const [a, b, close] = await twoNodes();
    try {
      await a.admin.createQueue('q', { lockDuration: 1_000 });
      await waitFor(() => b.admin.queueExists('q'), { timeoutMs: 10_000 });
      await a.createSender('q').send({ body: 'held' });
      const [m] = await a.createReceiver('q').receiveMessages(1);
      await brokerOf(a).nc.close(); // the node dies: no nak, no lock server
      await rejects(b.broker.settle('q', m!.lockToken!, { kind: 'complete' }), 'BUS_LOCK_LOST');
      // ack wait = lock duration + 5 s: the server redelivers it.
      const [back] = await b.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 20_000 });
      assert.equal(back!.body, 'held');
      assert.equal(back!.deliveryCount, 1);
      await back!.complete();
    } finally {
      await close();
    }
  });

  it('a session is locked by one node at a time; its state is shared', async () => {
    const [a, b, close] = await twoNodes();
    try {
      await a.admin.createQueue('s', { requiresSession: true });
      await waitFor(() => b.admin.queueExists('s'), { timeoutMs: 10_000 });
      await b.createSender('s').send([
        { body: 'x1', sessionId: 'k' },
        { body: 'x2', sessionId: 'k' },
      ]);
      const lock = await a.broker.sessions.accept('s', 'k', { maxWaitTimeMs: 0 });
      await rejects(b.acceptSession('s', 'k'), 'BUS_SESSION_CANNOT_BE_LOCKED');
      await rejects(b.acceptNextSession('s', { maxWaitTimeMs: 200 }), 'BUS_SESSION_CANNOT_BE_LOCKED');
      // B works on A's session lock: its operations go to A.
      // Session state as SessionReceiver stores it: a tag byte (2 = JSON), then the text.
      await b.broker.sessions.setState('s', lock.lockToken, Buffer.from('\x02{"step":1}'));
      assert.equal(Buffer.from((await a.broker.sessions.getState('s', lock.lockToken))!).toString(), '\x02{"step":1}');
      assert.ok((await b.broker.sessions.renew('s', lock.lockToken)) > lock.lockedUntil - 1);
      const got = await a.broker.receive('s', {
        maxMessages: 2,
        mode: 'peekLock',
        maxWaitTimeMs: 0,
        session: lock.lockToken,
      });
      assert.deepEqual(
        got.map((d) => Buffer.from(d.msg.body).toString()),
        ['x1', 'x2'],
      );
      for (const d of got) await b.broker.settle('s', d.lockToken!, { kind: 'complete' });
      await b.broker.sessions.release('s', lock.lockToken);
      const next = await b.acceptSession('s', 'k');
      assert.deepEqual(await next.getSessionState(), { step: 1 });
      await next.close();
    } finally {
      await close();
    }
  });

  it('a scheduled message whose announcement a node missed is found by its rescan and moved when due', async () => {
    const namespace = `nodes${++n}`;
    const a = await openBus({ url: `${nats.url}?namespace=${namespace}` });
    const b = await openBus({ broker: await createNatsBroker({ url: nats.url, namespace, scheduleRescanMs: 200 }) });
    try {
      await a.admin.createQueue('q');
      await waitFor(() => b.admin.queueExists('q'), { timeoutMs: 10_000 });
      // Stored as scheduled without the announcement (as if b had been disconnected), then the
      // scheduling node goes away: only b's rescan can find it.
      await brokerOf(a).publishStored(
        {
          entity: 'q',
          seq: 0,
          body: Buffer.from('later'),
          bodyType: 'string',
          enqueuedTime: Date.now(),
          deliveryCount: 0,
          state: 'scheduled',
          scheduledEnqueueTime: Date.now() + 500,
        },
        undefined,
      );
      await a.close();
      const [m] = await b.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 10_000 });
      assert.equal(m?.body, 'later');
      assert.equal(m?.state, 'active');
      await m!.complete();
      await rejects(createNatsBroker({ url: nats.url, scheduleRescanMs: 5 }), 'BUS_INVALID_OPTION');
    } finally {
      await Promise.allSettled([a.close(), b.close()]);
    }
  });

  it('bytes that are no bus message on its subjects are passed over: peek, a node opening, the rescan, announcements', async () => {
    const namespace = `nodes${++n}`;
    const a = await openBus({ url: `${nats.url}?namespace=${namespace}` });
    const errors: { code?: string }[] = [];
    a.events.on('error', (e) => errors.push(e as { code?: string }));
    let b: Bus | undefined;
    try {
      await a.admin.createQueue('q');
      const broker = brokerOf(a);
      const names = broker.names('q');
      const header = (json: string) => {
        const meta = Buffer.from(json);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(meta.byteLength);
        return Buffer.concat([len, meta, Buffer.from('body')]);
      };
      // Not JSON, JSON that is no object, an object of the wrong field types, a property tag of no bigint.
      const foreign = [
        Buffer.from('not a bus message'),
        header('{x}'),
        header('"text"'),
        header('null'),
        header('{"bodyType":"string","enqueuedTime":"soon","deliveryCount":0}'),
        header('{"bodyType":"nope","enqueuedTime":1,"deliveryCount":0}'),
        header('{"bodyType":"string","enqueuedTime":1,"deliveryCount":0,"applicationProperties":{"p":["b","xyz"]}}'),
        header('{"bodyType":"string","enqueuedTime":1,"deliveryCount":0,"messageId":5}'),
      ];
      for (const bytes of foreign) {
        await broker.js.publish(names.active, bytes);
        await broker.js.publish(names.scheduled('1'), bytes);
      }
      await a.createSender('q').send({ body: 'fine', messageId: 'm1' });
      const peeked = await a.createReceiver('q').peekMessages(50);
      assert.deepEqual(
        peeked.map((m) => m.body),
        ['fine'],
      );
      // A node opening scans the scheduled messages; the foreign ones do not stop it.
      b = await openBus({ broker: await createNatsBroker({ url: nats.url, namespace, scheduleRescanMs: 200 }) });
      await waitFor(() => b!.admin.queueExists('q'), { timeoutMs: 10_000 });
      // Announcements of no scheduled message, or of none this node could hold: ignored.
      const nc = await connect({ servers: nats.nodes[0]!.url });
      for (const text of [
        'garbage',
        'null',
        '{"key":"q","seq":-1,"at":0}',
        '{"key":"nope","seq":1,"at":0}',
        '{"key":"q","seq":1,"at":"x"}',
      ]) {
        nc.publish(`${namespace}.sched`, text);
      }
      await nc.flush();
      await nc.close();
      const ms = await b.createReceiver('q').receiveMessages(20, { maxWaitTimeMs: 1_000 });
      assert.deepEqual(
        ms.map((m) => m.body),
        ['fine'],
      );
      await ms[0]!.complete();
      assert.ok(errors.length > 0 && errors.every((e) => e.code === 'BUS_ENGINE_FAILURE'), JSON.stringify(errors));
    } finally {
      await Promise.allSettled([a.close(), b?.close()]);
    }
  });

  it('bad URLs, an unreachable server and hostile input are coded errors', async () => {
    await rejects(openBus({ url: 'nats://' }), 'BUS_INVALID_OPTION');
    await rejects(openBus({ url: 'nats://bad host:4222' }), 'BUS_INVALID_OPTION');
    await rejects(openBus({ url: `${nats.url}?namespace=a.b` }), 'BUS_INVALID_OPTION');
    await rejects(openBus({ url: `${nats.url}?replicas=0` }), 'BUS_INVALID_OPTION');
    await rejects(openBus({ url: `${nats.url}?color=red` }), 'BUS_INVALID_OPTION');
    await rejects(openBus({ url: 'nats://127.0.0.1:1' }), 'BUS_ENGINE_FAILURE');

    const [a, b, close] = await twoNodes();
    const errors: unknown[] = [];
    a.events.on('error', (e) => errors.push(e));
    try {
      await a.admin.createQueue('q');
      await waitFor(() => b.admin.queueExists('q'), { timeoutMs: 10_000 });
      const broker = brokerOf(a);
      // Bytes that are no bus message, published straight to the queue's subject.
      await broker.js.publish(broker.names('q').active, Buffer.from('not a bus message'));
      await a.createSender('q').send({ body: 'fine' });
      const ms = await a.createReceiver('q').receiveMessages(5, { maxWaitTimeMs: 0 });
      assert.deepEqual(
        ms.map((m) => m.body),
        ['fine'],
      );
      assert.equal((errors[0] as { code?: string }).code, 'BUS_ENGINE_FAILURE');
      // Garbage to a node's lock service: an error answer, and the node keeps serving.
      const nc = await connect({ servers: nats.nodes[0]!.url });
      const reply = await nc.request(`${broker.namespace}.lock.${broker.node}`, 'garbage', { timeout: 5_000 });
      assert.ok(reply.json<{ error?: unknown }>().error !== undefined);
      await nc.close();
      await b.broker.settle('q', ms[0]!.lockToken!, { kind: 'complete' });
      await rejects(
        b.broker.settle('q', 'ffffffff-0000-4000-8000-000000000000', { kind: 'complete' }),
        'BUS_LOCK_LOST',
      );
      await rejects(b.broker.settle('q', 'short', { kind: 'complete' }), 'BUS_LOCK_LOST');
      // A consumer removed behind the bus's back: a receive fails (the server never answers), not hangs.
      await broker.jsm.consumers.delete(broker.names('q').stream, 'm');
      await rejects(a.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 0 }), 'BUS_ENGINE_FAILURE');
    } finally {
      await close();
    }
  });
});
