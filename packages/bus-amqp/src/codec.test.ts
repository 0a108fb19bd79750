import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivery } from '@hubbub/bus/broker';
import {
  asBigInt,
  BATCH_FORMAT,
  decodeTransfer,
  dotnetOrder,
  guidBytes,
  guidString,
  lockTokenTag,
  toAmqpMessage,
} from './codec.ts';
import { amqpMessage, rhea, types } from './rhea.ts';

describe('lock tokens and tags', () => {
  it('writes the tag in .NET GUID order, which the SDK reorders back to the token', () => {
    const token = '00112233-4455-6677-8899-aabbccddeeff';
    assert.equal(lockTokenTag(token).toString('hex'), '33221100554477668899aabbccddeeff');
    assert.equal(guidString(guidBytes(token)), token);
    assert.deepEqual(dotnetOrder(dotnetOrder(guidBytes(token))), guidBytes(token));
  });

  it('reads longs as rhea gives them', () => {
    assert.equal(asBigInt(5), 5n);
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(2n ** 60n);
    assert.equal(asBigInt(b), 2n ** 60n);
    assert.equal(asBigInt('5'), undefined);
  });
});

describe('decodeTransfer', () => {
  it('reads a data section that is JSON as JSON, and other bytes as bytes', () => {
    const [json] = decodeTransfer({ body: amqpMessage.data_section(Buffer.from('{"a":1}')) }, 0);
    assert.deepEqual(json?.body, { a: 1 });
    const [bytes] = decodeTransfer({ body: amqpMessage.data_section(Buffer.from([0xff, 0x00])) }, 0);
    assert.deepEqual([...(bytes!.body as Uint8Array)], [0xff, 0x00]);
    const [text] = decodeTransfer({ body: 'plain' }, 0);
    assert.equal(text?.body, 'plain');
  });

  it('maps properties, header and annotations to the bus message', () => {
    const when = new Date(1_800_000_000_000);
    const [m] = decodeTransfer(
      {
        body: 'x',
        message_id: rhea.string_to_uuid('00112233-4455-6677-8899-aabbccddeeff'),
        group_id: 's1',
        reply_to_group_id: 'r1',
        ttl: 1000,
        message_annotations: { 'x-opt-partition-key': 'pk', 'x-opt-scheduled-enqueue-time': when },
        application_properties: { n: 1, s: 'v' },
      },
      0,
    );
    assert.equal(m?.messageId, '00112233-4455-6677-8899-aabbccddeeff');
    assert.equal(m?.sessionId, 's1');
    assert.equal(m?.replyToSessionId, 'r1');
    assert.equal(m?.timeToLive, 1000);
    assert.equal(m?.partitionKey, 'pk');
    assert.equal(m?.scheduledEnqueueTime?.getTime(), when.getTime());
    assert.deepEqual(m?.applicationProperties, { n: 1, s: 'v' });
  });

  it('splits a batch envelope into its messages', () => {
    const inner = [1, 2, 3].map((n) => amqpMessage.encode({ body: amqpMessage.data_section(Buffer.from(String(n))) }));
    const envelope = amqpMessage.encode({ body: { typecode: 0x75, content: inner, multiple: true } as never });
    const messages = decodeTransfer(envelope, BATCH_FORMAT);
    assert.deepEqual(
      messages.map((m) => m.body),
      [1, 2, 3],
    );
  });

  it('refuses what the bus cannot keep, naming it', () => {
    assert.throws(
      () => decodeTransfer({ body: 1, application_properties: { l: [1, 2] } }, 0),
      /application property 'l'/,
    );
    assert.throws(() => decodeTransfer(Buffer.from([1]), 0x1234), /message format/);
    assert.throws(() => decodeTransfer({ body: 1, ttl: -1 } as never, 0), /ttl/);
  });
});

describe('toAmqpMessage', () => {
  const delivery = (bodyType: 'bytes' | 'string' | 'json', body: string): Delivery => ({
    msg: {
      entity: 'q',
      seq: 7,
      body: Buffer.from(body),
      bodyType,
      enqueuedTime: 1,
      deliveryCount: 2,
      state: 'deferred',
    },
    path: 'q',
    lockToken: 'a',
    lockedUntil: 99,
  });

  it('sends strings as amqp-value and JSON or bytes as one data section, with the broker annotations', () => {
    assert.equal(toAmqpMessage(delivery('string', 'hi')).body, 'hi');
    const json = toAmqpMessage(delivery('json', '{"a":1}'));
    assert.equal((json.body as { typecode: number }).typecode, 0x75);
    const decoded = amqpMessage.decode(amqpMessage.encode(json));
    assert.equal(decoded.delivery_count, 2);
    const ann = decoded.message_annotations as Record<string, unknown>;
    assert.equal(ann['x-opt-sequence-number'], 7);
    assert.equal(ann['x-opt-message-state'], 1);
    assert.ok(ann['x-opt-enqueued-time'] instanceof Date);
    assert.equal((ann['x-opt-locked-until'] as Date).getTime(), 99);
    assert.ok(types);
  });
});
