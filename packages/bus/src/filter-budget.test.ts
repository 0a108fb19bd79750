import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBus } from './client.ts';

// A rule whose LIKE runs out of its evaluation budget on a message is a filter evaluation
// exception: the subscription dead-letters the message when it asks to, otherwise the rule does
// not match. The send succeeds and every other subscription routes as usual.
describe('a filter over its evaluation budget', () => {
  const heavy = `%${'a'.repeat(40)}b%`;
  const rule = { name: 'heavy', filter: { kind: 'sql' as const, expression: `sys.Label LIKE '${heavy}'` } };

  it('dead-letters with FilterEvaluationException, or does not match, and routes the rest', async () => {
    await using bus = await openBus({ url: 'memory://' });
    await bus.admin.createTopic('t');
    await bus.admin.createSubscription('t', 'strict', {
      rules: [rule],
      deadLetteringOnFilterEvaluationExceptions: true,
    });
    await bus.admin.createSubscription('t', 'lenient', { rules: [rule] });
    await bus.admin.createSubscription('t', 'all');
    await bus.admin.createSubscription('t', 'either', {
      rules: [rule, { name: 'cheap', filter: { kind: 'sql', expression: "sys.Label LIKE 'a%'" } }],
    });
    const label = 'a'.repeat(100_000);
    await bus.createSender('t').send([
      { body: 'costly', subject: label },
      { body: 'cheap', subject: `${'a'.repeat(40)}b` },
    ]);

    const bodies = async (subscription: string, subQueue?: 'deadLetter'): Promise<unknown[]> => {
      const address = subQueue === undefined ? { topic: 't', subscription } : { topic: 't', subscription, subQueue };
      const got = await bus.createReceiver(address, { receiveMode: 'receiveAndDelete' }).receiveMessages(10, {
        maxWaitTimeMs: 0,
      });
      if (subQueue !== undefined) for (const m of got) assert.equal(m.deadLetterReason, 'FilterEvaluationException');
      return got.map((m) => m.body);
    };
    assert.deepEqual(await bodies('strict'), ['cheap']);
    assert.deepEqual(await bodies('strict', 'deadLetter'), ['costly']);
    assert.deepEqual(await bodies('lenient'), ['cheap']);
    assert.deepEqual(await bodies('lenient', 'deadLetter'), []);
    assert.deepEqual(await bodies('all'), ['costly', 'cheap']);
    assert.deepEqual(await bodies('either'), ['costly', 'cheap'], 'the cheap rule still matches');
  });
});
