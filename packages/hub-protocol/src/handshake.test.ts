import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHubbubError } from '@hubbub/kernel';
import { parseHandshakeRequest, writeHandshakeResponse } from './handshake.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('parseHandshakeRequest', () => {
  for (const [name, wrap] of [
    ['string', (s: string) => s],
    ['bytes', utf8],
  ] as const) {
    it(`parses a ${name} request`, () => {
      assert.deepEqual(parseHandshakeRequest(wrap('{"protocol":"messagepack","version":1}\x1e')), {
        request: { protocol: 'messagepack', version: 1 },
        remaining: undefined,
      });
    });

    it(`returns the ${name} after the separator as remaining bytes`, () => {
      const parsed = parseHandshakeRequest(wrap('{"protocol":"json","version":2}\x1e{"type":6}\x1e'));
      assert.deepEqual(parsed?.request, { protocol: 'json', version: 2 });
      assert.equal(text(parsed?.remaining ?? new Uint8Array()), '{"type":6}\x1e');
    });

    it(`returns undefined until the separator arrives (${name})`, () => {
      assert.equal(parseHandshakeRequest(wrap('')), undefined);
      assert.equal(parseHandshakeRequest(wrap('{"protocol":"json",')), undefined);
    });
  }

  it('ignores extra fields', () => {
    assert.deepEqual(parseHandshakeRequest('{"protocol":"json","version":1,"extra":[1]}\x1e')?.request, {
      protocol: 'json',
      version: 1,
    });
  });

  it('returns remaining bytes as a view, without copying', () => {
    const head = utf8('{"protocol":"messagepack","version":1}\x1e');
    const input = new Uint8Array([...head, 0x02, 0x91, 0x06]);
    const parsed = parseHandshakeRequest(input);
    assert.equal(parsed?.remaining?.buffer, input.buffer);
    assert.deepEqual([...(parsed?.remaining ?? [])], [0x02, 0x91, 0x06]);
  });

  const invalid: ReadonlyArray<readonly [string, string | Uint8Array]> = [
    ['bad JSON', '{"protocol":\x1e'],
    ['an empty record', '\x1e'],
    ['an array', '["json",1]\x1e'],
    ['null', 'null\x1e'],
    ['missing protocol', '{"version":1}\x1e'],
    ['an empty protocol', '{"protocol":"","version":1}\x1e'],
    ['a numeric protocol', '{"protocol":1,"version":1}\x1e'],
    ['missing version', '{"protocol":"json"}\x1e'],
    ['a string version', '{"protocol":"json","version":"1"}\x1e'],
    ['a fractional version', '{"protocol":"json","version":1.5}\x1e'],
    ['a negative version', '{"protocol":"json","version":-1}\x1e'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d, 0x1e])],
  ];
  for (const [name, input] of invalid) {
    it(`rejects ${name} with HUB_PROTOCOL_INVALID_HANDSHAKE`, () => {
      assert.throws(
        () => parseHandshakeRequest(input),
        (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_HANDSHAKE'),
      );
    });
  }
});

describe('writeHandshakeResponse', () => {
  it('writes {} + 0x1E on success', () => {
    assert.equal(text(writeHandshakeResponse()), '{}\x1e');
  });

  it('writes the error, JSON-escaped', () => {
    assert.equal(
      text(writeHandshakeResponse("The protocol 'x\"y' is not supported.")),
      '{"error":"The protocol \'x\\"y\' is not supported."}\x1e',
    );
  });

  it('returns independent bytes', () => {
    writeHandshakeResponse().fill(0);
    assert.equal(text(writeHandshakeResponse()), '{}\x1e');
  });
});
