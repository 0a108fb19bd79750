import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBusError } from '../errors.ts';
import { compileRule, type RoutableMessage } from './index.ts';

const message: RoutableMessage = {
  body: 'hello',
  messageId: 'm-1',
  subject: 'driveby',
  contentType: 'application/json',
  to: 'kitchen',
  sequenceNumber: 7n,
  applicationProperties: { color: 'red', size: 10, Keep: 'me' },
};

const apply = (sqlExpression: string, m: RoutableMessage = message): RoutableMessage =>
  compileRule({ name: 'r', filter: { kind: 'true' }, action: { sqlExpression } }).apply(m);

describe('SQL rule actions', () => {
  const cases: Array<[string, { [K in keyof RoutableMessage]?: RoutableMessage[K] | undefined }]> = [
    ["SET color = 'blue'", { applicationProperties: { color: 'blue', size: 10, Keep: 'me' } }],
    ['SET size = size * 2', { applicationProperties: { color: 'red', size: 20, Keep: 'me' } }],
    ["SET shade = color + 'dish'", { applicationProperties: { color: 'red', size: 10, Keep: 'me', shade: 'reddish' } }],
    ['SET flag = size > 5', { applicationProperties: { color: 'red', size: 10, Keep: 'me', flag: true } }],
    ['SET n = missing', { applicationProperties: { color: 'red', size: 10, Keep: 'me', n: null } }],
    ['REMOVE color', { applicationProperties: { size: 10, Keep: 'me' } }],
    ['REMOVE missing', { applicationProperties: { color: 'red', size: 10, Keep: 'me' } }],
    ['REMOVE color, size', { applicationProperties: { Keep: 'me' } }],
    ['remove KEEP', { applicationProperties: { color: 'red', size: 10 } }],
    ["SET keep = 'you'", { applicationProperties: { color: 'red', size: 10, Keep: 'you' } }],
    ["SET a = 1, b = 'x'", { applicationProperties: { color: 'red', size: 10, Keep: 'me', a: 1, b: 'x' } }],
    ['SET a = 1; SET b = a + 1', { applicationProperties: { color: 'red', size: 10, Keep: 'me', a: 1, b: 2 } }],
    ['SET a = 1; REMOVE color;', { applicationProperties: { size: 10, Keep: 'me', a: 1 } }],
    ['SET a = 1, REMOVE color', { applicationProperties: { size: 10, Keep: 'me', a: 1 } }],
    ["SET user.[new prop] = 'v'", { applicationProperties: { color: 'red', size: 10, Keep: 'me', 'new prop': 'v' } }],
    ['SET seq = sys.SequenceNumber * 10', { applicationProperties: { color: 'red', size: 10, Keep: 'me', seq: 70 } }],
    ["SET sys.Label = 'routed'", { subject: 'routed' }],
    ["SET sys.Subject = sys.Label + '!'", { subject: 'driveby!' }],
    ["SET sys.To = 'Entity'", { to: 'Entity' }],
    ["SET sys.ReplyTo = 'r'", { replyTo: 'r' }],
    ['SET sys.CorrelationId = color', { correlationId: 'red' }],
    ["SET sys.ContentType = 'text/plain'", { contentType: 'text/plain' }],
    ["SET sys.SessionId = 's1'", { sessionId: 's1' }],
    ["SET sys.ReplyToSessionId = 'rs'", { replyToSessionId: 'rs' }],
    ["SET sys.MessageId = 'm-2'", { messageId: 'm-2' }],
    ["SET sys.PartitionKey = 'pk'", { partitionKey: 'pk' }],
    ['SET sys.CorrelationId = size', { correlationId: '10' }],
    ['SET sys.To = missing', { to: undefined }],
    ['REMOVE sys.To', { to: undefined }],
    ['REMOVE sys.Label', { subject: undefined }],
  ];
  for (const [expression, change] of cases) {
    it(expression, () => {
      const result = apply(expression);
      const expected = { ...message, ...change };
      for (const key of Object.keys(change) as Array<keyof RoutableMessage>) {
        if (change[key] === undefined) delete expected[key];
      }
      assert.deepEqual(result, expected);
    });
  }

  it('never mutates the input message', () => {
    const before = structuredClone(message);
    apply("SET color = 'blue'; REMOVE size; SET sys.Label = 'x'; REMOVE sys.To");
    assert.deepEqual(message, before);
  });

  it('creates application properties when the message has none', () => {
    assert.deepEqual(apply("SET a = 'x'", { body: null }).applicationProperties, { a: 'x' });
  });

  it('is the identity without an action', () => {
    const rule = compileRule({ name: 'r', filter: { kind: 'true' } });
    assert.equal(rule.apply(message), message);
    assert.equal(rule.name, 'r');
  });

  it('evaluates expressions per message (compiled once)', () => {
    const rule = compileRule({
      name: 'r',
      filter: { kind: 'sql', expression: 'size > 1' },
      action: { sqlExpression: 'SET size = size + 1' },
    });
    const a = rule.apply({ body: null, applicationProperties: { size: 1 } });
    const b = rule.apply({ body: null, applicationProperties: { size: 5 } });
    assert.equal(a.applicationProperties?.size, 2);
    assert.equal(b.applicationProperties?.size, 6);
  });
});

describe('SQL rule action errors', () => {
  const cases: Array<[string, number]> = [
    ['', 1],
    ['UPDATE color = 1', 1],
    ['SET', 4],
    ['SET color', 10],
    ['SET color =', 12],
    ["SET color = 'x' REMOVE size", 17],
    ['SET color = (1', 15],
    ['REMOVE', 7],
    ['REMOVE 5', 8],
    ['SET sys.SequenceNumber = 1', 5],
    ['SET sys.EnqueuedTimeUtc = 1', 5],
    ['REMOVE sys.DeliveryCount', 8],
    ['SET sys.Nope = 1', 5],
    ["SET color = 'x", 13],
    ['SET AND = 1', 5],
    ['SET a = 1;;', 11],
  ];
  for (const [expression, position] of cases) {
    it(`${JSON.stringify(expression)} → BUS_INVALID_ACTION at ${position}`, () => {
      assert.throws(
        () => compileRule({ name: 'r', filter: { kind: 'true' }, action: { sqlExpression: expression } }),
        (err: unknown) => {
          assert.ok(isBusError(err, 'BUS_INVALID_ACTION'), String(err));
          assert.equal(err.detail?.position, position, err.message);
          assert.equal(err.detail?.expression, expression);
          return true;
        },
      );
    });
  }

  it('reports a bad filter before a bad action', () => {
    assert.throws(
      () => compileRule({ name: 'r', filter: { kind: 'sql', expression: 'a =' }, action: { sqlExpression: 'nope' } }),
      (err: unknown) => isBusError(err, 'BUS_INVALID_FILTER'),
    );
  });
});
