/**
 * The codec port: one implementation per hub protocol ("json", "messagepack").
 * @module
 */
import type { HubMessage, TransferFormat } from './messages.ts';

export interface HubProtocol {
  /** The name the client's handshake asks for: "json" or "messagepack". */
  readonly name: string;
  /** Highest protocol version understood (2 = with Ack/Sequence for stateful reconnect). */
  readonly version: number;
  readonly transferFormat: TransferFormat;
  /**
   * Parses zero or more complete messages from one transport payload (a WebSocket message, an HTTP
   * POST body). Text protocols accept a string or UTF-8 bytes. Throws a `HubProtocolError`
   * (`HUB_PROTOCOL_INVALID_MESSAGE`, `HUB_PROTOCOL_INCOMPLETE_MESSAGE`,
   * `HUB_PROTOCOL_MESSAGE_TOO_LARGE`) on malformed input; messages with an unknown `type` are
   * skipped, as the protocol asks.
   */
  parseMessages(input: string | Uint8Array, maxMessageBytes?: number): HubMessage[];
  /**
   * Writes one message with its framing (JSON + 0x1E as UTF-8 bytes, or VarInt length +
   * MessagePack). The result is shared by every recipient of a fan-out and must not be mutated.
   */
  writeMessage(message: HubMessage): Uint8Array;
}
