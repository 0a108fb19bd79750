/**
 * UTF-8 validation of MessagePack strings. `@msgpack/msgpack` decodes str bytes leniently (an
 * invalid sequence becomes some other text instead of an error), so after a body decodes, one
 * linear pass over its bytes finds every str and checks it is well-formed UTF-8 — the same bytes
 * the JSON protocol's fatal TextDecoder refuses. MessagePack is a prefix encoding, so the pass
 * needs no stack: a header says how many payload bytes to skip, and container headers have none.
 * @module
 */

/**
 * The offset of the first str in `bytes[start, end)` that is not well-formed UTF-8, or -1. The
 * range must hold well-formed MessagePack (the decoder has accepted it).
 */
export function findInvalidUtf8String(bytes: Uint8Array, start: number, end: number): number {
  let p = start;
  while (p < end) {
    const head = bytes[p]!;
    // positive fixint, fixmap, fixarray, negative fixint: the header is the whole element
    if (head < 0xa0 || head >= 0xe0) {
      p++;
      continue;
    }
    let at: number; // first byte of the string
    let length: number;
    if (head < 0xc0) {
      at = p + 1;
      length = head & 0x1f;
    } else if (head === 0xd9) {
      at = p + 2;
      length = bytes[p + 1]!;
    } else if (head === 0xda) {
      at = p + 3;
      length = (bytes[p + 1]! << 8) | bytes[p + 2]!;
    } else if (head === 0xdb) {
      at = p + 5;
      length = readU32(bytes, p + 1);
    } else {
      p += skip(bytes, p, head);
      continue;
    }
    const stop = at + length;
    let i = at;
    while (i < stop && bytes[i]! < 0x80) i++; // most strings are ASCII: no call for them
    if (i < stop && !isWellFormedUtf8(bytes, i, stop)) return p;
    p = stop;
  }
  return -1;
}

/** Bytes taken by the non-string element whose header byte `head` sits at `p`. */
function skip(bytes: Uint8Array, p: number, head: number): number {
  switch (head) {
    case 0xc4: // bin 8
      return 2 + bytes[p + 1]!;
    case 0xc5: // bin 16
      return 3 + ((bytes[p + 1]! << 8) | bytes[p + 2]!);
    case 0xc6: // bin 32
      return 5 + readU32(bytes, p + 1);
    case 0xc7: // ext 8: length, type, data
      return 3 + bytes[p + 1]!;
    case 0xc8: // ext 16
      return 4 + ((bytes[p + 1]! << 8) | bytes[p + 2]!);
    case 0xc9: // ext 32
      return 6 + readU32(bytes, p + 1);
    case 0xcc: // uint 8
    case 0xd0: // int 8
      return 2;
    case 0xcd: // uint 16
    case 0xd1: // int 16
    case 0xd4: // fixext 1 (type + 1)
    case 0xdc: // array 16
    case 0xde: // map 16
      return 3;
    case 0xd5: // fixext 2
      return 4;
    case 0xca: // float 32
    case 0xce: // uint 32
    case 0xd2: // int 32
    case 0xdd: // array 32
    case 0xdf: // map 32
      return 5;
    case 0xd6: // fixext 4
      return 6;
    case 0xcb: // float 64
    case 0xcf: // uint 64
    case 0xd3: // int 64
      return 9;
    case 0xd7: // fixext 8
      return 10;
    case 0xd8: // fixext 16
      return 18;
    default: // nil, false, true (and 0xc1, which the decoder has already refused)
      return 1;
  }
}

function readU32(bytes: Uint8Array, p: number): number {
  return ((bytes[p]! << 24) >>> 0) + ((bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!);
}

/**
 * Whether `bytes[start, end)` is well-formed UTF-8 (Unicode table 3-7): no stray continuation
 * bytes, no overlong forms, no surrogates (U+D800–DFFF), nothing above U+10FFFF, no truncation.
 */
export function isWellFormedUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      // ASCII runs, four bytes at a time
      while (i + 4 <= end && ((bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]!) & 0x80) === 0) i += 4;
      continue;
    }
    if (b < 0xc2) return false; // a continuation byte, or the overlong leads C0 and C1
    if (b < 0xe0) {
      if (i + 1 >= end || (bytes[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    if (b < 0xf0) {
      if (i + 2 >= end) return false;
      const b1 = bytes[i + 1]!;
      if ((b1 & 0xc0) !== 0x80 || (bytes[i + 2]! & 0xc0) !== 0x80) return false;
      if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f)) return false; // overlong, surrogate
      i += 3;
      continue;
    }
    if (b < 0xf5) {
      if (i + 3 >= end) return false;
      const b1 = bytes[i + 1]!;
      if ((b1 & 0xc0) !== 0x80 || (bytes[i + 2]! & 0xc0) !== 0x80 || (bytes[i + 3]! & 0xc0) !== 0x80) return false;
      if ((b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return false; // overlong, past U+10FFFF
      i += 4;
      continue;
    }
    return false;
  }
  return true;
}
