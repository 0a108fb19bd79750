import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBusError } from '../errors.ts';
import {
  messageToBrokerProperties,
  parseBrokerPropertiesHeader,
  readBrokerProperties,
  writeBrokerProperties,
} from './broker-properties.ts';
import { createSasToken, verifySasToken } from './sas.ts';
import { customHeadersToProperties, decodeBody, encodeBody, formatPropertyValue, parsePropertyValue } from './wire.ts';

describe('SAS tokens', () => {
  const keys = new Map([['RootManageSharedAccessKey', 'secret-key']]);
  const key = { name: 'RootManageSharedAccessKey', key: 'secret-key' };
  const now = 1_800_000_000_000;
  const exp = now / 1000 + 3600;

  it('accepts a token the SDKs would build', () => {
    const token = createSasToken('http://127.0.0.1:7071/bus/orders', key, exp);
    assert.deepEqual(verifySasToken(token, keys, 'orders', now, '/bus/orders/messages'), {
      ok: true,
      keyName: 'RootManageSharedAccessKey',
      expiresAtMs: exp * 1000,
    });
  });

  it('accepts namespace-wide and entity-prefix resources', () => {
    for (const resource of ['sb://ns.servicebus.windows.net/', 'http://h/bus', 'orders', 'http://h/t1']) {
      const token = createSasToken(resource, key, exp);
      const entity = resource.endsWith('t1') ? 't1/subscriptions/s' : 'orders';
      assert.equal(verifySasToken(token, keys, entity, now, `/bus/${entity}/messages/head`).ok, true, resource);
    }
  });

  const bad: Array<[string, string | undefined]> = [
    ['missing header', undefined],
    ['empty header', ''],
    ['wrong scheme', 'Bearer abc'],
    ['malformed pair', 'SharedAccessSignature sr'],
    ['missing fields', 'SharedAccessSignature sr=a&sig=b'],
    ['bad encoding', 'SharedAccessSignature sr=%E0%A4%A&sig=b&se=1&skn=k'],
    ['unknown key', createSasToken('orders', { name: 'other', key: 'secret-key' }, exp)],
    ['wrong key', createSasToken('orders', { name: key.name, key: 'nope' }, exp)],
    ['expired', createSasToken('orders', key, now / 1000 - 1)],
    ['other entity', createSasToken('http://h/bus/payments', key, exp)],
    ['bad expiry', createSasToken('orders', key, exp).replace(/se=\d+/, 'se=soon')],
    ['tampered resource', createSasToken('orders', key, exp).replace('sr=orders', 'sr=payments')],
  ];
  for (const [name, header] of bad) {
    it(`rejects: ${name}`, () => {
      const result = verifySasToken(header, keys, 'orders', now, '/bus/orders/messages');
      assert.equal(result.ok, false);
    });
  }
});

