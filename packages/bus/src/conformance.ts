/**
 * The conformance suite of the bus: Service Bus semantics end to end through the public client
 * (`createBus`), over any {@link Broker}, plus restarts when the broker can be reopened. Engines
 * run it through `describeBusEngine` (`@hubbub/bus/engine/conformance`), brokers through
 * `describeBroker` (`@hubbub/bus/broker/conformance`); this module is neither door.
 * @module
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Clock, type IdSource, ManualClock, sequentialIds, waitFor } from '@hubbub/kernel';
import type { Broker } from './broker/port.ts';
import { type Bus, openBus } from './client.ts';
import type { BusErrorCode } from './errors.ts';
import type { ServiceBusReceivedMessage } from './received-message.ts';

/** The clock and ids a broker under test must use (the suite drives time). */
export interface SuiteEnv {
  clock: Clock;
  ids: IdSource;
}

export interface BrokerSuiteOptions<B extends Broker> {
  name: string;
  /** A fresh, empty broker per test, on the suite's clock and ids. */
  create: (env: SuiteEnv) => B | Promise<B>;
  /** A broker over the same state as a closed one (restart). Omit when the broker cannot restart. */
  reopen?: (closed: B, env: SuiteEnv) => B | Promise<B>;
  /** Rewrites the broker's storage to its live state (the compaction case); omit when it has none. */
  compact?: (broker: B) => Promise<void>;
  /** Test names to skip, each with its reason. */
  skip?: Record<string, string>;
}

async function rejects(work: Promise<unknown> | (() => unknown), code: BusErrorCode): Promise<void> {
  await assert.rejects(
    async () => (typeof work === 'function' ? work() : work),
    (err: { code?: string }) => {
      assert.equal(err.code, code);
      return true;
    },
  );
}

const codeOf = (err: { code?: string }): string | undefined => err.code;
const bodies = (ms: readonly ServiceBusReceivedMessage[]): unknown[] => ms.map((m) => m.body);

const COMPACTION = 'survives compaction with the same live state';

