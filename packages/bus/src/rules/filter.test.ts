import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRule, compileSqlFilter, type RoutableMessage } from './index.ts';

const message: RoutableMessage = {
  body: { orderid: 1 },
  messageId: 'm-1',
  correlationId: 'c-1',
  subject: 'driveby',
  contentType: 'application/json',
  to: 'kitchen',
  replyTo: 'replies',
  sessionId: 'store-7',
  sequenceNumber: 42n,
  enqueuedTime: new Date('2026-01-01T00:00:00Z'),
  deliveryCount: 2,
  timeToLive: 60_000,
  applicationProperties: {
    color: 'red',
    size: 10,
    price: 2.5,
    big: 9007199254740993n,
    vip: true,
    nothing: null,
    'my prop': 'spaced',
    Quote: "it's",
    pct: '50%',
    when: new Date('2026-01-01T00:00:00Z'),
  },
};

const matches = (expression: string, m: RoutableMessage = message): boolean => compileSqlFilter(expression)(m);

describe('SQL filter evaluation', () => {
  const cases: Array<[string, boolean]> = [
    // comparisons
    ["color = 'red'", true],
    ["color = 'Red'", false],
    ["color <> 'blue'", true],
    ["color != 'red'", false],
    ['size > 5', true],
    ['size >= 10', true],
    ['size < 10', false],
    ['size <= 10', true],
    ['price > 2', true],
    ['price = 2.5', true],
    ['size = 10.0', true],
    ['big > 9007199254740992', true],
    ['big = 9007199254740993', true],
    ["'abc' < 'abd'", true],
    ['vip = TRUE', true],
    ['vip <> false', true],
    ['vip > false', false],
    ['vip', true],
    ['NOT vip', false],
    ['when = when AND when >= sys.EnqueuedTimeUtc', true],
    // type mismatch is unknown, never true
    ["size = '10'", false],
    ["NOT (size = '10')", false],
    ['color > 1', false],
    // missing property → unknown
    ['missing = 1', false],
    ['NOT (missing = 1)', false],
    ['missing <> 1', false],
    // three-valued logic
    ['missing = 1 OR size = 10', true],
    ['missing = 1 AND size = 10', false],
    ['NOT (missing = 1 AND size = 11)', true],
    ['NOT (missing = 1 OR size = 11)', false],
    ['missing = 1 OR missing = 2', false],
    // precedence: NOT > AND > OR
    ["color = 'blue' AND size = 1 OR size = 10", true],
    ["color = 'blue' AND (size = 1 OR size = 10)", false],
    ["NOT color = 'blue' AND size = 10", true],
    ["size = 10 OR color = 'x' AND size = 11", true],
    // arithmetic
    ['size + 5 = 15', true],
    ['size - 15 = -5', true],
    ['size * 2 = 20', true],
    ['size / 3 = 3', true],
    ['size / 4.0 = 2.5', true],
    ['size % 3 = 1', true],
    ['-size = -10', true],
    ['- -size = +10', true],
    ['2 + 3 * 4 = 14', true],
    ['(2 + 3) * 4 = 20', true],
    ['10 - 2 - 3 = 5', true],
    ['price * 2 = 5', true],
    ['size / 0 = 1', false],
    ['size / 0.0 > 1000', true],
    ['sys.SequenceNumber + 1 = 43', true],
    ["'a' + 'b' = 'ab'", true],
    ["size + 'b' = 'ab'", false],
    ['1.5E1 = 15', true],
    ['.5 = 0.5', true],
    ['size = 10.', true],
    ['2.5E-1 = 0.25', true],
    ['1e2 = 100', true],
    // IN
    ["color IN ('blue', 'red')", true],
    ["color IN ('blue')", false],
    ["color NOT IN ('blue', 'green')", true],
    ["color NOT IN ('red')", false],
    ['size IN (1, 10)', true],
    ['missing IN (1, 2)', false],
    ['missing NOT IN (1, 2)', false],
    ['size IN (1, NULL)', false],
    ['size NOT IN (1, NULL)', false],
    ['size IN (size, 3)', true],
    // LIKE
    ["color LIKE 'r%'", true],
    ["color LIKE 'r_d'", true],
    ["color LIKE 'r_'", false],
    ["color LIKE '%e%'", true],
    ["color NOT LIKE 'b%'", true],
    ["color LIKE 'R%'", false],
    ["[my prop] LIKE 'sp%ed'", true],
    ["Quote LIKE 'it''s'", true],
    ["pct LIKE '50!%' ESCAPE '!'", true],
    ["pct LIKE '5_!%' ESCAPE '!'", true],
    ["color LIKE 're!%' ESCAPE '!'", false],
    ["pct LIKE '50%%'", true],
    ["sys.Label LIKE 'drive.%'", false],
    ["color LIKE '%!%' ESCAPE '!'", false],
    ["size LIKE '1%'", false],
    ["missing LIKE '%'", false],
    ["missing NOT LIKE '%'", false],
    // IS NULL / EXISTS
    ['missing IS NULL', true],
    ['nothing IS NULL', true],
    ['color IS NULL', false],
    ['color IS NOT NULL', true],
    ['missing IS NOT NULL', false],
    ['EXISTS(color)', true],
    ['EXISTS(nothing)', true],
    ['EXISTS(missing)', false],
    ['NOT EXISTS(missing)', true],
    ['EXISTS(sys.ReplyToSessionId)', false],
    ['EXISTS(sys.SessionId)', true],
    ['sys.ReplyToSessionId IS NULL', true],
    // constants
    ['TRUE', true],
    ['FALSE', false],
    ['NULL', false],
    ['1 = 1', true],
    ['1 = 0', false],
    ['NULL = NULL', false],
    ['NULL IS NULL', true],
    // case-insensitive keywords, properties and scopes
    ["COLOR = 'red' and SIZE = 10 Or false", true],
    ["user.color = 'red'", true],
    ["USER.Color = 'red'", true],
    ["[my prop] = 'spaced'", true],
    ['"my prop" = \'spaced\'', true],
    ["user.[my prop] = 'spaced'", true],
    ["property('color') = 'red'", true],
    ["p('sys.label') = 'driveby'", true],
    ['newid() IS NOT NULL', true],
    // system properties
    ["sys.MessageId = 'm-1'", true],
    ["sys.CorrelationId = 'c-1'", true],
    ["sys.Label = 'driveby'", true],
    ["sys.subject = 'driveby'", true],
    ["SYS.LABEL = 'driveby'", true],
    ["sys.ContentType = 'application/json'", true],
    ["sys.To = 'kitchen'", true],
    ["sys.ReplyTo = 'replies'", true],
    ["sys.SessionId = 'store-7'", true],
    ['sys.SequenceNumber = 42', true],
    ['sys.SequenceNumber > 41.5', true],
    ['sys.DeliveryCount = 2', true],
    ['sys.TimeToLive = 60000', true],
    ['sys.ExpiresAtUtc > sys.EnqueuedTimeUtc', true],
    ['sys.PartitionKey IS NULL', true],
    ['sys.ScheduledEnqueueTimeUtc IS NULL', true],
    // whitespace and comments-free formatting
    ["\n\tcolor\n=\r\n'red'  ", true],
    ['((((size = 10))))', true],
  ];
  for (const [expression, expected] of cases) {
    it(`${expression} → ${expected}`, () => {
      assert.equal(matches(expression), expected);
    });
  }

  it('treats a message without application properties as having none', () => {
    assert.equal(matches('color IS NULL', { body: null }), true);
    assert.equal(matches("color = 'red'", { body: null }), false);
    assert.equal(matches('sys.SequenceNumber IS NULL', { body: null }), true);
  });

  it('finds user properties case-insensitively when no exact key exists', () => {
    assert.equal(matches("quote = 'it''s'"), true);
    assert.equal(matches("[MY PROP] = 'spaced'"), true);
  });

  it('compiles once and evaluates many messages without re-parsing', () => {
    const filter = compileSqlFilter('size > 5');
    const sizes = [1, 6, 10, 3];
    assert.deepEqual(
      sizes.map((size) => filter({ body: null, applicationProperties: { size } })),
      [false, true, true, false],
    );
  });
});

