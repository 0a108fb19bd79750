/**
 * The port SignalR bindings reach a hub through: sends, group actions and the connection info a
 * negotiate function returns. The composition root adapts Hubbub's hub (in process) or a SignalR
 * service (over its REST API) to it; this package never signs a token itself.
 * @module
 */
import type { Connection } from '../../connections.ts';

export interface SignalRMessage {
  target: string;
  arguments: unknown[];
  userId?: string;
  groupName?: string;
  connectionId?: string;
}

/**
 * A SignalR message whose invocation is already written as the hub's JSON text protocol writes it:
 * `json` is `{"type":1,"target":…,"arguments":[…]}` (without the record separator), made once
 * where the function ran; a hub writes it to JSON connections as it is and decodes it only for
 * connections of another protocol.
 */
export interface EncodedSignalRMessage {
  target: string;
  json: string;
  userId?: string;
  groupName?: string;
  connectionId?: string;
}

export interface SignalRGroupAction {
  action: 'add' | 'remove' | 'removeAll';
  groupName?: string;
  userId?: string;
  connectionId?: string;
}

export interface SignalRConnectionInfo {
  url: string;
  accessToken: string;
}

export interface ConnectionInfoRequest {
  userId?: string;
  /** Extra claims copied into the token. */
  claims?: Record<string, unknown>;
  /** Token lifetime. @default 1 hour */
  lifetimeMs?: number;
}

/** The port SignalR bindings talk to. Message precedence: connectionId > userId > groupName > all. */
export interface SignalRTarget {
  send(hub: string, message: SignalRMessage): Promise<void>;
  /** Optional: sends a pre-encoded message (without it, the binding decodes it and calls `send`). */
  sendEncoded?(hub: string, message: EncodedSignalRMessage): Promise<void>;
  groupAction(hub: string, action: SignalRGroupAction): Promise<void>;
  connectionInfo(hub: string, request: ConnectionInfoRequest): Promise<SignalRConnectionInfo>;
}

/**
 * Picks the target for a connection setting (`{ name, value }` of e.g. AzureSignalRConnectionString);
 * undefined for none. The composition root decides what a connection string names (Hubbub's hub in
 * this process, or a SignalR service reached over its REST API).
 */
export type SignalRResolver = (
  connection: Connection,
) => SignalRTarget | undefined | Promise<SignalRTarget | undefined>;
