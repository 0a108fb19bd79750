/**
 * Byte allocation for the write paths. Under Node, small results come from `Buffer`'s shared pool
 * (several times cheaper than a fresh ArrayBuffer per message); each result is still its own
 * region that no later call touches. Elsewhere, plain Uint8Arrays.
 * @module
 */

const NodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const textEncoder = new TextEncoder();

/** `text` as UTF-8, in a new array. */
export const encodeUtf8: (text: string) => Uint8Array =
  NodeBuffer === undefined ? (text) => textEncoder.encode(text) : (text) => NodeBuffer.from(text, 'utf8');

/** A new array of `size` bytes whose contents the caller overwrites entirely. */
export const allocBytes: (size: number) => Uint8Array =
  NodeBuffer === undefined ? (size) => new Uint8Array(size) : (size) => NodeBuffer.allocUnsafe(size);