/** Defines the suite under `suiteTitle`. */
export function describeBusSuite<B extends Broker>(suiteTitle: string, options: BrokerSuiteOptions<B>): void {
  const { create, reopen, compact } = options;
  const skip: Record<string, string> = {
    ...(compact === undefined ? { [COMPACTION]: 'the broker has no storage to compact' } : {}),
    ...options.skip,
  };

  interface Ctx {
    bus: Bus;
    clock: ManualClock;
    broker: B;
    restart(): Promise<Bus>;
  }

  const test = (title: string, body: (ctx: Ctx) => Promise<void>): void => {
    const reason = skip[title];
    const run = async (): Promise<void> => {
      const clock = new ManualClock();
      let broker = await create({ clock, ids: sequentialIds('t') });
      const ctx: Ctx = {
        clock,
        broker,
        bus: await openBus({ broker }),
        async restart() {
          if (reopen === undefined) throw new Error('broker cannot reopen');
          await ctx.bus.close();
          broker = await reopen(broker, { clock, ids: sequentialIds('r') });
          ctx.broker = broker;
          ctx.bus = await openBus({ broker });
          return ctx.bus;
        },
      };
      try {
        await body(ctx);
      } finally {
        await ctx.bus.close();
      }
    };
    if (reason !== undefined) it(title, { skip: reason }, run);
    else it(title, run);
  };

  describe(suiteTitle, () => {
    describe('send and receive', () => {
      test('round-trips every message property and sets broker properties', async ({ bus, clock }) => {
        await bus.admin.createQueue('q', { lockDuration: 30_000 });
        const when = new Date(1_600_000_000_000);
        await bus.createSender('q').send({
          body: { hello: 'world' },
          messageId: 'm1',
          correlationId: 'c1',
          subject: 's1',
          contentType: 'application/json',
          to: 'to1',
          replyTo: 'reply1',
          replyToSessionId: 'rs1',
          partitionKey: 'pk1',
          timeToLive: 60_000,
          applicationProperties: { str: 'x', num: 1.5, flag: true, big: 12345678901234567890n, when, none: null },
        });
        const [m] = await bus.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 0 });
        assert.ok(m);
        assert.deepEqual(m.body, { hello: 'world' });
        assert.equal(m.messageId, 'm1');
        assert.equal(m.correlationId, 'c1');
        assert.equal(m.subject, 's1');
        assert.equal(m.contentType, 'application/json');
        assert.equal(m.to, 'to1');
        assert.equal(m.replyTo, 'reply1');
        assert.equal(m.replyToSessionId, 'rs1');
        assert.equal(m.partitionKey, 'pk1');
        assert.equal(m.timeToLive, 60_000);
        assert.deepEqual(m.applicationProperties, {
          str: 'x',
          num: 1.5,
          flag: true,
          big: 12345678901234567890n,
          when,
          none: null,
        });
        assert.equal(m.sequenceNumber, 1n);
        assert.equal(m.enqueuedTime.getTime(), clock.now());
        assert.equal(m.expiresAt?.getTime(), clock.now() + 60_000);
        assert.equal(m.deliveryCount, 0);
        assert.equal(m.state, 'active');
        assert.equal(typeof m.lockToken, 'string');
        assert.equal(m.lockedUntil?.getTime(), clock.now() + 30_000);
        await m.complete();
        assert.deepEqual(await bus.createReceiver('q').receiveMessages(1, { maxWaitTimeMs: 0 }), []);
      });

      test('keeps bytes, strings and JSON bodies in their shape', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send([{ body: new Uint8Array([1, 2, 3]) }, { body: 'text' }, { body: [1, 'a'] }]);
        const ms = await bus.createReceiver('q', { receiveMode: 'receiveAndDelete' }).receiveMessages(3);
        assert.deepEqual([...(ms[0]!.body as Uint8Array)], [1, 2, 3]);
        assert.equal(ms[1]!.body, 'text');
        assert.deepEqual(ms[2]!.body, [1, 'a']);
        assert.deepEqual(
          ms.map((m) => m.sequenceNumber),
          [1n, 2n, 3n],
        );
      });

      test('a waiting receive wakes when a message arrives, and times out empty', async ({ bus, clock }) => {
        await bus.admin.createQueue('q');
        const receiver = bus.createReceiver('q');
        const waiting = receiver.receiveMessages(5, { maxWaitTimeMs: 1_000 });
        await bus.createSender('q').send({ body: 'late' });
        assert.deepEqual(bodies(await waiting), ['late']);
        const empty = receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
        clock.advance(1_000);
        assert.deepEqual(await empty, []);
      });

      test('receive-and-delete removes on receipt and refuses settlement', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send({ body: 1 });
        const [m] = await bus.createReceiver('q', { receiveMode: 'receiveAndDelete' }).receiveMessages(1);
        assert.equal(m?.lockToken, undefined);
        await rejects(m!.complete(), 'BUS_INVALID_OPERATION');
        assert.equal((await bus.admin.getRuntimeProperties('q')).totalMessageCount, 0);
      });

      test('async iteration yields messages in order and ends on close', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send([1, 2, 3].map((body) => ({ body })));
        const receiver = bus.createReceiver('q', { prefetch: 2 });
        const seen: unknown[] = [];
        for await (const m of receiver) {
          seen.push(m.body);
          await m.complete();
          if (seen.length === 3) await receiver.close();
        }
        assert.deepEqual(seen, [1, 2, 3]);
      });

      test('peek returns messages in sequence order without locking them', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send([1, 2, 3].map((body) => ({ body })));
        const receiver = bus.createReceiver('q');
        assert.deepEqual(bodies(await receiver.peekMessages(2)), [1, 2]);
        assert.deepEqual(bodies(await receiver.peekMessages(2)), [3]);
        assert.deepEqual(bodies(await receiver.peekMessages(5, { fromSequenceNumber: 2n })), [2, 3]);
        const all = await receiver.receiveMessages(3, { maxWaitTimeMs: 0 });
        assert.equal(all.length, 3);
        assert.equal((await receiver.peekMessages(1, { fromSequenceNumber: 1n }))[0]!.lockToken, undefined);
      });

      test('a batch send is atomic: one invalid message rejects all', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await rejects(bus.createSender('q').send([{ body: 1 }, { body: 2, timeToLive: -1 }]), 'BUS_INVALID_MESSAGE');
        assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 0);
      });
    });

    describe('settlement', () => {
      test('abandon redelivers with delivery count + 1 and modified properties', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send({ body: 'a', applicationProperties: { n: 1 } });
        const receiver = bus.createReceiver('q');
        const [first] = await receiver.receiveMessages(1);
        await first!.abandon({ n: 2, reason: 'retry' });
        const [again] = await receiver.receiveMessages(1);
        assert.equal(again!.deliveryCount, 1);
        assert.deepEqual(again!.applicationProperties, { n: 2, reason: 'retry' });
        await rejects(first!.complete(), 'BUS_LOCK_LOST');
        await again!.complete();
      });

      test('an expired lock makes the message available again; its old token is lost', async ({ bus, clock }) => {
        await bus.admin.createQueue('q', { lockDuration: 5_000 });
        await bus.createSender('q').send({ body: 'a' });
        const receiver = bus.createReceiver('q');
        const [m] = await receiver.receiveMessages(1);
        clock.advance(4_000);
        const renewed = await m!.renewLock();
        assert.equal(renewed.getTime(), clock.now() + 5_000);
        clock.advance(4_000);
        assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeMs: 0 }), []);
        clock.advance(1_000);
        const [again] = await receiver.receiveMessages(1, { maxWaitTimeMs: 0 });
        assert.equal(again!.deliveryCount, 1);
        await rejects(m!.complete(), 'BUS_LOCK_LOST');
        await rejects(m!.renewLock(), 'BUS_LOCK_LOST');
        await again!.complete();
        await rejects(again!.complete(), 'BUS_LOCK_LOST');
      });

      test('locks expire independently: a renewed lock outlives its neighbours', async ({ bus, clock }) => {
        await bus.admin.createQueue('q', { lockDuration: 10_000 });
        await bus.createSender('q').send([1, 2, 3, 4].map((body) => ({ body })));
        const receiver = bus.createReceiver('q');
        const [m1, m2, m3] = await receiver.receiveMessages(3);
        clock.advance(5_000);
        const [m4] = await receiver.receiveMessages(1);
        await m1!.complete();
        await m2!.renewLock();
        clock.advance(5_000);
        const back = await receiver.receiveMessages(5, { maxWaitTimeMs: 0 });
        assert.deepEqual(bodies(back), [3]);
        await m2!.complete();
        clock.advance(5_000);
        assert.deepEqual(bodies(await receiver.receiveMessages(5, { maxWaitTimeMs: 0 })), [4]);
        await rejects(m3!.complete(), 'BUS_LOCK_LOST');
        await rejects(m4!.complete(), 'BUS_LOCK_LOST');
        await back[0]!.complete();
      });

      test('max delivery count moves the message to the dead-letter queue', async ({ bus }) => {
        await bus.admin.createQueue('q', { maxDeliveryCount: 2 });
        await bus.createSender('q').send({ body: 'poison' });
        const receiver = bus.createReceiver('q');
        for (let i = 0; i < 2; i++) await (await receiver.receiveMessages(1))[0]!.abandon();
        assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeMs: 0 }), []);
        const [dead] = await bus.createReceiver('q/$deadletterqueue').receiveMessages(1, { maxWaitTimeMs: 0 });
        assert.equal(dead!.body, 'poison');
        assert.equal(dead!.deadLetterReason, 'MaxDeliveryCountExceeded');
        assert.equal(dead!.deliveryCount, 2);
        await dead!.complete();
      });

      test('dead-letter with reason and description; no dead-lettering from a DLQ', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send({ body: 'bad', applicationProperties: { a: 1 } });
        const [m] = await bus.createReceiver('q').receiveMessages(1);
        await m!.deadLetter({ reason: 'Invalid', errorDescription: 'no total', propertiesToModify: { b: 2 } });
        const dlq = bus.createReceiver({ queue: 'q', subQueue: 'deadLetter' });
        const [dead] = await dlq.receiveMessages(1, { maxWaitTimeMs: 0 });
        assert.equal(dead!.deadLetterReason, 'Invalid');
        assert.equal(dead!.deadLetterErrorDescription, 'no total');
        assert.equal(dead!.deadLetterSource, 'q');
        assert.deepEqual(dead!.applicationProperties, { a: 1, b: 2 });
        assert.equal(dead!.sequenceNumber, m!.sequenceNumber);
        await rejects(dead!.deadLetter({ reason: 'again' }), 'BUS_INVALID_OPERATION');
        const props = await bus.admin.getRuntimeProperties('q');
        assert.equal(props.deadLetterMessageCount, 1);
      });

      test('defer, then receive deferred by sequence number', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.createSender('q').send([{ body: 'later' }, { body: 'now' }]);
        const receiver = bus.createReceiver('q');
        const [m] = await receiver.receiveMessages(1);
        await m!.defer();
        const [next] = await receiver.receiveMessages(1);
        assert.equal(next!.body, 'now');
        await next!.complete();
        assert.equal((await receiver.peekMessages(1, { fromSequenceNumber: 1n }))[0]!.state, 'deferred');
        const [deferred] = await receiver.receiveDeferredMessages(m!.sequenceNumber);
        assert.equal(deferred!.body, 'later');
        assert.equal(deferred!.state, 'deferred');
        await deferred!.complete();
        await rejects(receiver.receiveDeferredMessages([m!.sequenceNumber]), 'BUS_MESSAGE_NOT_FOUND');
        await rejects(receiver.receiveDeferredMessages([99n]), 'BUS_MESSAGE_NOT_FOUND');
      });
    });

    describe('time', () => {
      test('expired messages are dropped, or dead-lettered when the entity says so', async ({ bus, clock }) => {
        await bus.admin.createQueue('drop');
        await bus.admin.createQueue('keep', {
          deadLetteringOnMessageExpiration: true,
          defaultMessageTimeToLive: 'PT1M',
        });
        await bus.createSender('drop').send({ body: 'x', timeToLive: 1_000 });
        await bus.createSender('keep').send({ body: 'y' });
        clock.advance(60_000);
        assert.deepEqual(await bus.createReceiver('drop').receiveMessages(1, { maxWaitTimeMs: 0 }), []);
        assert.deepEqual(await bus.createReceiver('keep').receiveMessages(1, { maxWaitTimeMs: 0 }), []);
        const dlq = bus.createReceiver('keep/$DeadLetterQueue');
        const [dead] = await dlq.receiveMessages(1, { maxWaitTimeMs: 1_000 });
        assert.equal(dead!.body, 'y');
        assert.equal(dead!.deadLetterReason, 'TTLExpiredException');
      });

      test('scheduled messages appear when due and can be cancelled', async ({ bus, clock }) => {
        await bus.admin.createQueue('q');
        const sender = bus.createSender('q');
        const at = new Date(clock.now() + 10_000);
        const [keep, cancel] = await sender.scheduleMessages([{ body: 'keep' }, { body: 'cancel' }], at);
        await sender.cancelScheduledMessages(cancel!);
        const receiver = bus.createReceiver('q');
        const peeked = await receiver.peekMessages(5);
        assert.deepEqual(
          peeked.map((m) => [m.sequenceNumber, m.state]),
          [[keep, 'scheduled']],
        );
        assert.deepEqual(await receiver.receiveMessages(1, { maxWaitTimeMs: 0 }), []);
        const waiting = receiver.receiveMessages(1, { maxWaitTimeMs: 60_000 });
        clock.advance(10_000);
        const [m] = await waiting;
        assert.equal(m!.body, 'keep');
        assert.equal(m!.enqueuedTime.getTime(), at.getTime());
        await rejects(sender.cancelScheduledMessages(cancel!), 'BUS_MESSAGE_NOT_FOUND');
      });

      test('scheduled messages to a topic are held at the topic until due', async ({ bus, clock }) => {
        await bus.admin.createTopic('t');
        await bus.admin.createSubscription('t', 's');
        await bus.createSender('t').scheduleMessages({ body: 'x' }, new Date(clock.now() + 5_000));
        const receiver = bus.createReceiver({ topic: 't', subscription: 's' });
        assert.deepEqual(await receiver.peekMessages(1), []);
        clock.advance(5_000);
        const [m] = await receiver.receiveMessages(1, { maxWaitTimeMs: 1_000 });
        assert.equal(m!.body, 'x');
      });

      test('duplicate detection drops a messageId seen within the window', async ({ bus, clock }) => {
        await bus.admin.createQueue('q', {
          requiresDuplicateDetection: true,
          duplicateDetectionHistoryTimeWindow: 60_000,
        });
        const sender = bus.createSender('q');
        await sender.send({ body: 1, messageId: 'same' });
        await sender.send([
          { body: 2, messageId: 'same' },
          { body: 3, messageId: 'other' },
        ]);
        clock.advance(60_001);
        await sender.send({ body: 4, messageId: 'same' });
        const ms = await bus.createReceiver('q').receiveMessages(10, { maxWaitTimeMs: 0 });
        assert.deepEqual(bodies(ms), [1, 3, 4]);
      });
    });

    describe('sessions', () => {
      test('a session receiver gets its session FIFO and holds session state', async ({ bus }) => {
        await bus.admin.createQueue('q', { requiresSession: true });
        const sender = bus.createSender('q');
        await sender.send([
          { body: 'a1', sessionId: 'a' },
          { body: 'b1', sessionId: 'b' },
          { body: 'a2', sessionId: 'a' },
          { body: 'a3', sessionId: 'a' },
        ]);
        await rejects(sender.send({ body: 'none' }), 'BUS_INVALID_MESSAGE');
        await rejects(bus.createReceiver('q').receiveMessages(1), 'BUS_INVALID_OPERATION');
        await rejects(() => bus.createProcessor('q', () => {}), 'BUS_INVALID_OPERATION');
        const a = await bus.acceptSession('q', 'a');
        await rejects(bus.acceptSession('q', 'a'), 'BUS_SESSION_CANNOT_BE_LOCKED');
        const first = await a.receiveMessages(2);
        assert.deepEqual(bodies(first), ['a1', 'a2']);
        await first[0]!.complete();
        await first[1]!.abandon();
        assert.deepEqual(bodies(await a.receiveMessages(5, { maxWaitTimeMs: 0 })), ['a2', 'a3']);
        assert.equal(await a.getSessionState(), undefined);
        await a.setSessionState({ step: 2 });
        assert.deepEqual(await a.getSessionState(), { step: 2 });
        assert.deepEqual(bodies(await a.peekMessages(10)), ['a2', 'a3']);
        const next = await bus.acceptNextSession('q', { maxWaitTimeMs: 0 });
        assert.equal(next.sessionId, 'b');
        await a.close();
        const again = await bus.acceptSession('q', 'a');
        assert.deepEqual(await again.getSessionState(), { step: 2 });
      });

      test('accept-next waits for a session, then times out with SESSION_CANNOT_BE_LOCKED', async ({ bus, clock }) => {
        await bus.admin.createQueue('q', { requiresSession: true });
        const waiting = bus.acceptNextSession('q', { maxWaitTimeMs: 5_000 });
        await bus.createSender('q').send({ body: 1, sessionId: 's1' });
        assert.equal((await waiting).sessionId, 's1');
        const timeout = bus.acceptNextSession('q', { maxWaitTimeMs: 5_000 });
        clock.advance(5_000);
        await rejects(timeout, 'BUS_SESSION_CANNOT_BE_LOCKED');
      });

      test('an expired session lock loses its messages and can be renewed before', async ({ bus, clock }) => {
        await bus.admin.createQueue('q', { requiresSession: true, lockDuration: 10_000 });
        await bus.createSender('q').send({ body: 1, sessionId: 's' });
        const s = await bus.acceptSession('q', 's');
        const [m] = await s.receiveMessages(1);
        clock.advance(9_000);
        assert.equal((await s.renewSessionLock()).getTime(), clock.now() + 10_000);
        clock.advance(10_000);
        await rejects(m!.complete(), 'BUS_SESSION_LOCK_LOST');
        await rejects(s.receiveMessages(1), 'BUS_SESSION_LOCK_LOST');
        const other = await bus.acceptSession('q', 's');
        const [again] = await other.receiveMessages(1);
        assert.equal(again!.deliveryCount, 1);
        await again!.complete();
      });
    });

    describe('topics, rules and forwarding', () => {
      test('fans out to subscriptions whose rules match, applying actions', async ({ bus }) => {
        await bus.admin.createTopic('orders');
        await bus.admin.createSubscription('orders', 'all');
        await bus.admin.createSubscription('orders', 'none', { rules: [{ name: 'no', filter: { kind: 'false' } }] });
        await bus.admin.createSubscription('orders', 'vip', {
          rules: [{ name: 'corr', filter: { kind: 'correlation', subject: 'vip' } }],
        });
        await bus.admin.createSubscription('orders', 'strip', {
          rules: [
            {
              name: 'strip',
              filter: { kind: 'true' },
              action: { sqlExpression: "REMOVE secret; SET sys.To = 'audit'" },
            },
          ],
        });
        await bus.admin.createSubscription('orders', 'big');
        await bus.admin.deleteRule('orders', 'big', '$Default');
        await bus.admin.createRule('orders', 'big', {
          name: 'big',
          filter: { kind: 'sql', expression: 'total > 100' },
          action: { sqlExpression: "SET tier = 'gold'" },
        });
        assert.deepEqual(
          (await bus.admin.listRules('orders', 'big')).map((r) => r.name),
          ['big'],
        );
        await rejects(
          bus.admin.createRule('orders', 'big', { name: 'big', filter: { kind: 'true' } }),
          'BUS_ENTITY_EXISTS',
        );
        await rejects(
          bus.admin.createRule('orders', 'big', { name: 'broken', filter: { kind: 'sql', expression: 'total >' } }),
          'BUS_INVALID_FILTER',
        );
        await bus.createSender('orders').send([
          { body: 1, subject: 'vip', applicationProperties: { total: 50, secret: 's' } },
          { body: 2, applicationProperties: { total: 500 } },
        ]);
        const read = async (sub: string): Promise<ServiceBusReceivedMessage[]> =>
          bus.createReceiver({ topic: 'orders', subscription: sub }).receiveMessages(10, { maxWaitTimeMs: 0 });
        assert.deepEqual(bodies(await read('all')), [1, 2]);
        assert.deepEqual(bodies(await read('none')), []);
        const stripped = await read('strip');
        assert.deepEqual(
          stripped.map((m) => [m.to, 'secret' in m.applicationProperties]),
          [
            ['audit', false],
            ['audit', false],
          ],
        );
        assert.deepEqual(bodies(await read('vip')), [1]);
        const big = await read('big');
        assert.deepEqual(bodies(big), [2]);
        assert.equal(big[0]!.applicationProperties.tier, 'gold');
        assert.equal(big[0]!.sequenceNumber, 2n);
      });

      test('auto-forwards from queues and subscriptions, and dead letters to a target', async ({ bus }) => {
        await bus.admin.createQueue('final');
        await bus.admin.createQueue('hop', { forwardTo: 'final' });
        await bus.admin.createTopic('t');
        await bus.admin.createSubscription('t', 'fwd', { forwardTo: 'hop' });
        await bus.admin.createQueue('work', { forwardDeadLetteredMessagesTo: 'final', maxDeliveryCount: 1 });
        await bus.createSender('hop').send({ body: 'direct' });
        await bus.createSender('t').send({ body: 'via topic' });
        await bus.createSender('work').send({ body: 'poison' });
        await (await bus.createReceiver('work').receiveMessages(1))[0]!.abandon();
        const ms = await bus.createReceiver('final').receiveMessages(10, { maxWaitTimeMs: 0 });
        assert.deepEqual(bodies(ms), ['direct', 'via topic', 'poison']);
        assert.equal(ms[2]!.deadLetterReason, 'MaxDeliveryCountExceeded');
        assert.equal((await bus.admin.getRuntimeProperties('work')).deadLetterMessageCount, 0);
      });
    });

    describe('limits', () => {
      test('forwarding stops after 4 hops with MaxTransferHopCountExceeded', async ({ bus }) => {
        for (let i = 6; i >= 1; i--) await bus.admin.createQueue(`q${i}`, i < 6 ? { forwardTo: `q${i + 1}` } : {});
        await bus.createSender('q1').send({ body: 'far' });
        assert.equal((await bus.admin.getRuntimeProperties('q6')).activeMessageCount, 0);
        const [dead] = await bus.createReceiver('q5/$deadletterqueue').receiveMessages(1, { maxWaitTimeMs: 0 });
        assert.equal(dead!.body, 'far');
        assert.equal(dead!.deadLetterReason, 'MaxTransferHopCountExceeded');
      });

      test('duplicate detection on a topic drops the repeat before fan-out', async ({ bus }) => {
        await bus.admin.createTopic('t', { requiresDuplicateDetection: true });
        await bus.admin.createSubscription('t', 'a');
        await bus.admin.createSubscription('t', 'b');
        const sender = bus.createSender('t');
        await sender.send({ body: 1, messageId: 'x' });
        await sender.send({ body: 2, messageId: 'x' });
        for (const sub of ['a', 'b']) {
          const got = await bus.createReceiver({ topic: 't', subscription: sub }).peekMessages(5);
          assert.deepEqual(bodies(got), [1]);
        }
      });

      test('a queue at maxSizeInMegabytes refuses sends with QUOTA_EXCEEDED until settling frees room', async (ctx) => {
        let bus = ctx.bus;
        await bus.admin.createQueue('q', { maxSizeInMegabytes: 1, requiresDuplicateDetection: true });
        await rejects(bus.admin.createQueue('bad', { maxSizeInMegabytes: 0 }), 'BUS_INVALID_OPTION');
        assert.equal((await bus.admin.getQueue('q')).maxSizeInMegabytes, 1);
        const big = 'x'.repeat(200 * 1024);
        const sender = bus.createSender('q');
        for (let i = 0; i < 5; i++) await sender.send({ body: big, messageId: `m${i}` });
        await rejects(sender.send({ body: big, messageId: 'm5' }), 'BUS_QUOTA_EXCEEDED');
        await rejects(sender.send([{ body: 'small' }, { body: big }]), 'BUS_QUOTA_EXCEEDED'); // all or nothing
        assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 5);
        const [first, second] = await bus.createReceiver('q').receiveMessages(2, { maxWaitTimeMs: 0 });
        await first!.deadLetter({ reason: 'kept' }); // the dead-letter queue counts against the quota too
        await rejects(sender.send({ body: big, messageId: 'm5' }), 'BUS_QUOTA_EXCEEDED');
        await second!.complete();
        await sender.send({ body: big, messageId: 'm5' }); // a refused messageId is not remembered as seen
        assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 4);
        if (reopen !== undefined) {
          bus = await ctx.restart();
          await rejects(bus.createSender('q').send({ body: big }), 'BUS_QUOTA_EXCEEDED');
        }
      });

      test('a queue or subscription forwarding to a full queue is refused with QUOTA_EXCEEDED', async ({ bus }) => {
        await bus.admin.createQueue('full', { maxSizeInMegabytes: 1 });
        await bus.admin.createQueue('door', { forwardTo: 'full' });
        await bus.admin.createTopic('t');
        await bus.admin.createSubscription('t', 's', { forwardTo: 'full' });
        const big = 'x'.repeat(200 * 1024);
        for (let i = 0; i < 5; i++) await bus.createSender('full').send({ body: big });
        await rejects(bus.createSender('door').send({ body: big }), 'BUS_QUOTA_EXCEEDED');
        await rejects(bus.createSender('t').send({ body: big }), 'BUS_QUOTA_EXCEEDED');
        assert.equal((await bus.admin.getRuntimeProperties('full')).activeMessageCount, 5);
        await bus.createSender('door').send({ body: 'small' }); // what still fits goes through
        await waitFor(async () => (await bus.admin.getRuntimeProperties('full')).activeMessageCount === 6);
      });

      test('a topic at maxSizeInMegabytes counts every subscription copy', async ({ bus }) => {
        await bus.admin.createTopic('t', { maxSizeInMegabytes: 1 });
        await bus.admin.createSubscription('t', 'a');
        await bus.admin.createSubscription('t', 'b');
        const sender = bus.createSender('t');
        const big = 'x'.repeat(200 * 1024);
        await sender.send({ body: big });
        await sender.send({ body: big });
        await rejects(sender.send({ body: big }), 'BUS_QUOTA_EXCEEDED');
        const [m] = await bus
          .createReceiver({ topic: 't', subscription: 'a' })
          .receiveMessages(1, { maxWaitTimeMs: 0 });
        await m!.complete();
        await sender.send({ body: 'fits' });
      });
    });

    describe('bad input', () => {
      test('oversized messages are refused with MESSAGE_TOO_LARGE and nothing is accepted', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.admin.createQueue('small', { maxMessageSizeInKilobytes: 1 });
        const sender = bus.createSender('q');
        await rejects(sender.send({ body: 'x'.repeat(256 * 1024 + 1) }), 'BUS_MESSAGE_TOO_LARGE');
        await rejects(
          bus.createSender('small').send([{ body: 'ok' }, { body: 'y'.repeat(2048) }]),
          'BUS_MESSAGE_TOO_LARGE',
        );
        await sender.send({ body: 'x'.repeat(200 * 1024) });
        assert.equal((await bus.admin.getRuntimeProperties('q')).activeMessageCount, 1);
        assert.equal((await bus.admin.getRuntimeProperties('small')).activeMessageCount, 0);
      });

      test('unknown entities fail with ENTITY_NOT_FOUND everywhere', async ({ bus }) => {
        await rejects(() => bus.createSender('nope'), 'BUS_ENTITY_NOT_FOUND');
        await rejects(() => bus.createReceiver('nope'), 'BUS_ENTITY_NOT_FOUND');
        await rejects(() => bus.createReceiver({ topic: 't', subscription: 's' }), 'BUS_ENTITY_NOT_FOUND');
        await rejects(bus.admin.getQueue('nope'), 'BUS_ENTITY_NOT_FOUND');
        await rejects(bus.admin.deleteTopic('nope'), 'BUS_ENTITY_NOT_FOUND');
        await rejects(bus.admin.createSubscription('nope', 's'), 'BUS_ENTITY_NOT_FOUND');
        await rejects(bus.admin.listRules('nope', 's'), 'BUS_ENTITY_NOT_FOUND');
        await rejects(bus.acceptNextSession('nope', { maxWaitTimeMs: 0 }), 'BUS_ENTITY_NOT_FOUND');
      });

      test('a deleted entity fails its waiting receivers; the bus stays healthy', async ({ bus }) => {
        await bus.admin.createQueue('q');
        await bus.admin.createQueue('other');
        const receiver = bus.createReceiver('q');
        const waiting = receiver.receiveMessages(1, { maxWaitTimeMs: 60_000 }).then(String, codeOf);
        await bus.admin.deleteQueue('q');
        assert.equal(await waiting, 'BUS_ENTITY_NOT_FOUND');
        await rejects(receiver.receiveMessages(1), 'BUS_ENTITY_NOT_FOUND');
        await bus.createSender('other').send({ body: 'still fine' });
        assert.equal((await bus.admin.getRuntimeProperties('other')).activeMessageCount, 1);
      });

      test('entity names and options are validated; duplicates are ENTITY_EXISTS', async ({ bus }) => {
        await rejects(bus.admin.createQueue(''), 'BUS_INVALID_ENTITY_NAME');
        await rejects(bus.admin.createQueue('bad name!'), 'BUS_INVALID_ENTITY_NAME');
        await rejects(bus.admin.createQueue('q', { lockDuration: 'forever' }), 'BUS_INVALID_OPTION');
        await rejects(bus.admin.createQueue('q', { maxDeliveryCount: 0 }), 'BUS_INVALID_OPTION');
        await bus.admin.createQueue('q');
        await rejects(bus.admin.createQueue('Q'), 'BUS_ENTITY_EXISTS');
        await rejects(bus.admin.createTopic('q'), 'BUS_ENTITY_EXISTS');
        await bus.admin.createTopic('t');
        await bus.admin.createSubscription('t', 's');
        await rejects(bus.admin.createSubscription('t', 's'), 'BUS_ENTITY_EXISTS');
        await rejects(bus.admin.createSubscription('t', 'x'.repeat(51)), 'BUS_INVALID_ENTITY_NAME');
        const updated = await bus.admin.updateQueue('q', { maxDeliveryCount: 3 });
        assert.equal(updated.maxDeliveryCount, 3);
        assert.equal(updated.lockDuration, 60_000);
        assert.deepEqual(
          (await bus.admin.listQueues()).map((q) => q.name),
          ['q'],
        );
      });

      test('a closed bus refuses work with BUS_CLOSED', async ({ bus }) => {
        await bus.admin.createQueue('q');
        const sender = bus.createSender('q');
        const receiver = bus.createReceiver('q');
        const waiting = receiver.receiveMessages(1, { maxWaitTimeMs: 60_000 }).then(String, codeOf);
        await bus.close();
        assert.equal(await waiting, 'BUS_CLOSED');
        await rejects(sender.send({ body: 1 }), 'BUS_CLOSED');
        await rejects(bus.admin.createQueue('x'), 'BUS_CLOSED');
      });
    });

    describe('processor', () => {
      test('runs the handler with bounded concurrency and completes or retries', async ({ bus }) => {
        await bus.admin.createQueue('q', { maxDeliveryCount: 2 });
        await bus.createSender('q').send([1, 2, 3, 4, 5, 6].map((n) => ({ body: n })));
        let active = 0;
        let peak = 0;
        const done: number[] = [];
        const errors: unknown[] = [];
        const processor = bus.createProcessor(
          'q',
          async (m) => {
            active++;
            peak = Math.max(peak, active);
            await new Promise((r) => setImmediate(r));
            active--;
            if (m.body === 6) throw new Error('boom');
            done.push(m.body as number);
          },
          { maxConcurrentCalls: 2, onError: (e) => errors.push(e) },
        );
        const dlq = bus.createReceiver('q/$deadletterqueue');
        const [dead] = await dlq.receiveMessages(1, { maxWaitTimeMs: 60_000 });
        await processor.close();
        assert.equal(dead!.body, 6);
        assert.deepEqual(
          done.sort((a, b) => a - b),
          [1, 2, 3, 4, 5],
        );
        assert.equal(errors.length, 2);
        assert.ok(peak <= 2);
        assert.equal((await bus.admin.getRuntimeProperties('q')).totalMessageCount, 1);
      });
    });

    describe('session processor', () => {
      test('processes each session in order, sessions in parallel', async ({ bus, clock }) => {
        await bus.admin.createQueue('s', { requiresSession: true, lockDuration: 300_000 });
        await bus
          .createSender('s')
          .send(['a', 'b', 'a', 'b', 'a', 'c'].map((sessionId, i) => ({ body: `${sessionId}${i}`, sessionId })));
        const seen = new Map<string, unknown[]>();
        const processor = bus.createSessionProcessor(
          's',
          async (m) => {
            seen.set(m.sessionId!, [...(seen.get(m.sessionId!) ?? []), m.body]);
            await new Promise((r) => setImmediate(r));
          },
          { maxConcurrentSessions: 2 },
        );
        // Idle sessions are released after sessionIdleTimeoutMs (1 s of the manual clock).
        await waitFor(
          async () => {
            clock.advance(1_000);
            return (await bus.admin.getRuntimeProperties('s')).totalMessageCount === 0;
          },
          { timeoutMs: 10_000 },
        );
        await processor.close();
        assert.deepEqual(Object.fromEntries(seen), { a: ['a0', 'a2', 'a4'], b: ['b1', 'b3'], c: ['c5'] });
        await rejects(() => bus.createSessionProcessor('plain-missing', () => {}), 'BUS_ENTITY_NOT_FOUND');
      });
    });

    if (reopen !== undefined) {
      describe('restart', () => {
        test('recovers entities, messages, states and sequence numbers', async (ctx) => {
          const { clock } = ctx;
          let bus = ctx.bus;
          await bus.admin.createQueue('q', { requiresDuplicateDetection: true });
          await bus.admin.createQueue('s', { requiresSession: true });
          await bus.admin.createTopic('t');
          await bus.admin.createSubscription('t', 'sub', {
            rules: [{ name: 'vip', filter: { kind: 'correlation', subject: 'vip' } }],
          });
          const sender = bus.createSender('q');
          await sender.send([1, 2, 3, 4].map((n) => ({ body: n, messageId: `m${n}` })));
          const [scheduled] = await sender.scheduleMessages({ body: 'later' }, new Date(clock.now() + 60_000));
          const receiver = bus.createReceiver('q');
          const [m1, m2, m3] = await receiver.receiveMessages(3);
          await m1!.complete();
          await m2!.defer();
          await m3!.deadLetter({ reason: 'bad' });
          await bus.createSender('s').send({ body: 'x', sessionId: 'k' });
          const session = await bus.acceptSession('s', 'k');
          await session.setSessionState('state-1');
          await bus.createSender('t').send([{ body: 'vip', subject: 'vip' }, { body: 'plain' }]);

          bus = await ctx.restart();
          assert.deepEqual(
            (await bus.admin.listQueues()).map((q) => q.name),
            ['q', 's'],
          );
          const r = bus.createReceiver('q');
          const live = await r.peekMessages(10);
          assert.deepEqual(
            live.map((m) => [m.body, m.state]),
            [
              [2, 'deferred'],
              [4, 'active'],
              ['later', 'scheduled'],
            ],
          );
          assert.equal(live[2]!.sequenceNumber, scheduled);
          const [deferred] = await r.receiveDeferredMessages(m2!.sequenceNumber);
          await deferred!.complete();
          const [dead] = await bus.createReceiver('q/$deadletterqueue').receiveMessages(1, { maxWaitTimeMs: 0 });
          assert.equal(dead!.deadLetterReason, 'bad');
          await bus.createSender('q').send([{ body: 'dup', messageId: 'm1' }, { body: 5 }]);
          const rest = await r.receiveMessages(10, { maxWaitTimeMs: 0 });
          assert.deepEqual(bodies(rest), [4, 5]);
          assert.equal(rest[1]!.sequenceNumber, 6n);
          for (const m of rest) await m.complete();
          const again = await bus.acceptSession('s', 'k');
          assert.equal(await again.getSessionState(), 'state-1');
          assert.deepEqual(
            bodies(await bus.createReceiver('t/subscriptions/sub').receiveMessages(5, { maxWaitTimeMs: 0 })),
            ['vip'],
          );
          await bus.createSender('t').send({ body: 'vip2', subject: 'vip' });
          assert.equal(
            (await bus.createReceiver('t/subscriptions/sub').peekMessages(5, { fromSequenceNumber: 1n })).length,
            2,
          );
          clock.advance(60_000);
          const [later] = await r.receiveMessages(1, { maxWaitTimeMs: 1_000 });
          assert.equal(later!.body, 'later');
        });

        test(COMPACTION, async (ctx) => {
          let bus = ctx.bus;
          await bus.admin.createQueue('q');
          const sender = bus.createSender('q');
          for (let i = 0; i < 20; i++) await sender.send({ body: i });
          const receiver = bus.createReceiver('q');
          for (const m of await receiver.receiveMessages(15)) await m.complete();
          await compact?.(ctx.broker);
          await sender.send({ body: 'after' });
          bus = await ctx.restart();
          const left = await bus.createReceiver('q').receiveMessages(20, { maxWaitTimeMs: 0 });
          assert.deepEqual(bodies(left), [15, 16, 17, 18, 19, 'after']);
          assert.equal(left.at(-1)!.sequenceNumber, 21n);
        });
      });
    }
  });
}
