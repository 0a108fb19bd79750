/**
 * Cross-checks both codecs against the official client's own (`@microsoft/signalr` 10.x
 * JsonHubProtocol, `@microsoft/signalr-protocol-msgpack` MessagePackHubProtocol): what the client
 * writes, we parse; what we write, the client parses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type HubMessage as ClientHubMessage,
  type IHubProtocol,
  JsonHubProtocol,
  NullLogger,
} from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { type HubMessage, type HubProtocol, jsonProtocol, MessageType, messagePackProtocol } from '../src/index.ts';
import { sampleMessages } from '../src/test-fixtures.ts';

/** Message types the client parses; it logs and drops StreamInvocation and CancelInvocation. */
const clientReads = new Set<number>([1, 2, 3, 6, 7, 8, 9]);

interface Pair {
  readonly ours: HubProtocol;
  readonly theirs: IHubProtocol;
  /** The client's write → our bytes. */
  toBytes(written: string | ArrayBuffer): Uint8Array;
  /** Our bytes → the client's input. */
  fromBytes(bytes: Uint8Array): string | ArrayBuffer;
  /** What the client's writer loses (its MessagePack Close always writes `[7, nil]`). */
  clientWrites(message: HubMessage): HubMessage;
  /** What the client's reader loses (its MessagePack reader ignores an invocation's stream ids). */
  clientReads(message: HubMessage): HubMessage;
}

const pairs: readonly Pair[] = [
  {
    ours: jsonProtocol,
    theirs: new JsonHubProtocol(),
    toBytes: (written) => new TextEncoder().encode(written as string),
    fromBytes: (bytes) => new TextDecoder().decode(bytes),
    clientWrites: (message) => message,
    clientReads: (message) => message,
  },
  {
    ours: messagePackProtocol,
    theirs: new MessagePackHubProtocol(),
    toBytes: (written) => new Uint8Array(written as ArrayBuffer),
    // Our bytes may be a view into a shared pool: copy exactly them into the ArrayBuffer the client wants.
    fromBytes: (bytes) => new Uint8Array(bytes).buffer,
    clientWrites: (message) => (message.type === MessageType.Close ? { type: MessageType.Close } : message),
    clientReads: (message) => {
      if (message.type !== MessageType.Invocation) return message;
      const { streamIds: _, ...rest } = message;
      return rest;
    },
  },
];

/** Drops what the client's parser fills in for absent fields (undefined, `{}`, `[]`, nil, false). */
function normalize(message: ClientHubMessage): HubMessage {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    if (value === undefined) continue;
    if (key === 'headers' && Object.keys(value as object).length === 0) continue;
    if (key === 'streamIds' && (value as unknown[]).length === 0) continue;
    if (message.type === MessageType.Close && (value === null || value === false)) continue;
    out[key] = value;
  }
  return out as unknown as HubMessage;
}

for (const pair of pairs) {
  describe(`${pair.ours.name}: official client interop`, () => {
    for (const [name, message] of sampleMessages) {
      it(`parses the client's ${name}`, () => {
        const written = pair.theirs.writeMessage(message as unknown as ClientHubMessage);
        assert.deepEqual(pair.ours.parseMessages(pair.toBytes(written)), [pair.clientWrites(message)]);
      });

      it(`writes ${name} so the client reads it`, () => {
        const parsed = pair.theirs.parseMessages(pair.fromBytes(pair.ours.writeMessage(message)), NullLogger.instance);
        assert.deepEqual(parsed.map(normalize), clientReads.has(message.type) ? [pair.clientReads(message)] : []);
      });
    }

    it('round-trips a batch through both codecs', () => {
      const messages = sampleMessages.map(([, m]) => m).filter((m) => clientReads.has(m.type));
      const ours = messages.map((m) => pair.ours.writeMessage(m));
      const batch = new Uint8Array(ours.reduce((n, b) => n + b.length, 0));
      let offset = 0;
      for (const bytes of ours) {
        batch.set(bytes, offset);
        offset += bytes.length;
      }
      assert.deepEqual(
        pair.theirs.parseMessages(pair.fromBytes(batch), NullLogger.instance).map(normalize),
        messages.map((m) => pair.clientReads(m)),
      );
    });
  });
}