describe('true, false and correlation filters', () => {
  it('true matches everything and false nothing', () => {
    assert.equal(compileRule({ name: 't', filter: { kind: 'true' } }).matches(message), true);
    assert.equal(compileRule({ name: 'f', filter: { kind: 'false' } }).matches(message), false);
  });

  const cases: Array<[string, Parameters<typeof compileRule>[0]['filter'], boolean]> = [
    ['subject', { kind: 'correlation', subject: 'driveby' }, true],
    ['subject mismatch', { kind: 'correlation', subject: 'DriveBy' }, false],
    ['content type + to', { kind: 'correlation', contentType: 'application/json', to: 'kitchen' }, true],
    ['one field wrong', { kind: 'correlation', contentType: 'application/json', to: 'bar' }, false],
    ['correlation id', { kind: 'correlation', correlationId: 'c-1' }, true],
    ['message id', { kind: 'correlation', messageId: 'm-1', replyTo: 'replies', sessionId: 'store-7' }, true],
    ['unset field on message', { kind: 'correlation', replyToSessionId: 'x' }, false],
    ['app prop string', { kind: 'correlation', applicationProperties: { color: 'red' } }, true],
    ['app prop number', { kind: 'correlation', applicationProperties: { size: 10 } }, true],
    ['app prop number vs bigint', { kind: 'correlation', applicationProperties: { size: 10n } }, true],
    ['app prop type mismatch', { kind: 'correlation', applicationProperties: { size: '10' } }, false],
    ['app prop boolean', { kind: 'correlation', applicationProperties: { vip: true } }, true],
    ['app prop null', { kind: 'correlation', applicationProperties: { nothing: null } }, true],
    ['app prop missing', { kind: 'correlation', applicationProperties: { missing: null } }, false],
    ['app prop date', { kind: 'correlation', applicationProperties: { when: new Date('2026-01-01T00:00:00Z') } }, true],
    ['app prop + field', { kind: 'correlation', subject: 'driveby', applicationProperties: { color: 'blue' } }, false],
  ];
  for (const [name, filter, expected] of cases) {
    it(`correlation: ${name} → ${expected}`, () => {
      assert.equal(compileRule({ name: 'r', filter }).matches(message), expected);
    });
  }
});