describe('REST message wire format', () => {
  it('parses BrokerProperties', () => {
    const fields = parseBrokerPropertiesHeader(
      JSON.stringify({
        MessageId: 'm1',
        Label: 'driveby',
        CorrelationId: 'c',
        SessionId: 's',
        ReplyTo: 'r',
        ReplyToSessionId: 'rs',
        To: 't',
        PartitionKey: 'pk',
        TimeToLive: 1.5,
        ScheduledEnqueueTimeUtc: 'Sun, 06 Nov 1994 08:49:37 GMT',
      }),
    );
    assert.deepEqual(fields, {
      messageId: 'm1',
      subject: 'driveby',
      correlationId: 'c',
      sessionId: 's',
      replyTo: 'r',
      replyToSessionId: 'rs',
      to: 't',
      partitionKey: 'pk',
      timeToLive: 1500,
      scheduledEnqueueTime: new Date('1994-11-06T08:49:37Z'),
    });
    assert.deepEqual(parseBrokerPropertiesHeader(undefined), {});
  });

  const badHeaders = [
    '{not json',
    '[1]',
    '"text"',
    '{"MessageId": 5}',
    '{"Label": true}',
    '{"TimeToLive": "10"}',
    '{"TimeToLive": -1}',
    '{"ScheduledEnqueueTimeUtc": "never"}',
    '{"ScheduledEnqueueTimeUtc": 5}',
  ];
  for (const header of badHeaders) {
    it(`rejects BrokerProperties ${header}`, () => {
      assert.throws(
        () => parseBrokerPropertiesHeader(header),
        (err: unknown) => isBusError(err, 'BUS_INVALID_MESSAGE'),
      );
    });
  }

  it('types custom property header values', () => {
    const cases: Array<[string, unknown]> = [
      ['"quoted"', 'quoted'],
      ['"with \\"escape\\""', 'with "escape"'],
      ['"broken', '"broken'],
      ['plain', 'plain'],
      ['42', 42],
      ['-1.5', -1.5],
      ['1e3', 1000],
      ['9007199254740993', 9007199254740993n],
      ['true', true],
      ['false', false],
      ['', ''],
    ];
    for (const [raw, expected] of cases) assert.deepEqual(parsePropertyValue(raw), expected, raw);
  });

  it('takes custom headers as application properties, skipping HTTP plumbing', () => {
    assert.deepEqual(
      customHeadersToProperties({
        host: 'x',
        authorization: 'y',
        'content-type': 'application/json',
        'user-agent': 'curl',
        'x-ms-version': '1',
        brokerproperties: '{}',
        storeid: '7',
        priority: '"high"',
      }),
      { storeid: 7, priority: 'high' },
    );
    assert.equal(customHeadersToProperties({ host: 'x' }), undefined);
  });

  it('formats property values for response headers', () => {
    assert.equal(formatPropertyValue('a"b'), '"a\\"b"');
    assert.equal(formatPropertyValue(5), '5');
    assert.equal(formatPropertyValue(5n), '5');
    assert.equal(formatPropertyValue(true), 'true');
    assert.equal(formatPropertyValue(null), 'null');
    assert.equal(formatPropertyValue(new Date('1994-11-06T08:49:37Z')), '"Sun, 06 Nov 1994 08:49:37 GMT"');
  });

  it('decodes bodies by content type and encodes them back', () => {
    const json = Buffer.from('{"orderid":1}');
    assert.deepEqual(decodeBody(json, 'application/json; charset=utf-8'), { orderid: 1 });
    assert.deepEqual(decodeBody(json, 'application/vnd.api+json'), { orderid: 1 });
    assert.equal(decodeBody(Buffer.from('not json'), 'application/json') instanceof Buffer, true);
    assert.equal(decodeBody(Buffer.from('hi'), 'text/plain'), 'hi');
    assert.equal(decodeBody(Buffer.from('hi'), undefined) instanceof Buffer, true);
    assert.equal(encodeBody({ a: 1 }).toString(), '{"a":1}');
    assert.equal(encodeBody('hi').toString(), 'hi');
    assert.equal(encodeBody(new Uint8Array([104, 105])).toString(), 'hi');
    assert.equal(encodeBody(undefined).length, 0);
  });
});

describe('BrokerProperties, both ways', () => {
  it('reads back what the API writes, as the library counts deliveries', () => {
    const message = {
      body: 'x',
      applicationProperties: {},
      messageId: 'm1',
      correlationId: 'c1',
      subject: 's',
      sessionId: 'k',
      contentType: 'text/plain',
      timeToLive: 60_000,
      sequenceNumber: 7n,
      enqueuedTime: new Date('2026-01-02T03:04:05Z'),
      expiresAt: undefined,
      deliveryCount: 2,
      state: 'deferred',
      lockToken: 'lock-1',
      lockedUntil: new Date('2026-01-02T03:05:05Z'),
      deadLetterReason: undefined,
      deadLetterErrorDescription: undefined,
      deadLetterSource: undefined,
    } as const;
    for (const delivery of ['received', 'peeked'] as const) {
      const bp = JSON.parse(JSON.stringify(messageToBrokerProperties(message, delivery)));
      assert.deepEqual(readBrokerProperties(bp, delivery), {
        deliveryCount: 2,
        sequenceNumber: 7n,
        messageId: 'm1',
        correlationId: 'c1',
        subject: 's',
        sessionId: 'k',
        contentType: 'text/plain',
        enqueuedTime: message.enqueuedTime,
        state: 'deferred',
        lockToken: 'lock-1',
        lockedUntil: message.lockedUntil,
      });
    }
  });

  it('writes what a sender sets, and the API parses it back', () => {
    const fields = { messageId: 'm', subject: 'label', replyTo: 'r', timeToLive: 1_500, partitionKey: undefined };
    const bp = writeBrokerProperties(fields);
    assert.deepEqual(bp, { MessageId: 'm', Label: 'label', ReplyTo: 'r', TimeToLive: 1.5 });
    assert.deepEqual(parseBrokerPropertiesHeader(JSON.stringify(bp)), {
      messageId: 'm',
      subject: 'label',
      replyTo: 'r',
      timeToLive: 1_500,
    });
  });

  it('leaves out properties of the wrong type when reading', () => {
    assert.deepEqual(readBrokerProperties({ MessageId: 5, DeliveryCount: 1, State: 'Active' }, 'received'), {
      deliveryCount: 0,
      state: 'active',
    });
  });
});
