import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHubbubError } from '@hubbub/kernel';
import { encode } from '@msgpack/msgpack';
import { messagePackProtocol } from './msgpack-protocol.ts';
import { isWellFormedUtf8 } from './msgpack-utf8.ts';
import { writeVarInt } from './varint.ts';

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
const utf8 = (text: string) => [...new TextEncoder().encode(text)];
const framed = (body: number[]) => new Uint8Array([...writeVarInt(body.length), ...body]);

/** A MessagePack str of raw `bytes`, in the given form (fixstr needs fewer than 32 bytes). */
function str(bytes: number[], form: 'fix' | 'str8' | 'str16' | 'str32' = 'fix'): number[] {
  const n = bytes.length;
  switch (form) {
    case 'fix':
      assert.ok(n < 32);
      return [0xa0 | n, ...bytes];
    case 'str8':
      return [0xd9, n, ...bytes];
    case 'str16':
      return [0xda, (n >> 8) & 0xff, n & 0xff, ...bytes];
    case 'str32':
      return [0xdb, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, ...bytes];
  }
}

/** `[1, {}, nil, target, [args…]]` with raw MessagePack pieces. */
const invocation = (target: number[], args: number[][] = [], headers: number[] = [0x80]) =>
  framed([0x95, 0x01, ...headers, 0xc0, ...target, 0x90 | args.length, ...args.flat()]);

const bad = [0x61, 0xff, 0x62]; // 'a', a byte that never occurs in UTF-8, 'b'
const target = str(ascii('t'));

