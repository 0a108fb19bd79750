/**
 * The MessagePack protocol's length prefix: an unsigned VarInt, 7 bits per byte, least significant
 * group first, high bit set on every byte but the last; at most 5 bytes, at most 2^31 - 1.
 * @module
 */
import { HubProtocolError, HubProtocolErrorCode } from './errors.ts';

/** The largest length a prefix may carry (2^31 - 1). */
export const MAX_VARINT_VALUE = 0x7fffffff;
const MAX_VARINT_BYTES = 5;

/** How many bytes `writeVarInt(value)` takes (1 to 5). */
export function varIntSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/**
 * Writes `value` into `target` at `offset` and returns the offset after it.
 * Without a target, returns a new array holding just the prefix.
 */
export function writeVarInt(value: number): Uint8Array;
export function writeVarInt(value: number, target: Uint8Array, offset?: number): number;
export function writeVarInt(value: number, target?: Uint8Array, offset = 0): Uint8Array | number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT_VALUE) {
    throw new RangeError(`VarInt value out of range: ${value}`);
  }
  const out = target ?? new Uint8Array(varIntSize(value));
  let pos = target === undefined ? 0 : offset;
  let rest = value;
  while (rest >= 0x80) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  out[pos++] = rest;
  return target === undefined ? out : pos;
}

export interface VarIntRead {
  readonly value: number;
  /** Bytes the prefix took. */
  readonly size: number;
}

/**
 * Reads a VarInt at `offset`. Returns `undefined` when `input` ends before the prefix does.
 * Throws `HUB_PROTOCOL_INVALID_MESSAGE` for a prefix longer than 5 bytes or above 2^31 - 1.
 */
export function readVarInt(input: Uint8Array, offset = 0): VarIntRead | undefined {
  let value = 0;
  let shift = 0;
  for (let size = 1; size <= MAX_VARINT_BYTES; size++) {
    const byte = input[offset + size - 1];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      if (value > MAX_VARINT_VALUE) break;
      return { value, size };
    }
    shift += 7;
  }
  throw new HubProtocolError(HubProtocolErrorCode.InvalidMessage, 'Message length prefix is larger than 2^31 - 1.');
}
