/**
 * The binary REST body Azure's .NET SDK sends when custom hub protocols are configured
 * (`Content-Type: application/octet-stream`): a MessagePack map from protocol name (`json`,
 * `messagepack`) to that protocol's framed Invocation bytes. Only the few MessagePack forms that
 * body uses are read here: a map header, string keys and binary values.
 * @module
 */
import { getProtocol, type InvocationMessage, MessageType } from '@hubbub/hub-protocol';
import { HubError, HubErrorCode } from '../errors.ts';

function malformed(why: string): HubError {
  return new HubError(HubErrorCode.BadRequest, `The binary payload is malformed: ${why}.`, {
    detail: { field: 'body' },
  });
}

class Reader {
  offset = 0;
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  #take(n: number): Uint8Array {
    if (this.offset + n > this.bytes.byteLength) throw malformed('it ends early');
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  #uint(size: 1 | 2 | 4): number {
    const b = this.#take(size);
    return size === 1
      ? b[0]!
      : size === 2
        ? (b[0]! << 8) | b[1]!
        : ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  }

  mapHeader(): number {
    const t = this.#uint(1);
    if (t >= 0x80 && t <= 0x8f) return t & 0x0f;
    if (t === 0xde) return this.#uint(2);
    if (t === 0xdf) return this.#uint(4);
    throw malformed('expected a map');
  }

  string(): string {
    const t = this.#uint(1);
    const length =
      t >= 0xa0 && t <= 0xbf
        ? t & 0x1f
        : t === 0xd9
          ? this.#uint(1)
          : t === 0xda
            ? this.#uint(2)
            : t === 0xdb
              ? this.#uint(4)
              : -1;
    if (length < 0) throw malformed('expected a string key');
    return new TextDecoder().decode(this.#take(length));
  }

  binary(): Uint8Array {
    const t = this.#uint(1);
    const length = t === 0xc4 ? this.#uint(1) : t === 0xc5 ? this.#uint(2) : t === 0xc6 ? this.#uint(4) : -1;
    if (length < 0) throw malformed('expected binary bytes');
    return this.#take(length);
  }
}

/** Reads the Invocation out of a binary body, preferring the JSON encoding when both are present. */
export function parseBinaryPayload(body: Uint8Array): { target: string; arguments: unknown[] } {
  const reader = new Reader(body);
  const entries = new Map<string, Uint8Array>();
  const count = reader.mapHeader();
  for (let i = 0; i < count; i++) {
    const name = reader.string().toLowerCase();
    entries.set(name, reader.binary());
  }
  if (reader.offset !== body.byteLength) throw malformed('bytes follow the map');
  const name = entries.has('json') ? 'json' : entries.has('messagepack') ? 'messagepack' : undefined;
  if (name === undefined) throw malformed("it has neither a 'json' nor a 'messagepack' entry");
  let messages: ReturnType<NonNullable<ReturnType<typeof getProtocol>>['parseMessages']>;
  try {
    messages = getProtocol(name)!.parseMessages(entries.get(name)!);
  } catch (err) {
    throw new HubError(HubErrorCode.BadRequest, `The binary payload's '${name}' entry is not a hub message.`, {
      cause: err,
      detail: { field: 'body' },
    });
  }
  const [message] = messages;
  if (messages.length !== 1 || message?.type !== MessageType.Invocation) {
    throw malformed(`the '${name}' entry must hold exactly one Invocation`);
  }
  const invocation = message as InvocationMessage;
  return { target: invocation.target, arguments: [...invocation.arguments] };
}