describe('messagepack protocol: strings must be UTF-8', () => {
  const rejected: ReadonlyArray<readonly [string, Uint8Array]> = [
    ['in the target', invocation(str(bad))],
    ['in the invocation id', framed([0x95, 0x01, 0x80, ...str(bad), ...target, 0x90])],
    ['in a header name', invocation(target, [], [0x81, ...str(bad), ...str(ascii('v'))])],
    ['in a header value', invocation(target, [], [0x81, ...str(ascii('k')), ...str(bad)])],
    ['in an argument', invocation(target, [str(bad)])],
    ['as a str8', invocation(target, [str(bad, 'str8')])],
    ['as a str16', invocation(target, [str(bad, 'str16')])],
    ['as a str32', invocation(target, [str(bad, 'str32')])],
    ['as a map key inside an argument', invocation(target, [[0x81, ...str(bad), 0x01]])],
    ['nested in arrays and maps', invocation(target, [[0x91, 0x81, ...str(ascii('k')), 0x91, ...str(bad)]])],
    ['after a bin whose bytes are not UTF-8', invocation(target, [[0xc4, 2, 0xff, 0xfe], str(bad)])],
    ['after a fixext and an ext 8', invocation(target, [[0xd4, 1, 0xff], [0xc7, 2, 5, 0xa1, 0xff], str(bad)])],
    [
      'after 64-bit numbers',
      invocation(target, [[0xcb, ...Array(8).fill(0xff)], [0xcf, ...Array(8).fill(1)], str(bad)]),
    ],
    ['in a stream item', framed([0x94, 0x02, 0x80, ...str(ascii('1')), ...str(bad)])],
    ['in a completion error', framed([0x95, 0x03, 0x80, ...str(ascii('1')), 0x01, ...str(bad)])],
    ['in a completion result', framed([0x95, 0x03, 0x80, ...str(ascii('1')), 0x03, ...str(bad)])],
    ['in a close error', framed([0x92, 0x07, ...str(bad)])],
    ['a lone continuation byte', invocation(target, [str([0x80])])],
    ['an overlong slash (C0 AF)', invocation(target, [str([0xc0, 0xaf])])],
    ['an overlong 3-byte form (E0 80 AF)', invocation(target, [str([0xe0, 0x80, 0xaf])])],
    ['an overlong 4-byte form (F0 80 80 AF)', invocation(target, [str([0xf0, 0x80, 0x80, 0xaf])])],
    ['a surrogate (ED A0 80)', invocation(target, [str([0xed, 0xa0, 0x80])])],
    ['a code point past U+10FFFF (F4 90 80 80)', invocation(target, [str([0xf4, 0x90, 0x80, 0x80])])],
    ['a sequence cut by the end of the string', invocation(target, [str([0x61, 0xe2, 0x82])])],
    ['a 2-byte lead followed by ASCII (C3 28)', invocation(target, [str([0xc3, 0x28])])],
  ];
  for (const [name, input] of rejected) {
    it(`rejects invalid UTF-8 ${name} with HUB_PROTOCOL_INVALID_MESSAGE`, () => {
      assert.throws(
        () => messagePackProtocol.parseMessages(input),
        (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
      );
    });
  }

  const accepted: ReadonlyArray<readonly [string, Uint8Array, unknown[]]> = [
    ['2-, 3- and 4-byte sequences', invocation(target, [str(utf8('é€🚚'))]), ['é€🚚']],
    ['the largest code point', invocation(target, [str([0xf4, 0x8f, 0xbf, 0xbf])]), ['\u{10ffff}']],
    ['the code points around the surrogates', invocation(target, [str(utf8('\ud7ff\ue000'))]), ['\ud7ff\ue000']],
    ['a byte-order mark', invocation(target, [str(utf8('\ufeffx'))]), ['\ufeffx']],
    ['an empty string', invocation(target, [str([])]), ['']],
    ['a long string', invocation(target, [str(utf8('ü'.repeat(40_000)), 'str32')]), ['ü'.repeat(40_000)]],
    ['bin bytes that are not UTF-8', invocation(target, [[0xc4, 2, 0xff, 0xfe]]), [new Uint8Array([0xff, 0xfe])]],
  ];
  for (const [name, input, args] of accepted) {
    it(`accepts ${name}`, () => {
      assert.deepEqual(messagePackProtocol.parseMessages(input), [{ type: 1, target: 't', arguments: args }]);
    });
  }

  it('checks every message of a payload, not only the first', () => {
    const good = framed([...encode([6])]);
    const payload = new Uint8Array([...good, ...invocation(str(bad))]);
    assert.throws(
      () => messagePackProtocol.parseMessages(payload),
      (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
    );
  });
});

describe('isWellFormedUtf8', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const reference = (bytes: Uint8Array) => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };

  it('agrees with a fatal TextDecoder on every 1- and 2-byte input', () => {
    for (let a = 0; a < 256; a++) {
      const one = new Uint8Array([a]);
      assert.equal(isWellFormedUtf8(one, 0, 1), reference(one), `${a}`);
      for (let b = 0; b < 256; b++) {
        const two = new Uint8Array([a, b]);
        if (isWellFormedUtf8(two, 0, 2) !== reference(two)) assert.fail(`[${a}, ${b}]`);
      }
    }
  });

  it('agrees with a fatal TextDecoder on every 3-byte input with a multi-byte lead, and on 4-byte leads', () => {
    const continuations = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
    for (let a = 0xc0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        for (const c of continuations) {
          const three = new Uint8Array([a, b, c]);
          if (isWellFormedUtf8(three, 0, 3) !== reference(three)) assert.fail(`[${a}, ${b}, ${c}]`);
          const four = new Uint8Array([a, b, c, 0x80]);
          if (isWellFormedUtf8(four, 0, 4) !== reference(four)) assert.fail(`[${a}, ${b}, ${c}, 128]`);
        }
      }
    }
  });

  it('looks only inside the range it is given', () => {
    const bytes = new Uint8Array([0xff, 0x61, 0x62, 0xe2]);
    assert.equal(isWellFormedUtf8(bytes, 1, 3), true);
    assert.equal(isWellFormedUtf8(bytes, 1, 4), false);
  });
});
