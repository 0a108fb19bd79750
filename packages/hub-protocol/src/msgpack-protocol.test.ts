import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHubbubError } from '@hubbub/kernel';
import { encode } from '@msgpack/msgpack';
import type { HubMessage } from './messages.ts';
import { messagePackProtocol } from './msgpack-protocol.ts';
import { writeVarInt } from './varint.ts';

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
const xyz = [0xa3, ...ascii('xyz')];
/** Prefixes a MessagePack body with its VarInt length. */
const framed = (body: ArrayLike<number>) => new Uint8Array([...writeVarInt(body.length), ...Array.from(body)]);
/** Encodes `value` with the reference encoder and frames it. */
const frame = (value: unknown) => framed(encode(value));

describe('messagepack protocol: the byte examples of HubProtocol.md', () => {
  const both: ReadonlyArray<readonly [string, number[], HubMessage]> = [
    [
      'invocation (5 elements, as the client writes it)',
      [0x95, 0x01, 0x80, ...xyz, 0xa6, ...ascii('method'), 0x91, 0x2a],
      { type: 1, invocationId: 'xyz', target: 'method', arguments: [42] },
    ],
    [
      'non-blocking invocation',
      [0x95, 0x01, 0x80, 0xc0, 0xa6, ...ascii('method'), 0x91, 0x2a],
      { type: 1, target: 'method', arguments: [42] },
    ],
    [
      'invocation with stream ids',
      [0x96, 0x01, 0x80, ...xyz, 0xa6, ...ascii('method'), 0x90, 0x91, 0xa1, ...ascii('0')],
      { type: 1, invocationId: 'xyz', target: 'method', arguments: [], streamIds: ['0'] },
    ],
    [
      'invocation with headers',
      [0x95, 0x01, 0x81, 0xa3, ...ascii('foo'), 0xa3, ...ascii('bar'), ...xyz, 0xa1, ...ascii('m'), 0x90],
      { type: 1, headers: { foo: 'bar' }, invocationId: 'xyz', target: 'm', arguments: [] },
    ],
    ['stream item', [0x94, 0x02, 0x80, ...xyz, 0x2a], { type: 2, invocationId: 'xyz', item: 42 }],
    [
      'error completion',
      [0x95, 0x03, 0x80, ...xyz, 0x01, 0xa5, ...ascii('Error')],
      { type: 3, invocationId: 'xyz', error: 'Error' },
    ],
    ['void completion', [0x94, 0x03, 0x80, ...xyz, 0x02], { type: 3, invocationId: 'xyz' }],
    ['completion with result', [0x95, 0x03, 0x80, ...xyz, 0x03, 0x2a], { type: 3, invocationId: 'xyz', result: 42 }],
    [
      'completion with nil result',
      [0x95, 0x03, 0x80, ...xyz, 0x03, 0xc0],
      { type: 3, invocationId: 'xyz', result: null },
    ],
    [
      'stream invocation',
      [0x95, 0x04, 0x80, ...xyz, 0xa6, ...ascii('method'), 0x91, 0x2a],
      { type: 4, invocationId: 'xyz', target: 'method', arguments: [42] },
    ],
    ['cancel invocation', [0x93, 0x05, 0x80, ...xyz], { type: 5, invocationId: 'xyz' }],
    ['ping', [0x91, 0x06], { type: 6 }],
    ['close', [0x93, 0x07, 0xc0, 0xc2], { type: 7 }],
    ['close with error', [0x93, 0x07, ...xyz, 0xc2], { type: 7, error: 'xyz' }],
    ['close with reconnect', [0x93, 0x07, ...xyz, 0xc3], { type: 7, error: 'xyz', allowReconnect: true }],
    ['ack (compact integer)', [0x92, 0x08, 0x24], { type: 8, sequenceId: 36 }],
    ['sequence', [0x92, 0x09, 0x01], { type: 9, sequenceId: 1 }],
  ];
  for (const [name, body, message] of both) {
    it(`writes ${name}`, () => assert.deepEqual([...messagePackProtocol.writeMessage(message)], [...framed(body)]));
    it(`parses ${name}`, () => assert.deepEqual(messagePackProtocol.parseMessages(framed(body)), [message]));
  }

  const readOnly: ReadonlyArray<readonly [string, number[], HubMessage]> = [
    [
      'the spec invocation with an empty stream ids array',
      [0x96, 0x01, 0x80, ...xyz, 0xa6, ...ascii('method'), 0x91, 0x2a, 0x90],
      { type: 1, invocationId: 'xyz', target: 'method', arguments: [42] },
    ],
    ['the spec ack, with a uint8 sequence id', [0x92, 0x08, 0xcc, 0x24], { type: 8, sequenceId: 36 }],
    ['the 2-element close the client writes', [0x92, 0x07, 0xc0], { type: 7 }],
    ['a close with nil allowReconnect', [0x93, 0x07, 0xc0, 0xc0], { type: 7 }],
    ['an ack with extra trailing elements', [0x93, 0x08, 0x01, 0xc0], { type: 8, sequenceId: 1 }],
  ];
  for (const [name, body, message] of readOnly) {
    it(`parses ${name}`, () => assert.deepEqual(messagePackProtocol.parseMessages(framed(body)), [message]));
  }

  it('prefixes a 5248-byte body with 0x80 0x29', () => {
    // [1, {}, nil, "t", [str16 of n]] is 10 bytes of structure plus the string.
    const bytes = messagePackProtocol.writeMessage({ type: 1, target: 't', arguments: ['a'.repeat(5238)] });
    assert.deepEqual([...bytes.subarray(0, 2)], [0x80, 0x29]);
    assert.equal(bytes.length, 5250);
    assert.equal(messagePackProtocol.parseMessages(bytes).length, 1);
  });

  it('parses several messages from one payload, skipping unknown types', () => {
    const payload = new Uint8Array([...frame([6]), ...frame([99, 'future']), ...frame([8, 3]), ...frame([6])]);
    assert.deepEqual(messagePackProtocol.parseMessages(payload), [
      { type: 6 },
      { type: 8, sequenceId: 3 },
      { type: 6 },
    ]);
  });

  it('keeps Date arguments as timestamps', () => {
    const when = new Date('2026-01-02T03:04:05.678Z');
    const [message] = messagePackProtocol.parseMessages(
      messagePackProtocol.writeMessage({ type: 1, target: 'at', arguments: [when] }),
    );
    assert.deepEqual(message, { type: 1, target: 'at', arguments: [when] });
  });

  it('refuses to write a completion with both result and error', () => {
    assert.throws(
      () => messagePackProtocol.writeMessage({ type: 3, invocationId: '1', result: 1, error: 'x' }),
      (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
    );
  });

  it('refuses to write an unknown message type', () => {
    assert.throws(
      () => messagePackProtocol.writeMessage({ type: 42 } as unknown as HubMessage),
      (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
    );
  });
});

const invalid = 'HUB_PROTOCOL_INVALID_MESSAGE';
const incomplete = 'HUB_PROTOCOL_INCOMPLETE_MESSAGE';

describe('messagepack protocol: malformed input', () => {
  const cases: ReadonlyArray<readonly [string, Uint8Array, string]> = [
    ['a truncated length prefix', new Uint8Array([0x80]), incomplete],
    ['a truncated body', new Uint8Array([0x05, 0x91]), incomplete],
    ['a truncated second message', new Uint8Array([...frame([6]), 0x02, 0x91]), incomplete],
    ['a 6-byte length prefix', new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), invalid],
    ['a length over 2^31 - 1', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), invalid],
    ['an empty body', new Uint8Array([0x00]), invalid],
    ['not MessagePack', new Uint8Array([0x01, 0xc1]), invalid],
    ['a body truncated inside its length', framed([0x92, 0x08]), invalid],
    ['extra bytes inside a body', framed([0x91, 0x06, 0x00]), invalid],
    ['a number, not an array', frame(6), invalid],
    ['a map, not an array', frame({ type: 6 }), invalid],
    ['an empty array', frame([]), invalid],
    ['a string type', frame(['6']), invalid],
    ['a fractional type', frame([1.5]), invalid],
    ['a 4-element invocation', frame([1, {}, null, 't']), invalid],
    ['an invocation with a numeric id', frame([1, {}, 1, 't', []]), invalid],
    ['an invocation with an empty id', frame([1, {}, '', 't', []]), invalid],
    ['an invocation with a nil target', frame([1, {}, null, null, []]), invalid],
    ['an invocation with an empty target', frame([1, {}, null, '', []]), invalid],
    ['an invocation with map arguments', frame([1, {}, null, 't', {}]), invalid],
    ['an invocation with numeric stream ids', frame([1, {}, null, 't', [], [0]]), invalid],
    ['an invocation with nil stream ids', frame([1, {}, null, 't', [], null]), invalid],
    ['headers as an array', frame([1, [], null, 't', []]), invalid],
    ['headers as nil', frame([5, null, '1']), invalid],
    ['a numeric header value', frame([5, { a: 1 }, '1']), invalid],
    ['a stream item without item', frame([2, {}, '1']), invalid],
    ['a stream item with a nil id', frame([2, {}, null, 1]), invalid],
    ['a completion without result kind', frame([3, {}, '1']), invalid],
    ['a completion with result kind 4', frame([3, {}, '1', 4, 1]), invalid],
    ['an error completion without error', frame([3, {}, '1', 1]), invalid],
    ['an error completion with a numeric error', frame([3, {}, '1', 1, 5]), invalid],
    ['a result completion without result', frame([3, {}, '1', 3]), invalid],
    ['a stream invocation with a nil id', frame([4, {}, null, 't', []]), invalid],
    ['a cancel without id', frame([5, {}]), invalid],
    ['a 1-element close', frame([7]), invalid],
    ['a close with a numeric error', frame([7, 1]), invalid],
    ['a close with a string allowReconnect', frame([7, null, 'yes']), invalid],
    ['an ack without sequence id', frame([8]), invalid],
    ['a negative sequence id', frame([8, -1]), invalid],
    ['a fractional sequence id', frame([9, 1.5]), invalid],
    ['a string sequence id', frame([9, '1']), invalid],
  ];
  for (const [name, input, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      assert.throws(
        () => messagePackProtocol.parseMessages(input),
        (err) => isHubbubError(err, code),
      );
    });
  }

  it('rejects string input', () => {
    assert.throws(
      () => messagePackProtocol.parseMessages('\x02\x91\x06'),
      (err) => isHubbubError(err, invalid),
    );
  });

  it('rejects a declared length over maxMessageBytes before the body arrives', () => {
    const bytes = messagePackProtocol.writeMessage({ type: 1, target: 't', arguments: ['a'.repeat(100)] });
    assert.equal(messagePackProtocol.parseMessages(bytes, bytes.length - 1).length, 1);
    for (const input of [bytes, bytes.subarray(0, 3)]) {
      assert.throws(
        () => messagePackProtocol.parseMessages(input, bytes.length - 2),
        (err) => isHubbubError(err, 'HUB_PROTOCOL_MESSAGE_TOO_LARGE'),
      );
    }
  });
});
