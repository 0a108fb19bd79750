/**
 * The "messagepack" hub protocol: each message is a VarInt length prefix followed by one
 * MessagePack array whose first element is the message type (layouts in HubProtocol.md).
 * @module
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { allocBytes } from './bytes.ts';
import { HubProtocolError, HubProtocolErrorCode, invalidMessage } from './errors.ts';
import { type Headers, type HubMessage, MessageType, TransferFormat } from './messages.ts';
import { findInvalidUtf8String } from './msgpack-utf8.ts';
import type { HubProtocol } from './protocol.ts';
import {
  isEmptyHeaders,
  readHeaders,
  requireArray,
  requireSequenceId,
  requireString,
  requireStringArray,
} from './validate.ts';
import { readVarInt, varIntSize, writeVarInt } from './varint.ts';

const ResultKind = { Error: 1, Void: 2, NonVoid: 3 } as const;
const EMPTY_HEADERS: Headers = Object.freeze({});
/** `[6]` with its length prefix: a Ping never varies. */
const PING_BYTES = new Uint8Array([0x02, 0x91, MessageType.Ping]);

const encoder = new Encoder();
const decoder = new Decoder();

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const messagePackProtocol: HubProtocol = {
  name: 'messagepack',
  version: 2,
  transferFormat: TransferFormat.Binary,
  parseMessages(input, maxMessageBytes) {
    if (typeof input === 'string') throw invalidMessage('The MessagePack protocol expects binary input.');
    const messages: HubMessage[] = [];
    let offset = 0;
    while (offset < input.length) {
      const prefix = readVarInt(input, offset);
      if (prefix === undefined) throw incomplete('length prefix');
      const size = prefix.value;
      if (maxMessageBytes !== undefined && size > maxMessageBytes) {
        throw new HubProtocolError(
          HubProtocolErrorCode.MessageTooLarge,
          `Message of ${size} bytes exceeds the limit of ${maxMessageBytes} bytes.`,
          { status: 413, detail: { size, max: maxMessageBytes } },
        );
      }
      const start = offset + prefix.size;
      const end = start + size;
      if (end > input.length) throw incomplete('body');
      let value: unknown;
      try {
        value = decoder.decode(input.subarray(start, end));
      } catch (cause) {
        throw invalidMessage('Message is not valid MessagePack.', cause);
      }
      if (findInvalidUtf8String(input, start, end) !== -1) {
        throw invalidMessage('Message contains a string that is not valid UTF-8.');
      }
      const message = fromMessagePackArray(value);
      if (message !== undefined) messages.push(message);
      offset = end;
    }
    return messages;
  },
  writeMessage(message) {
    if (message.type === MessageType.Ping) return PING_BYTES.slice();
    // The encoder's buffer is reused by the next call: copy once, into the framed result.
    const body = encoder.encodeSharedRef(toMessagePackArray(message));
    const prefixSize = varIntSize(body.length);
    const framed = allocBytes(prefixSize + body.length);
    writeVarInt(body.length, framed, 0);
    framed.set(body, prefixSize);
    return framed;
  },
};

function incomplete(part: string): HubProtocolError {
  return new HubProtocolError(
    HubProtocolErrorCode.IncompleteMessage,
    `MessagePack message is incomplete: truncated ${part}.`,
  );
}

/** The array written for `message` (without framing). */
export function toMessagePackArray(message: HubMessage): unknown[] {
  switch (message.type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation: {
      const array: unknown[] = [
        message.type,
        isEmptyHeaders(message.headers) ? EMPTY_HEADERS : message.headers,
        message.invocationId ?? null,
        message.target,
        message.arguments,
      ];
      if (message.streamIds != null && message.streamIds.length > 0) array.push(message.streamIds);
      return array;
    }
    case MessageType.StreamItem:
      return [message.type, message.headers ?? EMPTY_HEADERS, message.invocationId, message.item];
    case MessageType.Completion: {
      const headers = message.headers ?? EMPTY_HEADERS;
      if (message.error != null) {
        if (message.result !== undefined) throw invalidMessage("Completion: has both 'result' and 'error'.");
        return [message.type, headers, message.invocationId, ResultKind.Error, message.error];
      }
      return message.result === undefined
        ? [message.type, headers, message.invocationId, ResultKind.Void]
        : [message.type, headers, message.invocationId, ResultKind.NonVoid, message.result];
    }
    case MessageType.CancelInvocation:
      return [message.type, message.headers ?? EMPTY_HEADERS, message.invocationId];
    case MessageType.Ping:
      return [message.type];
    case MessageType.Close:
      return [message.type, message.error ?? null, message.allowReconnect === true];
    case MessageType.Ack:
    case MessageType.Sequence:
      return [message.type, message.sequenceId];
    default:
      throw invalidMessage(`Cannot write a message of type ${(message as { type: unknown }).type}.`);
  }
}

