import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ServiceBusClient as Client,
  isServiceBusError,
  type RuleProperties,
  ServiceBusClient,
  type ServiceBusRuleManager,
} from '@azure/service-bus';
import { waitFor } from '@hubbub/kernel';
import { type Harness, startHarness } from './harness.ts';

// Sessions, topics, subscriptions and the rule manager through the official SDK, on both engines.

const entities = {
  queues: [
    { name: 'sess', requiresSession: true },
    { name: 'short', requiresSession: true, lockDuration: 1000 },
  ],
  topics: [{ name: 't', subscriptions: [{ name: 'all' }, { name: 'filtered' }] }],
};

async function failsWith(code: string, run: () => Promise<unknown>): Promise<void> {
  await assert.rejects(run(), (err) => {
    assert.ok(isServiceBusError(err), `expected a ServiceBusError, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

async function list(rules: ServiceBusRuleManager): Promise<RuleProperties[]> {
  const out: RuleProperties[] = [];
  for await (const r of rules.listRules()) out.push(r);
  return out;
}

for (const engine of ['memory', 'file'] as const) {
  describe(`SDK sessions, topics and rules (${engine} engine)`, () => {
    let h: Harness;
    let client: Client;
    before(async () => {
      h = await startHarness({ engine, entities });
      client = new ServiceBusClient(h.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 3000 } });
    });
    after(async () => {
      await client.close();
      await h.close();
    });

    it('accepts a named session, keeps its order and state, renews its lock', async () => {
      const sender = client.createSender('sess');
      await sender.sendMessages([
        { body: 'a1', sessionId: 'a' },
        { body: 'b1', sessionId: 'b' },
        { body: 'a2', sessionId: 'a' },
      ]);
      const a = await client.acceptSession('sess', 'a');
      assert.equal(a.sessionId, 'a');
      assert.ok(a.sessionLockedUntilUtc instanceof Date && a.sessionLockedUntilUtc.getTime() > Date.now());
      const got = await a.receiveMessages(5, { maxWaitTimeInMs: 2000 });
      assert.deepEqual(
        got.map((m) => [m.body, m.sessionId]),
        [
          ['a1', 'a'],
          ['a2', 'a'],
        ],
      );
      for (const m of got) await a.completeMessage(m);
      await a.setSessionState({ step: 2 });
      assert.deepEqual(await a.getSessionState(), { step: 2 });
      const renewed = await a.renewSessionLock();
      assert.ok(renewed instanceof Date);
      await failsWith('SessionCannotBeLocked', () => client.acceptSession('sess', 'a'));
      await a.close();
      const again = await client.acceptSession('sess', 'a');
      assert.deepEqual(await again.getSessionState(), { step: 2 }, 'state outlives the receiver');
      await again.close();
    });

    it('accepts the next session with messages', async () => {
      const next = await client.acceptNextSession('sess');
      assert.equal(next.sessionId, 'b');
      const [m] = await next.receiveMessages(1, { maxWaitTimeInMs: 2000 });
      assert.equal(m?.body, 'b1');
      await next.completeMessage(m!);
      await next.close();
      // Nothing left: the held attach is refused once the SDK's timeout passes.
      await failsWith('SessionCannotBeLocked', () => client.acceptNextSession('sess'));
    });

    it('reports a session lock that expired as SessionLockLost', async () => {
      await client.createSender('short').sendMessages({ body: 'x', sessionId: 's' });
      const s = await client.acceptSession('short', 's', { maxAutoLockRenewalDurationInMs: 0 });
      const until = s.sessionLockedUntilUtc!.getTime();
      await waitFor(() => Date.now() > until + 50, { timeoutMs: 5000 });
      await failsWith('SessionLockLost', () => s.renewSessionLock());
      await s.close();
    });

    it('fans a topic out to subscriptions, filtered by SQL and correlation rules with actions', async () => {
      const rules = client.createRuleManager('t', 'filtered');
      await rules.deleteRule('$Default');
      await rules.createRule('red', { sqlExpression: "color = 'red'" }, { sqlExpression: "SET handled = 'yes'" });
      await rules.createRule('blue', { subject: 'blue', applicationProperties: { k: 'v' } });
      await failsWith('MessagingEntityAlreadyExists', () => rules.createRule('red', { sqlExpression: '1=1' }));
      const listed = await list(rules);
      assert.deepEqual(listed.map((r) => r.name).sort(), ['blue', 'red']);
      const red = listed.find((r) => r.name === 'red')!;
      assert.deepEqual(red.filter, { sqlExpression: "color = 'red'" });
      assert.equal(red.action.sqlExpression, "SET handled = 'yes'");
      const blue = listed.find((r) => r.name === 'blue')!;
      assert.equal((blue.filter as { subject?: string }).subject, 'blue');
      assert.deepEqual((blue.filter as { applicationProperties?: unknown }).applicationProperties, { k: 'v' });

      await client.createSender('t').sendMessages([
        { body: 'r', applicationProperties: { color: 'red' } },
        { body: 'b', subject: 'blue', applicationProperties: { k: 'v' } },
        { body: 'g', applicationProperties: { color: 'green' } },
      ]);
      const all = client.createReceiver('t', 'all');
      const everything: unknown[] = [];
      while (everything.length < 3) {
        for (const m of await all.receiveMessages(3, { maxWaitTimeInMs: 2000 })) {
          everything.push(m.body);
          await all.completeMessage(m);
        }
      }
      assert.deepEqual(everything, ['r', 'b', 'g']);
      const filtered = client.createReceiver('t', 'filtered');
      const some = await filtered.receiveMessages(5, { maxWaitTimeInMs: 2000 });
      assert.deepEqual(
        some.map((m) => m.body),
        ['r', 'b'],
      );
      assert.equal(some[0]!.applicationProperties?.handled, 'yes');
      for (const m of some) await filtered.completeMessage(m);

      await rules.deleteRule('blue');
      assert.deepEqual(
        (await list(rules)).map((r) => r.name),
        ['red'],
      );
      await failsWith('MessagingEntityNotFound', () => rules.deleteRule('blue'));
      await all.close();
      await filtered.close();
    });

    it('peeks a session and dead-letters into a subscription dead-letter queue', async () => {
      await client.createSender('sess').sendMessages([
        { body: 'p1', sessionId: 'peek' },
        { body: 'p2', sessionId: 'peek' },
      ]);
      const s = await client.acceptSession('sess', 'peek');
      assert.deepEqual(
        (await s.peekMessages(5)).map((m) => m.body),
        ['p1', 'p2'],
      );
      for (const m of await s.receiveMessages(2, { maxWaitTimeInMs: 2000 })) await s.completeMessage(m);
      await s.close();

      await client.createSender('t').sendMessages({ body: 'poison' });
      const all = client.createReceiver('t', 'all');
      const [m] = await all.receiveMessages(1, { maxWaitTimeInMs: 2000 });
      assert.equal(m?.body, 'poison');
      await all.deadLetterMessage(m!, { deadLetterReason: 'poison', deadLetterErrorDescription: 'cannot parse' });
      const dlq = client.createReceiver('t', 'all', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
      const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2000 });
      assert.equal(dead?.body, 'poison');
      assert.equal(dead?.deadLetterReason, 'poison');
      await dlq.close();
      await all.close();
      // The filtered subscription took nothing: its rules do not match.
      const filtered = client.createReceiver('t', 'filtered');
      assert.equal((await filtered.peekMessages(5)).length, 0);
      await filtered.close();
    });

    it('schedules and cancels on a topic', async () => {
      const sender = client.createSender('t');
      const [seq] = await sender.scheduleMessages({ body: 'later' }, new Date(Date.now() + 3_600_000));
      assert.ok(seq !== undefined);
      await sender.cancelScheduledMessages(seq);
      await failsWith('MessageNotFound', () => sender.cancelScheduledMessages(seq));
    });

    it('reports missing subscriptions and bad filters', async () => {
      await failsWith('MessagingEntityNotFound', () =>
        client.createReceiver('t', 'nope').receiveMessages(1, { maxWaitTimeInMs: 500 }),
      );
      const rules = client.createRuleManager('t', 'filtered');
      await assert.rejects(rules.createRule('broken', { sqlExpression: 'color = = 1' }), (err) =>
        isServiceBusError(err),
      );
    });
  });
}

describe('SDK error codes for the front and the bus refusing work', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ front: { maxLinksPerConnection: 4 } });
  });
  after(() => h.close());

  it('refuses links past the per-connection bound with QuotaExceeded', async () => {
    const client = new ServiceBusClient(h.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 3000 } });
    // CBS takes two links; two senders fit, the third does not.
    await client.createSender('orders').sendMessages({ body: 1 });
    const second = client.createReceiver('orders');
    await second.peekMessages(1).catch(() => {});
    await failsWith('QuotaExceeded', async () => {
      for (let i = 0; i < 4; i++) await client.createReceiver('orders').receiveMessages(1, { maxWaitTimeInMs: 200 });
    });
    await client.close();
  });

  it('answers ServiceBusy while the bus is shut', async () => {
    const client = new ServiceBusClient(h.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 3000 } });
    await h.bus.close();
    await failsWith('ServiceBusy', () => client.createSender('orders').sendMessages({ body: 1 }));
    await client.close();
  });
});
