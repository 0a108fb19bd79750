import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { PropertyValue } from '@hubbub/bus';
import type { Delivery } from '@hubbub/bus/broker';
import type { StoredMessage } from '@hubbub/bus/engine';
import { dotnetOrder, guidBytes, lockTokenTag, toAmqpMessage } from './codec.ts';
import { encodeDelivery } from './encode.ts';
import { amqpMessage } from './rhea.ts';

const base: StoredMessage = {
  entity: 'q',
  seq: 1,
  body: Buffer.from('{"a":1}'),
  bodyType: 'json',
  enqueuedTime: 1_764_900_000_000,
  deliveryCount: 0,
  state: 'active',
};
const delivery = (msg: Partial<StoredMessage>, lock: Partial<Delivery> = {}): Delivery => ({
  msg: { ...base, ...msg },
  path: 'q',
  lockToken: randomUUID(),
  lockedUntil: 1_764_900_060_000,
  ...lock,
});
const rheaBytes = (d: Delivery): Buffer => amqpMessage.encode(toAmqpMessage(d));

describe('encodeDelivery', () => {
  const cases: [string, Delivery][] = [
    ['a bare JSON message', delivery({})],
    ['no lock (receive-and-delete, peek)', delivery({}, { lockToken: undefined, lockedUntil: undefined })],
    ['a string body', delivery({ body: Buffer.from('héllo wörld'), bodyType: 'string' })],
    ['a long string body', delivery({ body: Buffer.from('ü'.repeat(300)), bodyType: 'string' })],
    ['an empty bytes body', delivery({ body: new Uint8Array(0), bodyType: 'bytes' })],
    ['a 64 KiB bytes body', delivery({ body: Buffer.alloc(65_536, 7), bodyType: 'bytes' })],
    ['large sequence numbers and counts', delivery({ seq: 2 ** 40 + 3, deliveryCount: 300 })],
    ['sequence numbers at the small-long edge', delivery({ seq: 127, deliveryCount: 255 })],
    ['sequence number 128', delivery({ seq: 128, deliveryCount: 256, state: 'deferred' })],
    ['a scheduled message', delivery({ state: 'scheduled', scheduledEnqueueTime: 1_764_900_100_000 })],
    ['only a message id', delivery({ messageId: 'm-1' })],
    ['only a reply-to session', delivery({ replyToSessionId: 'rs' })],
    ['only a subject', delivery({ subject: 's' })],
    ['only a correlation id', delivery({ correlationId: 'c' })],
    ['only a content type', delivery({ contentType: 'application/json' })],
    ['only an expiry', delivery({ expiresAt: 1_764_900_200_000, timeToLive: 200_000 })],
    [
      'every property',
      delivery({
        messageId: 'x'.repeat(300),
        correlationId: 'corr',
        subject: 'subj',
        contentType: 'text/plain',
        to: 'to',
        replyTo: 'reply',
        sessionId: 'sess',
        replyToSessionId: 'rsess',
        partitionKey: 'sess',
        timeToLive: 70_000,
        expiresAt: 1_764_900_070_000,
      }),
    ],
    [
      'dead-lettered',
      delivery({
        deadLetterReason: 'why',
        deadLetterErrorDescription: 'because',
        deadLetterSource: 'q',
        applicationProperties: { a: 1, DeadLetterReason: 'old' },
      }),
    ],
    ['only a dead-letter description', delivery({ deadLetterErrorDescription: 'd' })],
  ];
  const values: Record<string, PropertyValue> = {
    s: 'text',
    long: 'ß'.repeat(200),
    t: true,
    f: false,
    n: null,
    zero: 0,
    negZero: -0,
    one: 1,
    byte: 255,
    big: 256,
    u32max: 2 ** 32 - 1,
    u32over: 2 ** 32,
    huge: 2 ** 52 + 1,
    neg: -1,
    neg128: -128,
    neg129: -129,
    minInt: -2_147_483_647,
    belowMinInt: -2_147_483_648,
    negHuge: -(2 ** 45) - 5,
    half: 0.5,
    negHalf: -1.25,
    inf: Number.POSITIVE_INFINITY,
    nan: Number.NaN,
    bigSmall: 5n,
    bigNeg: -128n,
    bigLarge: 2n ** 62n,
    bigNegLarge: -(2n ** 40n),
    date: new Date(1_764_900_000_123),
    '10': 'an integer-like key (JS orders it first)',
  };
  cases.push(['application properties of every kind', delivery({ applicationProperties: values })]);

  for (const [name, d] of cases)
    it(`writes rhea's bytes: ${name}`, () => {
      assert.deepEqual(encodeDelivery(d), rheaBytes(d));
    });

  it('returns a buffer of its own each time (the scratch space is reused)', () => {
    const a = encodeDelivery(delivery({ messageId: 'first' }));
    const copy = Buffer.from(a);
    encodeDelivery(delivery({ messageId: 'second', body: Buffer.alloc(40_000) }));
    assert.deepEqual(a, copy);
    assert.equal(amqpMessage.decode(a).message_id, 'first');
  });
});

describe('lockTokenTag', () => {
  it('is the .NET-ordered bytes of the GUID, upper or lower case', () => {
    for (let i = 0; i < 200; i++) {
      const token = randomUUID();
      assert.deepEqual(lockTokenTag(token), dotnetOrder(guidBytes(token)));
      assert.deepEqual(lockTokenTag(token.toUpperCase()), dotnetOrder(guidBytes(token)));
    }
  });
});
