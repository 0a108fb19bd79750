import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyData, rpcMetadataOf, toRpcMetadata, triggerMetadataOf } from './messages.ts';
import type { BusReceivedMessage } from './port.ts';

const settled = { complete: async () => {}, abandon: async () => {} };
const message = (fields: Partial<BusReceivedMessage> & Pick<BusReceivedMessage, 'body'>): BusReceivedMessage => ({
  sequenceNumber: 7n,
  enqueuedTime: new Date(0),
  deliveryCount: 0,
  ...settled,
  ...fields,
});
const utf8 = (text: string) => new Uint8Array(Buffer.from(text));

describe('Service Bus trigger data', () => {
  it('hands a JSON body on as the text that was sent, without parsing it', () => {
    const sent = '{"orderid":"1001", "lat":47.61}';
    const m = message({ body: undefined, bodyBytes: utf8(sent), bodyType: 'json' });
    Object.defineProperty(m, 'body', {
      get() {
        throw new Error('the body was decoded');
      },
    });
    assert.deepEqual(bodyData(m, false), { json: sent });
  });

  it('hands a string body on as a string, and bytes as bytes when the binding asks for binary', () => {
    assert.deepEqual(bodyData(message({ body: 'hi', bodyBytes: utf8('hi'), bodyType: 'string' }), false), {
      string: 'hi',
    });
    const bytes = utf8('raw');
    assert.deepEqual(bodyData(message({ body: Buffer.from(bytes), bodyBytes: bytes, bodyType: 'bytes' }), true), {
      bytes: Buffer.from(bytes),
    });
  });

  it('serialises a decoded body when the bus gives no stored bytes, bigints as numbers', () => {
    assert.deepEqual(bodyData(message({ body: { n: 1, big: 2n } }), false), { json: '{"n":1,"big":2}' });
    assert.deepEqual(bodyData(message({ body: null }), false), { string: '' });
  });

  it('builds metadata with only the keys that have a value, the delivery counted as the host does', () => {
    const meta = triggerMetadataOf(
      message({ body: 'x', messageId: 'm-1', subject: 'driveby', applicationProperties: { big: 5n, s: 'v' } }),
    );
    assert.deepEqual(Object.keys(meta).sort(), [
      'ApplicationProperties',
      'DeliveryCount',
      'EnqueuedTimeUtc',
      'Label',
      'MessageId',
      'SequenceNumber',
      'Subject',
      'UserProperties',
    ]);
    assert.equal(meta.DeliveryCount, 1);
    const rpc = toRpcMetadata(meta);
    assert.deepEqual(rpc.MessageId, { json: '"m-1"' });
    assert.deepEqual(rpc.SequenceNumber, { int: 7 });
    assert.deepEqual(rpc.ApplicationProperties, { json: '{"big":5,"s":"v"}' });
  });

  it('makes the RPC metadata of one message in one pass exactly as the two steps do, key order included', () => {
    const full = message({
      body: 'x',
      messageId: 'm-"1"',
      correlationId: 'c',
      contentType: 'application/json',
      subject: 'driveby',
      to: 't',
      replyTo: 'r',
      replyToSessionId: 'rs',
      sessionId: 's',
      partitionKey: 'p',
      expiresAt: new Date(5_000),
      lockedUntil: new Date(9_000),
      lockToken: 'lock',
      deadLetterSource: 'dl',
      deliveryCount: 2,
      applicationProperties: { big: 5n, s: 'v' },
    });
    for (const m of [full, message({ body: 'x' })]) {
      const expected = toRpcMetadata(triggerMetadataOf(m));
      const actual = rpcMetadataOf(m);
      assert.deepEqual(actual, expected);
      assert.deepEqual(Object.keys(actual), Object.keys(expected));
    }
  });
});
