/**
 * WebSocket frames for the fuzz suite: SignalR messages of the JSON and MessagePack protocols with
 * random types and fields, handshakes, invalid UTF-8, lying length prefixes (the WebSocket's and
 * MessagePack's varint), and frames no client may send (unmasked, reserved bits, unknown opcodes).
 * @module
 */
import fc from 'fast-check';
import { wsFrame } from './fuzz-wire.ts';

export type Payload = string | Uint8Array | { fill: number };

/** A frame as written; `length` (when set) is the size the header claims instead of the payload's. */
export interface WireFrame {
  readonly opcode: number;
  readonly payload: Payload;
  readonly fin?: boolean;
  readonly masked?: boolean;
  readonly rsv?: number;
  readonly length?: number;
}

export const renderFrame = (f: WireFrame): Buffer => {
  const payload =
    typeof f.payload === 'string' || f.payload instanceof Uint8Array ? f.payload : 'x'.repeat(f.payload.fill);
  const options = { fin: f.fin ?? true, masked: f.masked ?? true, rsv: f.rsv ?? 0 };
  return wsFrame(f.opcode, Buffer.from(payload), f.length === undefined ? options : { ...options, length: f.length });
};

type Value = null | boolean | number | string | Uint8Array | Value[] | { [key: string]: Value };

/** MessagePack, just enough of it to write any `Value` (the server's decoder is what is under test). */
function msgpack(value: Value, out: number[] = []): number[] {
  const head = (fix: number | undefined, fixLimit: number, one: number | undefined, two: number, n: number) => {
    if (fix !== undefined && n < fixLimit) out.push(fix | n);
    else if (one !== undefined && n < 0x100) out.push(one, n);
    else out.push(two, n >> 8, n & 0xff);
  };
  if (value === null) out.push(0xc0);
  else if (typeof value === 'boolean') out.push(value ? 0xc3 : 0xc2);
  else if (typeof value === 'number') {
    const int32 = Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31;
    if (int32 && value >= -32 && value < 128) out.push(value & 0xff);
    else if (int32) out.push(0xd2, (value >> 24) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
    else out.push(0xcb, ...new Uint8Array(new Float64Array([value]).buffer).reverse());
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value).subarray(0, 0xffff);
    head(0xa0, 32, 0xd9, 0xda, bytes.length);
    out.push(...bytes);
  } else if (value instanceof Uint8Array) {
    head(undefined, 0, 0xc4, 0xc5, value.length);
    out.push(...value);
  } else if (Array.isArray(value)) {
    head(0x90, 16, undefined, 0xdc, value.length);
    for (const item of value) msgpack(item, out);
  } else {
    const entries = Object.entries(value);
    head(0x80, 16, undefined, 0xde, entries.length);
    for (const [k, v] of entries) msgpack(v, msgpack(k, out));
  }
  return out;
}

const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
};

const { value } = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 3 }),
  ),
}));

const messageType = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom<Value>(-1, 1.5, '1', null, true, 2 ** 53, 255) },
);
const target = fc.oneof(
  fc.constantFrom('send', 'count', 'transport', 'Send', '', '__proto__', 'constructor'),
  fc.string(),
);
const json = fc.jsonValue({ maxDepth: 2 });

/** Messages a well-behaved client sends the demo hub (methods send, count, transport). */
const valid: readonly Value[][] = [
  [1, {}, null, 'send', ['ana', 'hello']],
  [1, {}, '1', 'send', ['ana', 'hello']],
  [1, {}, '2', 'count', []],
  [1, {}, '3', 'transport', []],
  [4, {}, '4', 'count', []],
  [5, {}, '4'],
  [3, {}, '9', 1, 'done'],
  [6],
  [7, null, false],
];
const asJson = ([type, headers, invocationId, target, args]: Value[]) =>
  JSON.stringify({ type, headers, invocationId: invocationId ?? undefined, target, arguments: args });

/** A JSON-protocol message: valid ones, or the right shape with fields of any type, or anything. */
const jsonMessage = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...valid.map(asJson)) },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          type: messageType,
          target,
          arguments: fc.oneof(fc.array(json, { maxLength: 4 }), json),
          invocationId: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)),
          streamIds: fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxLength: 3 }),
          item: json,
          result: json,
          error: fc.oneof(fc.string(), json),
          headers: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string(), json), { maxKeys: 3 }),
          allowReconnect: json,
          sequenceId: fc.oneof(fc.integer(), fc.double(), fc.string()),
        },
        { requiredKeys: ['type'] },
      )
      .map((m) => JSON.stringify(m)),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);
