/**
 * The SignalR hub protocol message catalogue, shared by every codec.
 * Field names follow the JSON protocol; the MessagePack codec maps them to array positions.
 * @module
 */

export const MessageType = {
  Invocation: 1,
  StreamItem: 2,
  Completion: 3,
  StreamInvocation: 4,
  CancelInvocation: 5,
  Ping: 6,
  Close: 7,
  Ack: 8,
  Sequence: 9,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Protocol headers: a string-to-string map, usually empty. */
export type Headers = Readonly<Record<string, string>>;

export interface InvocationMessage {
  readonly type: typeof MessageType.Invocation;
  readonly headers?: Headers;
  /** Present only for blocking invocations (the caller waits for a Completion). */
  readonly invocationId?: string;
  readonly target: string;
  readonly arguments: readonly unknown[];
  /** Ids of client-to-server streams passed as arguments. */
  readonly streamIds?: readonly string[];
}

export interface StreamInvocationMessage {
  readonly type: typeof MessageType.StreamInvocation;
  readonly headers?: Headers;
  readonly invocationId: string;
  readonly target: string;
  readonly arguments: readonly unknown[];
  readonly streamIds?: readonly string[];
}

export interface StreamItemMessage {
  readonly type: typeof MessageType.StreamItem;
  readonly headers?: Headers;
  readonly invocationId: string;
  readonly item: unknown;
}

/** `error` and `result` are exclusive; neither means a void completion. */
export interface CompletionMessage {
  readonly type: typeof MessageType.Completion;
  readonly headers?: Headers;
  readonly invocationId: string;
  readonly error?: string;
  readonly result?: unknown;
}

export interface CancelInvocationMessage {
  readonly type: typeof MessageType.CancelInvocation;
  readonly headers?: Headers;
  readonly invocationId: string;
}

export interface PingMessage {
  readonly type: typeof MessageType.Ping;
}

export interface CloseMessage {
  readonly type: typeof MessageType.Close;
  readonly error?: string;
  readonly allowReconnect?: boolean;
}

export interface AckMessage {
  readonly type: typeof MessageType.Ack;
  readonly sequenceId: number;
}

export interface SequenceMessage {
  readonly type: typeof MessageType.Sequence;
  readonly sequenceId: number;
}

export type HubMessage =
  | InvocationMessage
  | StreamItemMessage
  | CompletionMessage
  | StreamInvocationMessage
  | CancelInvocationMessage
  | PingMessage
  | CloseMessage
  | AckMessage
  | SequenceMessage;

/** Messages that carry a sequence number under stateful reconnect (Ping, Close, Ack, Sequence do not). */
export function isSequenced(message: HubMessage): boolean {
  return message.type <= MessageType.CancelInvocation;
}

/** How a transport carries a protocol's bytes: text frames (JSON) or binary frames (MessagePack). */
export const TransferFormat = { Text: 'Text', Binary: 'Binary' } as const;
export type TransferFormat = (typeof TransferFormat)[keyof typeof TransferFormat];
