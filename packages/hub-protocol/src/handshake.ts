/**
 * The handshake that opens every hub connection: `{"protocol":"json","version":1}` + 0x1E from the
 * client, `{}` + 0x1E (or `{"error":"…"}` + 0x1E) from the server. Always JSON text, whatever the
 * protocol that follows.
 * @module
 */
import { HubProtocolError, HubProtocolErrorCode } from './errors.ts';
import { isPlainObject } from './validate.ts';

export interface HandshakeRequest {
  readonly protocol: string;
  readonly version: number;
}

export interface ParsedHandshake {
  readonly request: HandshakeRequest;
  /** Bytes after the handshake's 0x1E: the first hub messages, if the client batched them. */
  readonly remaining: Uint8Array | undefined;
}

const RS = 0x1e;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const SUCCESS = textEncoder.encode('{}\x1e');

function invalidHandshake(message: string, cause?: unknown): HubProtocolError {
  return new HubProtocolError(HubProtocolErrorCode.InvalidHandshake, message, cause === undefined ? {} : { cause });
}

/**
 * Parses the handshake request from the start of `input`.
 * Returns `undefined` when no 0x1E has arrived yet (the caller buffers and retries).
 * Throws `HubProtocolError` `HUB_PROTOCOL_INVALID_HANDSHAKE` for anything else malformed.
 */
export function parseHandshakeRequest(input: string | Uint8Array): ParsedHandshake | undefined {
  let text: string;
  let remaining: Uint8Array | undefined;
  if (typeof input === 'string') {
    const end = input.indexOf('\x1e');
    if (end === -1) return undefined;
    text = input.slice(0, end);
    if (end + 1 < input.length) remaining = textEncoder.encode(input.slice(end + 1));
  } else {
    const end = input.indexOf(RS);
    if (end === -1) return undefined;
    try {
      text = textDecoder.decode(input.subarray(0, end));
    } catch (cause) {
      throw invalidHandshake('Handshake request is not valid UTF-8.', cause);
    }
    if (end + 1 < input.length) remaining = input.subarray(end + 1);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalidHandshake('Handshake request is not valid JSON.', cause);
  }
  if (!isPlainObject(value)) throw invalidHandshake('Handshake request must be a JSON object.');
  const { protocol, version } = value;
  if (typeof protocol !== 'string' || protocol.length === 0) {
    throw invalidHandshake("Handshake request needs a string 'protocol'.");
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw invalidHandshake("Handshake request needs an integer 'version'.");
  }
  return { request: { protocol, version }, remaining };
}

/** `{}` + 0x1E, or `{"error":"…"}` + 0x1E, as UTF-8 bytes. */
export function writeHandshakeResponse(error?: string): Uint8Array {
  if (error === undefined) return SUCCESS.slice();
  return textEncoder.encode(`${JSON.stringify({ error })}\x1e`);
}