const MIN_LENGTH: Readonly<Record<number, number>> = {
  [MessageType.Invocation]: 5,
  [MessageType.StreamItem]: 4,
  [MessageType.Completion]: 4,
  [MessageType.StreamInvocation]: 5,
  [MessageType.CancelInvocation]: 3,
  [MessageType.Ping]: 1,
  [MessageType.Close]: 2,
  [MessageType.Ack]: 2,
  [MessageType.Sequence]: 2,
};

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MessageType).map(([name, type]) => [type, name]),
);

/** Validates one decoded array; `undefined` for a message type this protocol does not know. */
export function fromMessagePackArray(value: unknown): HubMessage | undefined {
  if (!Array.isArray(value) || value.length === 0) throw invalidMessage('Message must be a non-empty array.');
  const type: unknown = value[0];
  if (typeof type !== 'number' || !Number.isInteger(type)) throw invalidMessage('Message type must be an integer.');
  const min = MIN_LENGTH[type];
  if (min === undefined) return undefined;
  const name = NAMES[type] ?? String(type);
  if (value.length < min) throw invalidMessage(`${name}: expected at least ${min} elements, got ${value.length}.`);
  switch (type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation:
      return readInvocation(value, type, name);
    case MessageType.StreamItem: {
      const m: Mutable<Extract<HubMessage, { type: 2 }>> = {
        type,
        invocationId: requireString(value[2], 'invocationId', name),
        item: value[3],
      };
      return withHeaders(m, value[1], name);
    }
    case MessageType.Completion:
      return readCompletion(value, name);
    case MessageType.CancelInvocation: {
      const m: Mutable<Extract<HubMessage, { type: 5 }>> = {
        type,
        invocationId: requireString(value[2], 'invocationId', name),
      };
      return withHeaders(m, value[1], name);
    }
    case MessageType.Ping:
      return { type };
    case MessageType.Close: {
      const m: Mutable<Extract<HubMessage, { type: 7 }>> = { type };
      const error: unknown = value[1];
      if (error != null) {
        if (typeof error !== 'string') throw invalidMessage("Close: 'error' must be a string or nil.");
        m.error = error;
      }
      const allowReconnect: unknown = value[2];
      if (allowReconnect != null) {
        if (typeof allowReconnect !== 'boolean') throw invalidMessage("Close: 'allowReconnect' must be a boolean.");
        if (allowReconnect) m.allowReconnect = true;
      }
      return m;
    }
    case MessageType.Ack:
    case MessageType.Sequence:
      return { type, sequenceId: requireSequenceId(value[1], name) };
    default:
      return undefined;
  }
}

function withHeaders<M extends { headers?: Headers }>(m: M, raw: unknown, name: string): M {
  const headers = readHeaders(raw, name);
  if (headers !== undefined) m.headers = headers;
  return m;
}

function readInvocation(value: unknown[], type: 1 | 4, name: string): HubMessage {
  const target = requireString(value[3], 'target', name);
  const args = requireArray(value[4], 'arguments', name);
  const m: Mutable<Extract<HubMessage, { type: 1 }>> | Mutable<Extract<HubMessage, { type: 4 }>> =
    type === MessageType.Invocation
      ? { type, target, arguments: args }
      : { type, invocationId: requireString(value[2], 'invocationId', name), target, arguments: args };
  if (type === MessageType.Invocation && value[2] !== null) {
    m.invocationId = requireString(value[2], 'invocationId', name);
  }
  if (value.length > 5) {
    const streamIds = requireStringArray(value[5], 'streamIds', name);
    if (streamIds.length > 0) m.streamIds = streamIds;
  }
  return withHeaders(m, value[1], name);
}

function readCompletion(value: unknown[], name: string): HubMessage {
  const m: Mutable<Extract<HubMessage, { type: 3 }>> = {
    type: MessageType.Completion,
    invocationId: requireString(value[2], 'invocationId', name),
  };
  switch (value[3]) {
    case ResultKind.Error:
      if (value.length < 5 || typeof value[4] !== 'string') {
        throw invalidMessage("Completion: an error result needs a string 'error'.");
      }
      m.error = value[4];
      break;
    case ResultKind.Void:
      break;
    case ResultKind.NonVoid:
      if (value.length < 5) throw invalidMessage('Completion: a non-void result needs a result element.');
      m.result = value[4];
      break;
    default:
      throw invalidMessage('Completion: result kind must be 1, 2 or 3.');
  }
  return withHeaders(m, value[1], name);
}
