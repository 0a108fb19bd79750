/**
 * The "json" hub protocol: each message is one UTF-8 JSON object followed by the 0x1E record
 * separator; a payload may hold several.
 * @module
 */
import { encodeUtf8 } from './bytes.ts';
import { HubProtocolError, HubProtocolErrorCode, invalidMessage } from './errors.ts';
import { type Headers, type HubMessage, MessageType, TransferFormat } from './messages.ts';
import type { HubProtocol } from './protocol.ts';
import {
  isEmptyHeaders,
  isPlainObject,
  readHeaders,
  requireArray,
  requireSequenceId,
  requireString,
  requireStringArray,
} from './validate.ts';

/** The record separator that ends every JSON message (and the handshake). */
export const RECORD_SEPARATOR = '\x1e';
export const RECORD_SEPARATOR_CODE = 0x1e;

const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Fields = Record<string, unknown>;

export const jsonProtocol: HubProtocol = {
  name: 'json',
  version: 2,
  transferFormat: TransferFormat.Text,
  parseMessages(input, maxMessageBytes) {
    return typeof input === 'string' ? parseText(input, maxMessageBytes) : parseBytes(input, maxMessageBytes);
  },
  writeMessage(message) {
    return encodeUtf8(JSON.stringify(toJsonFields(message)) + RECORD_SEPARATOR);
  },
};

function incomplete(): HubProtocolError {
  return new HubProtocolError(HubProtocolErrorCode.IncompleteMessage, 'JSON message is incomplete: no trailing 0x1E.');
}

function tooLarge(size: number, max: number): HubProtocolError {
  return new HubProtocolError(
    HubProtocolErrorCode.MessageTooLarge,
    `Message of ${size} bytes exceeds the limit of ${max} bytes.`,
    { status: 413, detail: { size, max } },
  );
}

function parseBytes(input: Uint8Array, max: number | undefined): HubMessage[] {
  if (input.length === 0) return [];
  if (input[input.length - 1] !== RECORD_SEPARATOR_CODE) throw incomplete();
  // One decode for the whole payload (0x1E never occurs inside a multi-byte UTF-8 sequence), then
  // split the string. A payload within the limit cannot hold a message over it.
  let text: string;
  try {
    text = textDecoder.decode(input);
  } catch (cause) {
    throw invalidMessage('JSON message is not valid UTF-8.', cause);
  }
  return parseText(text, max !== undefined && input.length > max ? max : undefined);
}

function parseText(input: string, max: number | undefined): HubMessage[] {
  const messages: HubMessage[] = [];
  const end = input.length;
  if (end === 0) return messages;
  if (input.charCodeAt(end - 1) !== RECORD_SEPARATOR_CODE) throw incomplete();
  let start = 0;
  while (start < end) {
    const stop = input.indexOf(RECORD_SEPARATOR, start);
    const text = input.slice(start, stop);
    // A UTF-16 unit encodes to at most 3 UTF-8 bytes and at least 1: only measure when in doubt.
    if (max !== undefined && text.length * 3 > max) {
      const size = utf8Length(text);
      if (size > max) throw tooLarge(size, max);
    }
    pushParsed(messages, text);
    start = stop + 1;
  }
  return messages;
}

function utf8Length(text: string): number {
  let size = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      size += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else size += 3;
  }
  return size;
}

function pushParsed(messages: HubMessage[], text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalidMessage('Message is not valid JSON.', cause);
  }
  const message = fromJsonFields(value);
  if (message !== undefined) messages.push(message);
}

/** Validates one parsed JSON value; `undefined` for a message type this protocol does not know. */
export function fromJsonFields(value: unknown): HubMessage | undefined {
  if (!isPlainObject(value)) throw invalidMessage('Message must be a JSON object.');
  const type = value.type;
  if (typeof type !== 'number') throw invalidMessage("Message has no numeric 'type'.");
  switch (type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation:
      return readInvocation(value, type);
    case MessageType.StreamItem: {
      const m: Mutable<Extract<HubMessage, { type: 2 }>> = {
        type,
        invocationId: requireString(value.invocationId, 'invocationId', 'StreamItem'),
        item: value.item,
      };
      if (!('item' in value)) throw invalidMessage("StreamItem: 'item' is missing.");
      addHeaders(m, value, 'StreamItem');
      return m;
    }
    case MessageType.Completion:
      return readCompletion(value);
    case MessageType.CancelInvocation: {
      const m: Mutable<Extract<HubMessage, { type: 5 }>> = {
        type,
        invocationId: requireString(value.invocationId, 'invocationId', 'CancelInvocation'),
      };
      addHeaders(m, value, 'CancelInvocation');
      return m;
    }
    case MessageType.Ping:
      return { type };
    case MessageType.Close: {
      const m: Mutable<Extract<HubMessage, { type: 7 }>> = { type };
      if (value.error !== undefined) {
        if (typeof value.error !== 'string') throw invalidMessage("Close: 'error' must be a string.");
        m.error = value.error;
      }
      if (value.allowReconnect !== undefined) {
        if (typeof value.allowReconnect !== 'boolean') {
          throw invalidMessage("Close: 'allowReconnect' must be a boolean.");
        }
        if (value.allowReconnect) m.allowReconnect = true;
      }
      return m;
    }
    case MessageType.Ack:
      return { type, sequenceId: requireSequenceId(value.sequenceId, 'Ack') };
    case MessageType.Sequence:
      return { type, sequenceId: requireSequenceId(value.sequenceId, 'Sequence') };
    default:
      return undefined;
  }
}

