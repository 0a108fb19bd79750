/**
 * Conversions between JavaScript values and the RPC `TypedData` union the library speaks.
 * @module
 */
import type { RpcTypedData } from './core-types.ts';

/**
 * An output value an invocation worker thread already prepared for its binding (typed data's
 * host-only `prepared`): a class instance, so that no value of the function's own (which crosses as
 * JSON) can pass for one.
 */
export class PreparedOutput {
  readonly value: unknown;
  constructor(value: unknown) {
    this.value = value;
  }
}

/** A value as a binding receives it from the library's output conversion. */
export function fromTypedData(data: RpcTypedData | null | undefined): unknown {
  if (data === null || data === undefined) return undefined;
  if (data.prepared !== undefined && data.prepared !== null) return new PreparedOutput(data.prepared);
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.bytes !== undefined && data.bytes !== null) return Buffer.from(data.bytes);
  if (data.stream !== undefined && data.stream !== null) return Buffer.from(data.stream);
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.http !== undefined && data.http !== null) return data.http;
  if (data.collectionString?.string) return data.collectionString.string;
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  if (data.collectionDouble?.double) return data.collectionDouble.double;
  if (data.collectionSint64?.sint64) return data.collectionSint64.sint64.map(Number);
  return undefined;
}

/** A value as the library's `fromRpcTypedData` will hand it to user code. */
export function toTypedData(value: unknown): RpcTypedData {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') return { string: value };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { bytes: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { int: value } : { double: value };
  if (typeof value === 'bigint') return { string: value.toString() };
  return { json: JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) };
}