const invalidUtf8 = fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0xf8, 0x88]);

/** A text frame's payload: records separated by 0x1e, the last one sometimes unterminated, sometimes not UTF-8. */
const jsonPayload: fc.Arbitrary<Payload> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(fc.array(jsonMessage, { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([messages, ended]) => messages.join('\x1e') + (ended ? '\x1e' : '')),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(jsonMessage, invalidUtf8, fc.nat())
      .map(([m, bad, at]) =>
        Buffer.concat([Buffer.from(m.slice(0, at % (m.length + 1))), Buffer.from(bad), Buffer.from('\x1e')]),
      ),
  },
  { weight: 1, arbitrary: fc.constant({ fill: 2 * 1024 * 1024 }) },
);

/** A MessagePack message: an array led by a type, fields of any type, cut at any length. */
const msgpackMessage = fc
  .tuple(
    fc.tuple(
      messageType,
      fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 2 }),
      value,
      target,
      value,
      value,
    ),
    fc.integer({ min: 0, max: 6 }),
  )
  .map(([fields, n]) => Uint8Array.from(msgpack(fields.slice(0, n) as Value)));
const msgpackPayload: fc.Arbitrary<Payload> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 2, arbitrary: fc.constantFrom(...valid.map((m) => Uint8Array.from(msgpack(m)))) },
          { weight: 4, arbitrary: msgpackMessage },
          fc.uint8Array({ maxLength: 24 }),
        ),
        {
          minLength: 1,
          maxLength: 3,
        },
      )
      .map((messages) => Uint8Array.from(messages.flatMap((m) => [...varint(m.length), ...m]))),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        [0xff, 0xff, 0xff, 0xff, 0x0f, 0x94, 0x01],
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        [0x80],
        [0x05, 0x94],
        [0x00],
        [0x03, 0xc1, 0xc1, 0xc1],
        [0x06, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01],
        [0x02, 0xd4, 0x01],
      )
      .map((bytes) => Uint8Array.from(bytes)),
  },
);

/** A frame after a successful handshake in `protocol`: mostly well-formed SignalR data, some broken framing. */
export function signalRFrame(protocol: 'json' | 'messagepack'): fc.Arbitrary<WireFrame> {
  const data = protocol === 'json' ? jsonPayload : msgpackPayload;
  const opcode = protocol === 'json' ? 1 : 2;
  return fc.oneof(
    { weight: 10, arbitrary: data.map((payload): WireFrame => ({ opcode, payload })) },
    {
      weight: 1,
      arbitrary: fc.record({ opcode: fc.constantFrom(1, 2), payload: fc.oneof(jsonPayload, msgpackPayload) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        opcode: fc.integer({ min: 0, max: 15 }),
        payload: fc.uint8Array({ maxLength: 200 }),
        fin: fc.boolean(),
        masked: fc.boolean(),
        rsv: fc.integer({ min: 0, max: 7 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        opcode: fc.constant(8),
        payload: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.string()).map(([code, reason]) => {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(code);
          return Buffer.concat([head, Buffer.from(reason)]);
        }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        opcode: fc.constant(opcode),
        payload: fc.constantFrom('{"type":', '\x1e'),
        length: fc.constantFrom(126, 0xffff, 0x10000, 2 ** 31, 2 ** 53 - 1),
      }),
    },
  );
}

/** The first frame of a connection: a handshake request, good or bad. */
export const handshakeFrame: fc.Arbitrary<WireFrame> = fc
  .oneof(
    fc.constantFrom('{"protocol":"json","version":1}\x1e', '{"protocol":"messagepack","version":1}\x1e'),
    fc
      .record(
        {
          protocol: fc.oneof(fc.constantFrom('json', 'messagepack', 'blazorpack', '', 'JSON'), json),
          version: fc.oneof(fc.integer({ min: -1, max: 3 }), json),
        },
        { requiredKeys: [] },
      )
      .map((h) => `${JSON.stringify(h)}\x1e`),
    fc.json({ maxDepth: 2 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
  )
  .map((payload): WireFrame => ({ opcode: 1, payload }));

/** Frames sent after a successful handshake in one of the two protocols. */
export interface FramesCase {
  readonly protocol: 'json' | 'messagepack';
  readonly frames: readonly WireFrame[];
}

export const framesCase: fc.Arbitrary<FramesCase> = fc
  .constantFrom('json' as const, 'messagepack' as const)
  .chain((protocol) =>
    fc.record({
      protocol: fc.constant(protocol),
      frames: fc.array(signalRFrame(protocol), { minLength: 1, maxLength: 4 }),
    }),
  );
