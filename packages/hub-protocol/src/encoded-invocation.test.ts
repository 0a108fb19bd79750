import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EncodedInvocation } from './encoded-invocation.ts';
import { jsonProtocol } from './json-protocol.ts';
import { MessageType } from './messages.ts';
import { messagePackProtocol } from './msgpack-protocol.ts';

describe('EncodedInvocation', () => {
  const args = [{ orderid: '7', lat: 47.6, eta: null }, 'x'];
  const text = JSON.stringify({ type: 1, target: 'location', arguments: args });

  it('is what the JSON protocol writes for the invocation, and decodes to it for another protocol', () => {
    const encoded = new EncodedInvocation('location', text);
    const message = { type: MessageType.Invocation, target: 'location', arguments: args } as const;
    assert.deepEqual(Buffer.from(encoded.jsonBytes()), Buffer.from(jsonProtocol.writeMessage(message)));
    assert.deepEqual(encoded.message, message);
    assert.strictEqual(encoded.message, encoded.message, 'decoded once');
    assert.deepEqual(
      Buffer.from(messagePackProtocol.writeMessage(encoded.message)),
      Buffer.from(messagePackProtocol.writeMessage(message)),
    );
  });

  it('is left out when serialised (the backplane message carries its arguments)', () => {
    const encoded = new EncodedInvocation('location', text);
    assert.equal(JSON.stringify({ encoded, arguments: encoded.arguments }), JSON.stringify({ arguments: args }));
  });

  it('refuses text that is not one invocation record of its target', () => {
    for (const bad of [
      '{"type":3,"invocationId":"1"}',
      `${text}\x1e{"type":7}`,
      '{"type":1,"target":"location","arguments":[1]',
      'null',
    ]) {
      assert.throws(() => new EncodedInvocation('location', bad), { code: 'HUB_PROTOCOL_INVALID_MESSAGE' }, bad);
    }
    for (const bad of [
      '{"type":1,"target":"other","arguments":[]}',
      '{"type":1,"target":"location","arguments":{}}',
      '{"type":1,"target":"location","arguments":[}',
    ]) {
      assert.throws(
        () => new EncodedInvocation('location', bad).message,
        { code: 'HUB_PROTOCOL_INVALID_MESSAGE' },
        bad,
      );
    }
  });
});
