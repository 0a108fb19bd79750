/**
 * @hubbub/hub-protocol: pure SignalR hub protocol codecs (handshake, JSON, MessagePack). No I/O.
 * @module
 */
import { jsonProtocol } from './json-protocol.ts';
import { messagePackProtocol } from './msgpack-protocol.ts';
import type { HubProtocol } from './protocol.ts';

export { EncodedInvocation } from './encoded-invocation.ts';
export { HubProtocolError, HubProtocolErrorCode } from './errors.ts';
export {
  type HandshakeRequest,
  type ParsedHandshake,
  parseHandshakeRequest,
  writeHandshakeResponse,
} from './handshake.ts';
export { jsonProtocol, RECORD_SEPARATOR, RECORD_SEPARATOR_CODE } from './json-protocol.ts';
export {
  type AckMessage,
  type CancelInvocationMessage,
  type CloseMessage,
  type CompletionMessage,
  type Headers,
  type HubMessage,
  type InvocationMessage,
  isSequenced,
  MessageType,
  type PingMessage,
  type SequenceMessage,
  type StreamInvocationMessage,
  type StreamItemMessage,
  TransferFormat,
} from './messages.ts';
export { messagePackProtocol } from './msgpack-protocol.ts';
export type { HubProtocol } from './protocol.ts';
export { MAX_VARINT_VALUE, readVarInt, type VarIntRead, varIntSize, writeVarInt } from './varint.ts';

/** Every protocol this package implements, by the name a handshake asks for. */
export const protocols: Readonly<Record<string, HubProtocol>> = Object.freeze({
  [jsonProtocol.name]: jsonProtocol,
  [messagePackProtocol.name]: messagePackProtocol,
});

/** The protocol a handshake's `protocol` field names (case-insensitive, as ASP.NET Core), if implemented. */
export function getProtocol(name: string): HubProtocol | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(protocols, key) ? protocols[key] : undefined;
}
