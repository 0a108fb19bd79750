/**
 * One client connection: its transport, the handshake, protocol framing, the outbound buffer bound
 * and, when negotiated, stateful reconnect (sequence numbers, acks and replay).
 * @module
 */
import {
  type CloseMessage,
  getProtocol,
  type HubMessage,
  type HubProtocol,
  isSequenced,
  MessageType,
  parseHandshakeRequest,
  writeHandshakeResponse,
} from '@hubbub/hub-protocol';
import { HubError, HubErrorCode } from './errors.ts';
import { OutboundFrame, type Transport, TransportKind } from './transport.ts';

/** Who is on the other end, as established by the access token. */
export interface Principal {
  readonly userId: string | undefined;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What a connection needs from the hub that owns it. */
export interface ConnectionOwner {
  /** Monotonic tick counter of the server's housekeeping loop. */
  readonly tick: number;
  readonly limits: ConnectionLimits;
  connected(connection: HubConnection): void;
  message(connection: HubConnection, message: HubMessage): void;
  /** The connection ended; `connection.protocol` is set only if its handshake had succeeded. */
  closed(connection: HubConnection, error: Error | undefined): void;
}

export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly statefulBufferBytes: number;
}

export const ConnectionState = {
  /** Negotiated; waiting for a transport and the handshake. */
  Pending: 0,
  /** Handshake done; messages flow. */
  Connected: 1,
  /** Stateful reconnect: the transport dropped, frames are buffered until it comes back. */
  Disconnected: 2,
  Closed: 3,
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

interface Sequencing {
  /** Sequence id of the last sequenced frame sent. */
  sent: number;
  /** Sent frames not yet acknowledged, oldest first. */
  unacked: Array<{ id: number; frame: OutboundFrame }>;
  unackedBytes: number;
  /** Sequenced messages received and processed. */
  received: number;
  /** Received id last acknowledged to the client. */
  acked: number;
  /** After a reconnect: inbound messages are counted from this id on. */
  resumeFrom: number | undefined;
}

const MAX_HANDSHAKE_BYTES = 4_096;

export class HubConnection {
  readonly connectionId: string;
  /** The secret the transports present as `id=` (the connection id under negotiate version 0). */
  readonly connectionToken: string;
  readonly hubName: string;
  readonly principal: Principal;
  /** Whether negotiate granted stateful reconnect; the handshake version must also be 2 for it to apply. */
  readonly statefulAllowed: boolean;
  #items: Map<string, unknown> | undefined;
  /** Groups this connection is in (names), maintained by the hub. */
  readonly groups = new Set<string>();
  /** The connect request's query string, including the leading `?` (or empty). */
  query = '';

  state: ConnectionState = ConnectionState.Pending;
  protocol: HubProtocol | undefined;
  transport: Transport | undefined;
  lastReceivedTick: number;
  lastSentTick: number;
  /** Tick at which the current state began (handshake and reconnect-window timeouts). */
  stateSinceTick: number;

  readonly #owner: ConnectionOwner;
  #handshakeBuffer: Buffer | undefined;
  #sequencing: Sequencing | undefined;

  constructor(
    owner: ConnectionOwner,
    init: { connectionId: string; connectionToken: string; hubName: string; principal: Principal; stateful: boolean },
  ) {
    this.#owner = owner;
    this.connectionId = init.connectionId;
    this.connectionToken = init.connectionToken;
    this.hubName = init.hubName;
    this.principal = init.principal;
    this.statefulAllowed = init.stateful;
    this.lastReceivedTick = this.lastSentTick = this.stateSinceTick = owner.tick;
  }

  /** Free-form per-connection state for hub methods (created on first use). */
  get items(): Map<string, unknown> {
    this.#items ??= new Map();
    return this.#items;
  }

  get userId(): string | undefined {
    return this.principal.userId;
  }

  get isStateful(): boolean {
    return this.#sequencing !== undefined;
  }

  /** Attaches the transport. A stateful connection re-attaching resends what the client has not acked. */
  attach(transport: Transport): void {
    this.transport = transport;
    this.lastReceivedTick = this.#owner.tick;
    if (this.state === ConnectionState.Disconnected) {
      this.state = ConnectionState.Connected;
      this.stateSinceTick = this.#owner.tick;
      this.#resend();
    } else if (this.state === ConnectionState.Pending) {
      this.stateSinceTick = this.#owner.tick;
    }
  }

  /** Called by the transport with one inbound payload. */
  receive(data: Buffer, binary: boolean): void {
    if (this.state === ConnectionState.Closed) return;
    this.lastReceivedTick = this.#owner.tick;
    if (this.state === ConnectionState.Pending) {
      this.#receiveHandshake(data);
      return;
    }
    const protocol = this.protocol!;
    if (binary !== (protocol.transferFormat === 'Binary') && this.transport?.kind === TransportKind.WebSockets) {
      this.close(`Connection closed with an error. Expected ${protocol.transferFormat.toLowerCase()} frames.`);
      return;
    }
    let messages: HubMessage[];
    try {
      messages = protocol.parseMessages(data, this.#owner.limits.maxMessageBytes);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.close(`Connection closed with an error. ${reason}`, {
        error: new HubError(HubErrorCode.InvalidMessage, reason, { cause: err }),
      });
      return;
    }
    for (const message of messages) {
      if ((this.state as ConnectionState) === ConnectionState.Closed) return;
      this.#receiveMessage(message);
    }
  }

  /** Sends one encoded frame; sequenced frames are kept for replay until acknowledged. */
  sendFrame(frame: OutboundFrame, sequenced: boolean): void {
    if (this.state === ConnectionState.Closed) return;
    const seq = this.#sequencing;
    if (seq !== undefined && sequenced) {
      seq.sent++;
      seq.unacked.push({ id: seq.sent, frame });
      seq.unackedBytes += frame.byteLength;
      if (seq.unackedBytes > this.#owner.limits.statefulBufferBytes) {
        this.#slowConsumer('unacknowledged messages');
        return;
      }
    }
    const transport = this.transport;
    if (transport === undefined || this.state === ConnectionState.Disconnected) return;
    transport.send(frame);
    this.lastSentTick = this.#owner.tick;
    if (transport.bufferedBytes() > this.#owner.limits.maxBufferedBytes) this.#slowConsumer('the outbound buffer');
  }

  /** Encodes and sends one message in this connection's protocol. */
  send(message: HubMessage): void {
    const protocol = this.protocol;
    if (protocol === undefined) return;
    this.sendFrame(
      new OutboundFrame(protocol.writeMessage(message), protocol.transferFormat === 'Binary'),
      isSequenced(message),
    );
  }

  /** Acknowledges received sequenced messages (called from the housekeeping tick). */
  flushAck(): void {
    const seq = this.#sequencing;
    if (seq === undefined || seq.received === seq.acked || this.state !== ConnectionState.Connected) return;
    seq.acked = seq.received;
    this.send({ type: MessageType.Ack, sequenceId: seq.received });
  }

  /**
   * The transport ended. A stateful connection that dropped without a close handshake waits for
   * the client to reconnect; anything else closes.
   */
  transportClosed(transport: Transport, clean: boolean): void {
    if (this.transport !== transport || this.state === ConnectionState.Closed) return;
    if (!clean && this.#sequencing !== undefined && this.state === ConnectionState.Connected) {
      this.transport = undefined;
      this.state = ConnectionState.Disconnected;
      this.stateSinceTick = this.#owner.tick;
      return;
    }
    this.transport = undefined;
    this.#finish(undefined);
  }

  /**
   * Closes the connection. With a `reason`, the client first receives a Close message carrying it
   * (and `allowReconnect`); `error` is what the hub's `disconnected` event reports.
   */
  close(reason?: string, options: { allowReconnect?: boolean; error?: Error } = {}): void {
    if (this.state === ConnectionState.Closed) return;
    const transport = this.transport;
    if (transport !== undefined && this.protocol !== undefined) {
      const message: CloseMessage = {
        type: MessageType.Close,
        ...(reason === undefined ? {} : { error: reason }),
        ...(options.allowReconnect ? { allowReconnect: true } : {}),
      };
      transport.send(new OutboundFrame(this.protocol.writeMessage(message), this.protocol.transferFormat === 'Binary'));
    }
    this.transport = undefined;
    transport?.close();
    const error = options.error ?? (reason === undefined ? undefined : new HubError(HubErrorCode.Closed, reason));
    this.#finish(error);
  }

  /** Rejects a handshake: the error response, then the end of the transport. */
  #failHandshake(message: string): void {
    const transport = this.transport;
    if (transport !== undefined) {
      transport.send(new OutboundFrame(writeHandshakeResponse(message), false));
      this.transport = undefined;
      transport.close();
    }
    this.#finish(new HubError(HubErrorCode.Handshake, message));
  }

  #receiveHandshake(data: Buffer): void {
    const input = this.#handshakeBuffer === undefined ? data : Buffer.concat([this.#handshakeBuffer, data]);
    let parsed: ReturnType<typeof parseHandshakeRequest>;
    try {
      parsed = parseHandshakeRequest(input);
    } catch (err) {
      this.#failHandshake(err instanceof Error ? err.message : 'Invalid handshake.');
      return;
    }
    if (parsed === undefined) {
      if (input.length > MAX_HANDSHAKE_BYTES) this.#failHandshake('Handshake was canceled.');
      else this.#handshakeBuffer = input;
      return;
    }
    this.#handshakeBuffer = undefined;
    const { protocol: name, version } = parsed.request;
    const protocol = getProtocol(name);
    if (protocol === undefined) return this.#failHandshake(`The protocol '${name}' is not supported.`);
    if (version < 1 || version > protocol.version) {
      return this.#failHandshake(`The server does not support version ${version} of the '${name}' protocol.`);
    }
    if (protocol.transferFormat === 'Binary' && this.transport?.kind === TransportKind.ServerSentEvents) {
      return this.#failHandshake(
        `Cannot use the '${name}' protocol on the current transport. The transport does not support 'Binary' transfer format.`,
      );
    }
    this.protocol = protocol;
    if (this.statefulAllowed && version >= 2 && this.transport?.kind === TransportKind.WebSockets) {
      this.#sequencing = { sent: 0, unacked: [], unackedBytes: 0, received: 0, acked: 0, resumeFrom: undefined };
    }
    this.transport?.send(new OutboundFrame(writeHandshakeResponse(), protocol.transferFormat === 'Binary'));
    this.state = ConnectionState.Connected;
    this.stateSinceTick = this.#owner.tick;
    this.#owner.connected(this);
    if (parsed.remaining !== undefined && parsed.remaining.byteLength > 0 && this.state === ConnectionState.Connected) {
      this.receive(Buffer.from(parsed.remaining), protocol.transferFormat === 'Binary');
    }
  }

  #receiveMessage(message: HubMessage): void {
    const seq = this.#sequencing;
    if (seq !== undefined) {
      if (message.type === MessageType.Ack) {
        this.#acknowledge(message.sequenceId);
        return;
      }
      if (message.type === MessageType.Sequence) {
        if (message.sequenceId > seq.received + 1) {
          this.close('Sequence ID greater than amount of messages we have received.');
          return;
        }
        seq.resumeFrom = message.sequenceId;
        return;
      }
      if (isSequenced(message)) {
        if (seq.resumeFrom !== undefined) {
          const id = seq.resumeFrom++;
          if (id <= seq.received) return; // already processed before the reconnect
          seq.resumeFrom = undefined;
        }
        seq.received++;
      }
    }
    if (
      message.type === MessageType.Ping ||
      message.type === MessageType.Ack ||
      message.type === MessageType.Sequence
    ) {
      return;
    }
    if (message.type === MessageType.Close) {
      this.transport?.close();
      this.transport = undefined;
      this.#finish(message.error === undefined ? undefined : new HubError(HubErrorCode.Closed, message.error));
      return;
    }
    this.#owner.message(this, message);
  }

  #acknowledge(id: number): void {
    const seq = this.#sequencing!;
    let drop = 0;
    while (drop < seq.unacked.length && seq.unacked[drop]!.id <= id) {
      seq.unackedBytes -= seq.unacked[drop]!.frame.byteLength;
      drop++;
    }
    if (drop > 0) seq.unacked.splice(0, drop);
  }

  /** After a reconnect: Sequence{first unacked id}, then every unacked frame in order. */
  #resend(): void {
    const seq = this.#sequencing;
    const transport = this.transport;
    if (seq === undefined || transport === undefined) return;
    const first = seq.unacked[0]?.id ?? seq.sent + 1;
    transport.send(
      new OutboundFrame(
        this.protocol!.writeMessage({ type: MessageType.Sequence, sequenceId: first }),
        this.protocol!.transferFormat === 'Binary',
      ),
    );
    for (const { frame } of seq.unacked) transport.send(frame);
  }

  #slowConsumer(what: string): void {
    const reason = `Connection closed with an error. The client is not reading fast enough: ${what} exceeded its bound.`;
    const transport = this.transport;
    this.transport = undefined;
    if (transport !== undefined && 'terminate' in transport && typeof transport.terminate === 'function') {
      transport.terminate();
    } else {
      transport?.close();
    }
    this.#finish(new HubError(HubErrorCode.SlowConsumer, reason));
  }

  #finish(error: Error | undefined): void {
    if (this.state === ConnectionState.Closed) return;
    this.state = ConnectionState.Closed;
    this.#sequencing = undefined;
    this.#owner.closed(this, error);
  }
}
