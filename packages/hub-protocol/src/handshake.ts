/**
 * The handshake that opens every hub connection: `{"protocol":"json","version":1}` + 0x1E from the
 * client, `{}` + 0x1E (or `{"error":"…"}` + 0x1E) from the server. Always JSON text, whatever the
 * protocol that follows.
 * @module
 */

export interface HandshakeRequest {
  readonly protocol: string;
  readonly version: number;
}

export interface ParsedHandshake {
  readonly request: HandshakeRequest;
  /** Bytes after the handshake's 0x1E: the first hub messages, if the client batched them. */
  readonly remaining: Uint8Array | undefined;
}

/**
 * Parses the handshake request from the start of `input`.
 * Returns `undefined` when no 0x1E has arrived yet (the caller buffers and retries).
 * Throws `HubProtocolError` `HUB_PROTOCOL_INVALID_HANDSHAKE` for anything else malformed.
 */
export declare function parseHandshakeRequest(input: string | Uint8Array): ParsedHandshake | undefined;

/** `{}` + 0x1E, or `{"error":"…"}` + 0x1E, as UTF-8 bytes. */
export declare function writeHandshakeResponse(error?: string): Uint8Array;
