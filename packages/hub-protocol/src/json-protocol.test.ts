import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHubbubError } from '@hubbub/kernel';
import { jsonProtocol } from './json-protocol.ts';
import type { HubMessage } from './messages.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
const written = (message: HubMessage) => new TextDecoder().decode(jsonProtocol.writeMessage(message));

describe('json protocol: exact writes', () => {
  const cases: ReadonlyArray<readonly [string, HubMessage, string]> = [
    [
      'non-blocking invocation omits invocationId',
      { type: 1, target: 'send', arguments: [1] },
      '{"type":1,"target":"send","arguments":[1]}',
    ],
    [
      'blocking invocation',
      { type: 1, invocationId: '0', target: 'echo', arguments: ['a'] },
      '{"type":1,"invocationId":"0","target":"echo","arguments":["a"]}',
    ],
    [
      'invocation with headers and streams',
      { type: 1, headers: { a: 'b' }, target: 'up', arguments: [], streamIds: ['0'] },
      '{"type":1,"headers":{"a":"b"},"target":"up","arguments":[],"streamIds":["0"]}',
    ],
    ['stream item', { type: 2, invocationId: '1', item: 5 }, '{"type":2,"invocationId":"1","item":5}'],
    ['void completion', { type: 3, invocationId: '1' }, '{"type":3,"invocationId":"1"}'],
    [
      'completion with null result',
      { type: 3, invocationId: '1', result: null },
      '{"type":3,"invocationId":"1","result":null}',
    ],
    ['completion with error', { type: 3, invocationId: '1', error: 'x' }, '{"type":3,"invocationId":"1","error":"x"}'],
    [
      'stream invocation',
      { type: 4, invocationId: '2', target: 's', arguments: [] },
      '{"type":4,"invocationId":"2","target":"s","arguments":[]}',
    ],
    ['cancel invocation', { type: 5, invocationId: '2' }, '{"type":5,"invocationId":"2"}'],
    ['ping', { type: 6 }, '{"type":6}'],
    ['close', { type: 7 }, '{"type":7}'],
    ['close without reconnect', { type: 7, error: 'e', allowReconnect: false }, '{"type":7,"error":"e"}'],
    [
      'close with reconnect',
      { type: 7, error: 'e', allowReconnect: true },
      '{"type":7,"error":"e","allowReconnect":true}',
    ],
    ['ack', { type: 8, sequenceId: 36 }, '{"type":8,"sequenceId":36}'],
    ['sequence', { type: 9, sequenceId: 1 }, '{"type":9,"sequenceId":1}'],
  ];
  for (const [name, message, json] of cases) {
    it(name, () => assert.equal(written(message), `${json}\x1e`));
  }

  it('never writes a null invocationId, even when handed one', () => {
    const message = { type: 1, invocationId: null, target: 't', arguments: [] } as unknown as HubMessage;
    assert.equal(written(message), '{"type":1,"target":"t","arguments":[]}\x1e');
  });

  it('refuses a completion with both result and error', () => {
    assert.throws(
      () => jsonProtocol.writeMessage({ type: 3, invocationId: '1', result: 1, error: 'x' }),
      (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
    );
  });

  it('refuses an unknown message type', () => {
    assert.throws(
      () => jsonProtocol.writeMessage({ type: 42 } as unknown as HubMessage),
      (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
    );
  });
});

describe('json protocol: parsing', () => {
  it('parses strings and bytes alike, several messages per payload', () => {
    const payload = '{"type":6}\x1e{"type":1,"target":"a","arguments":[]}\x1e{"type":8,"sequenceId":0}\x1e';
    const expected = [{ type: 6 }, { type: 1, target: 'a', arguments: [] }, { type: 8, sequenceId: 0 }];
    assert.deepEqual(jsonProtocol.parseMessages(payload), expected);
    assert.deepEqual(jsonProtocol.parseMessages(utf8(payload)), expected);
  });

  it('skips unknown message types', () => {
    assert.deepEqual(jsonProtocol.parseMessages('{"type":99,"x":1}\x1e{"type":0}\x1e{"type":6}\x1e'), [{ type: 6 }]);
  });

  it('keeps a null completion result and ignores unknown fields', () => {
    assert.deepEqual(jsonProtocol.parseMessages('{"type":3,"invocationId":"1","result":null,"extra":true}\x1e'), [
      { type: 3, invocationId: '1', result: null },
    ]);
  });

  it('accepts a stream item whose item is null, and empty headers', () => {
    assert.deepEqual(jsonProtocol.parseMessages('{"type":2,"invocationId":"1","item":null,"headers":{}}\x1e'), [
      { type: 2, invocationId: '1', item: null },
    ]);
  });

  it('accepts a message exactly at the size limit, counted in UTF-8 bytes', () => {
    const json = '{"type":1,"target":"é","arguments":[]}'; // 38 characters, 39 bytes
    assert.equal(jsonProtocol.parseMessages(`${json}\x1e`, 39).length, 1);
    assert.equal(jsonProtocol.parseMessages(utf8(`${json}\x1e`), 39).length, 1);
  });
});

const invalid = 'HUB_PROTOCOL_INVALID_MESSAGE';
const incomplete = 'HUB_PROTOCOL_INCOMPLETE_MESSAGE';
const tooLarge = 'HUB_PROTOCOL_MESSAGE_TOO_LARGE';

describe('json protocol: malformed input', () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['missing 0x1E', '{"type":6}', incomplete],
    ['second message unterminated', '{"type":6}\x1e{"type":6}', incomplete],
    ['bad JSON', '{"type":\x1e', invalid],
    ['an empty record', '\x1e', invalid],
    ['an array', '[1]\x1e', invalid],
    ['a number', '42\x1e', invalid],
    ['null', 'null\x1e', invalid],
    ['no type', '{}\x1e', invalid],
    ['a string type', '{"type":"6"}\x1e', invalid],
    ['a null invocationId', '{"type":1,"invocationId":null,"target":"a","arguments":[]}\x1e', invalid],
    ['an empty invocationId', '{"type":1,"invocationId":"","target":"a","arguments":[]}\x1e', invalid],
    ['a numeric invocationId', '{"type":1,"invocationId":1,"target":"a","arguments":[]}\x1e', invalid],
    ['no target', '{"type":1,"arguments":[]}\x1e', invalid],
    ['an empty target', '{"type":1,"target":"","arguments":[]}\x1e', invalid],
    ['a numeric target', '{"type":1,"target":1,"arguments":[]}\x1e', invalid],
    ['no arguments', '{"type":1,"target":"a"}\x1e', invalid],
    ['object arguments', '{"type":1,"target":"a","arguments":{}}\x1e', invalid],
    ['streamIds not an array', '{"type":1,"target":"a","arguments":[],"streamIds":"0"}\x1e', invalid],
    ['a numeric stream id', '{"type":1,"target":"a","arguments":[],"streamIds":[0]}\x1e', invalid],
    ['headers as an array', '{"type":1,"target":"a","arguments":[],"headers":[]}\x1e', invalid],
    ['headers as null', '{"type":1,"target":"a","arguments":[],"headers":null}\x1e', invalid],
    ['a numeric header', '{"type":1,"target":"a","arguments":[],"headers":{"a":1}}\x1e', invalid],
    ['a stream item without invocationId', '{"type":2,"item":1}\x1e', invalid],
    ['a stream item without item', '{"type":2,"invocationId":"1"}\x1e', invalid],
    ['a completion with both result and error', '{"type":3,"invocationId":"1","result":1,"error":"x"}\x1e', invalid],
    ['a completion with null result and error', '{"type":3,"invocationId":"1","result":null,"error":"x"}\x1e', invalid],
    ['a completion with a numeric error', '{"type":3,"invocationId":"1","error":1}\x1e', invalid],
    ['a completion without invocationId', '{"type":3,"result":1}\x1e', invalid],
    ['a stream invocation without invocationId', '{"type":4,"target":"a","arguments":[]}\x1e', invalid],
    ['a cancel without invocationId', '{"type":5}\x1e', invalid],
    ['a close with a numeric error', '{"type":7,"error":1}\x1e', invalid],
    ['a close with a string allowReconnect', '{"type":7,"allowReconnect":"true"}\x1e', invalid],
    ['an ack without sequenceId', '{"type":8}\x1e', invalid],
    ['a negative sequenceId', '{"type":8,"sequenceId":-1}\x1e', invalid],
    ['a fractional sequenceId', '{"type":9,"sequenceId":1.5}\x1e', invalid],
    ['a string sequenceId', '{"type":9,"sequenceId":"1"}\x1e', invalid],
  ];
  for (const [name, input, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      assert.throws(
        () => jsonProtocol.parseMessages(input),
        (err) => isHubbubError(err, code),
      );
      assert.throws(
        () => jsonProtocol.parseMessages(utf8(input)),
        (err) => isHubbubError(err, code),
      );
    });
  }

  it(`rejects invalid UTF-8 with ${invalid}`, () => {
    const bytes = new Uint8Array([...utf8('{"type":1,"target":"'), 0xc3, 0x28, ...utf8('","arguments":[]}\x1e')]);
    assert.throws(
      () => jsonProtocol.parseMessages(bytes),
      (err) => isHubbubError(err, invalid),
    );
  });

  it(`rejects a message over maxMessageBytes with ${tooLarge}`, () => {
    const json = '{"type":1,"target":"é","arguments":[]}'; // 38 characters, 39 bytes
    const inputs = [`${json}\x1e`, `{"type":6}\x1e${json}\x1e`];
    for (const input of [...inputs, ...inputs.map(utf8)]) {
      assert.throws(
        () => jsonProtocol.parseMessages(input, 38),
        (err) => isHubbubError(err, tooLarge),
      );
    }
  });

  it('accepts a payload over the limit made of messages under it', () => {
    const payload = '{"type":6}\x1e'.repeat(10);
    assert.equal(jsonProtocol.parseMessages(payload, 10).length, 10);
    assert.equal(jsonProtocol.parseMessages(utf8(payload), 10).length, 10);
  });

  it('counts astral characters as four bytes', () => {
    const json = '{"type":1,"target":"🚚","arguments":[]}'; // 39 UTF-16 units, 41 bytes
    assert.equal(jsonProtocol.parseMessages(`${json}\x1e`, 41).length, 1);
    assert.throws(
      () => jsonProtocol.parseMessages(`${json}\x1e`, 40),
      (err) => isHubbubError(err, tooLarge),
    );
  });
});
