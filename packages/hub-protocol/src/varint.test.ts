import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHubbubError } from '@hubbub/kernel';
import { MAX_VARINT_VALUE, readVarInt, varIntSize, writeVarInt } from './varint.ts';

const examples: ReadonlyArray<readonly [number, number[]]> = [
  [0, [0x00]],
  [1, [0x01]],
  [11, [0x0b]],
  [127, [0x7f]],
  [128, [0x80, 0x01]],
  [5248, [0x80, 0x29]],
  [16383, [0xff, 0x7f]],
  [16384, [0x80, 0x80, 0x01]],
  [0x1fffff, [0xff, 0xff, 0x7f]],
  [0x200000, [0x80, 0x80, 0x80, 0x01]],
  [0x0fffffff, [0xff, 0xff, 0xff, 0x7f]],
  [0x10000000, [0x80, 0x80, 0x80, 0x80, 0x01]],
  [MAX_VARINT_VALUE, [0xff, 0xff, 0xff, 0xff, 0x07]],
];

describe('varint', () => {
  for (const [value, bytes] of examples) {
    it(`${value} <-> ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`, () => {
      assert.deepEqual([...writeVarInt(value)], bytes);
      assert.equal(varIntSize(value), bytes.length);
      assert.deepEqual(readVarInt(new Uint8Array(bytes)), { value, size: bytes.length });
    });
  }

  it('writes into a target at an offset and returns the next offset', () => {
    const target = new Uint8Array(6);
    assert.equal(writeVarInt(5248, target, 3), 5);
    assert.deepEqual([...target], [0, 0, 0, 0x80, 0x29, 0]);
  });

  it('reads at an offset, ignoring what follows', () => {
    assert.deepEqual(readVarInt(new Uint8Array([0xaa, 0x80, 0x29, 0x91]), 1), { value: 5248, size: 2 });
  });

  it('returns undefined for a prefix cut short', () => {
    assert.equal(readVarInt(new Uint8Array([])), undefined);
    assert.equal(readVarInt(new Uint8Array([0x80])), undefined);
    assert.equal(readVarInt(new Uint8Array([0xff, 0xff, 0xff, 0xff])), undefined);
  });

  const invalid: ReadonlyArray<readonly [string, number[]]> = [
    ['six bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['continuation on the fifth byte', [0xff, 0xff, 0xff, 0xff, 0x87]],
    ['2^31', [0x80, 0x80, 0x80, 0x80, 0x08]],
    ['2^35 - 1', [0xff, 0xff, 0xff, 0xff, 0x7f]],
  ];
  for (const [name, bytes] of invalid) {
    it(`rejects ${name} with HUB_PROTOCOL_INVALID_MESSAGE`, () => {
      assert.throws(
        () => readVarInt(new Uint8Array(bytes)),
        (err) => isHubbubError(err, 'HUB_PROTOCOL_INVALID_MESSAGE'),
      );
    });
  }

  for (const value of [-1, 1.5, MAX_VARINT_VALUE + 1, Number.NaN]) {
    it(`refuses to write ${value}`, () => {
      assert.throws(() => writeVarInt(value), RangeError);
    });
  }
});
