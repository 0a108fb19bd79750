import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeValue, encodeValue } from './codec.ts';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

describe('value codec', () => {
  const cases: Array<[string, unknown, string]> = [
    ['an integer as its digits', 42, '42'],
    ['a negative float', -1.5, '-1.5'],
    ['a string as JSON text', 'hi', '"hi"'],
    ['null', null, 'null'],
    ['an object', { a: [1, true] }, '{"a":[1,true]}'],
  ];
  for (const [what, value, stored] of cases) {
    it(`stores ${what}`, () => {
      const encoded = encodeValue(value);
      assert.equal(text(encoded), stored);
      assert.deepEqual(decodeValue(encoded, 'k'), value);
    });
  }

  it('stores bytes behind a 0x00 tag and reads back a plain copy', () => {
    const source = Uint8Array.from([0x7b, 0, 255]);
    const encoded = encodeValue(source);
    assert.deepEqual([...encoded], [0, 0x7b, 0, 255]);
    source[0] = 1;
    const back = decodeValue(encoded, 'k') as Uint8Array;
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
    assert.deepEqual([...back], [0x7b, 0, 255]);
  });

  it('refuses values JSON cannot carry, and stored text it did not write', () => {
    for (const value of [undefined, () => {}, 1n, Symbol('s')]) {
      assert.throws(() => encodeValue(value), { code: 'CACHE_INVALID_VALUE' });
    }
    for (const stored of ['', 'hello', '{"a":']) {
      assert.throws(() => decodeValue(Buffer.from(stored), 'k'), { code: 'CACHE_INVALID_VALUE' });
    }
  });
});
