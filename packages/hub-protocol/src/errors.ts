/**
 * The errors a hub protocol codec throws. Callers match on `code`; a hub answers them with a Close
 * message naming the reason and drops the connection.
 * @module
 */
import { HubbubError, type HubbubErrorOptions } from '@hubbub/kernel';

export const HubProtocolErrorCode = {
  /** The handshake request is not a JSON object with a string `protocol` and an integer `version`. */
  InvalidHandshake: 'HUB_PROTOCOL_INVALID_HANDSHAKE',
  /** A message is not valid JSON / MessagePack, or does not have the shape its `type` requires. */
  InvalidMessage: 'HUB_PROTOCOL_INVALID_MESSAGE',
  /** The payload ends in the middle of a message (no trailing 0x1E, truncated length or body). */
  IncompleteMessage: 'HUB_PROTOCOL_INCOMPLETE_MESSAGE',
  /** One message is larger than the `maxMessageBytes` given to `parseMessages`. */
  MessageTooLarge: 'HUB_PROTOCOL_MESSAGE_TOO_LARGE',
} as const;
export type HubProtocolErrorCode = (typeof HubProtocolErrorCode)[keyof typeof HubProtocolErrorCode];

export class HubProtocolError extends HubbubError {
  declare readonly code: HubProtocolErrorCode;

  constructor(code: HubProtocolErrorCode, message: string, options: HubbubErrorOptions = {}) {
    super(code, message, { status: 400, ...options });
  }
}

/** Shorthand for the most common failure: a message whose shape is wrong. */
export function invalidMessage(message: string, cause?: unknown): HubProtocolError {
  return new HubProtocolError(HubProtocolErrorCode.InvalidMessage, message, cause === undefined ? {} : { cause });
}
