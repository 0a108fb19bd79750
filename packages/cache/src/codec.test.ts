import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeValue, encodeValue, utf8BytesOver } from './codec.ts';

describe('value codec', () => {
  const cases: Array<[string, unknown, string]> = [
    ['an integer as its digits', 42, '42'],
    ['a negative float', -1.5, '-1.5'],
    ['a string as JSON text', 'hi ✓', '"hi ✓"'],
    ['null', null, 'null'],
    ['an object', { a: [1, true] }, '{"a":[1,true]}'],
    ['bytes as NUL + base64', Uint8Array.from([0x7b, 0, 255]), '\u0000ewD/'],
    ['no bytes as a lone NUL', new Uint8Array(0), '\u0000'],
  ];
  for (const [what, value, stored] of cases) {
    it(`stores ${what}`, () => {
      assert.equal(encodeValue(value), stored);
      assert.deepEqual(decodeValue(stored, 'k'), value);
    });
  }

  it('reads bytes back as a plain Uint8Array that does not share the caller’s memory', () => {
    const source = Buffer.from([1, 2, 3]);
    const stored = encodeValue(source);
    source[0] = 9;
    const back = decodeValue(stored, 'k') as Uint8Array;
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
    assert.deepEqual([...back], [1, 2, 3]);
  });

  it('refuses values JSON cannot carry, and stored text it did not write', () => {
    for (const value of [undefined, () => {}, 1n, Symbol('s')]) {
      assert.throws(() => encodeValue(value), { code: 'CACHE_INVALID_VALUE' });
    }
    for (const stored of ['', 'hello', '{"a":']) {
      assert.throws(() => decodeValue(stored, 'k'), { code: 'CACHE_INVALID_VALUE' });
    }
  });

  it('counts UTF-8 bytes only when they could pass the limit', () => {
    assert.equal(utf8BytesOver('abc', 9), undefined);
    assert.equal(utf8BytesOver('ééé', 5), 6);
    assert.equal(utf8BytesOver('abcdef', 5), 6);
    assert.equal(utf8BytesOver('ab', 1), 2);
  });
});