function addHeaders(m: { headers?: Headers }, value: Fields, type: string): void {
  if (value.headers === undefined) return;
  const headers = readHeaders(value.headers, type);
  if (headers !== undefined) m.headers = headers;
}

function readInvocation(value: Fields, type: 1 | 4): HubMessage {
  const name = type === MessageType.Invocation ? 'Invocation' : 'StreamInvocation';
  const m: Mutable<Extract<HubMessage, { type: 1 }>> | Mutable<Extract<HubMessage, { type: 4 }>> =
    type === MessageType.Invocation
      ? {
          type,
          target: requireString(value.target, 'target', name),
          arguments: requireArray(value.arguments, 'arguments', name),
        }
      : {
          type,
          invocationId: requireString(value.invocationId, 'invocationId', name),
          target: requireString(value.target, 'target', name),
          arguments: requireArray(value.arguments, 'arguments', name),
        };
  if (type === MessageType.Invocation && 'invocationId' in value) {
    m.invocationId = requireString(value.invocationId, 'invocationId', name);
  }
  if (value.streamIds !== undefined) {
    const streamIds = requireStringArray(value.streamIds, 'streamIds', name);
    if (streamIds.length > 0) m.streamIds = streamIds;
  }
  addHeaders(m, value, name);
  return m;
}

function readCompletion(value: Fields): HubMessage {
  const m: Mutable<Extract<HubMessage, { type: 3 }>> = {
    type: MessageType.Completion,
    invocationId: requireString(value.invocationId, 'invocationId', 'Completion'),
  };
  const hasResult = 'result' in value;
  if (value.error !== undefined) {
    if (hasResult) throw invalidMessage("Completion: has both 'result' and 'error'.");
    if (typeof value.error !== 'string') throw invalidMessage("Completion: 'error' must be a string.");
    m.error = value.error;
  } else if (hasResult) {
    m.result = value.result;
  }
  addHeaders(m, value, 'Completion');
  return m;
}

/** The JSON object written for `message`: absent fields omitted, never `null`. */
export function toJsonFields(message: HubMessage): Fields {
  switch (message.type) {
    case MessageType.Invocation:
    case MessageType.StreamInvocation: {
      const o: Fields = { type: message.type };
      if (!isEmptyHeaders(message.headers)) o.headers = message.headers;
      if (message.invocationId != null) o.invocationId = message.invocationId;
      o.target = message.target;
      o.arguments = message.arguments;
      if (message.streamIds != null && message.streamIds.length > 0) o.streamIds = message.streamIds;
      return o;
    }
    case MessageType.StreamItem:
      return isEmptyHeaders(message.headers)
        ? { type: message.type, invocationId: message.invocationId, item: message.item }
        : { type: message.type, headers: message.headers, invocationId: message.invocationId, item: message.item };
    case MessageType.Completion: {
      const o: Fields = { type: message.type };
      if (!isEmptyHeaders(message.headers)) o.headers = message.headers;
      o.invocationId = message.invocationId;
      if (message.error != null) {
        if (message.result !== undefined) throw invalidMessage("Completion: has both 'result' and 'error'.");
        o.error = message.error;
      } else if (message.result !== undefined) {
        o.result = message.result;
      }
      return o;
    }
    case MessageType.CancelInvocation:
      return isEmptyHeaders(message.headers)
        ? { type: message.type, invocationId: message.invocationId }
        : { type: message.type, headers: message.headers, invocationId: message.invocationId };
    case MessageType.Ping:
      return { type: message.type };
    case MessageType.Close: {
      const o: Fields = { type: message.type };
      if (message.error != null) o.error = message.error;
      if (message.allowReconnect === true) o.allowReconnect = true;
      return o;
    }
    case MessageType.Ack:
    case MessageType.Sequence:
      return { type: message.type, sequenceId: message.sequenceId };
    default:
      throw invalidMessage(`Cannot write a message of type ${(message as { type: unknown }).type}.`);
  }
}
