/**
 * One client connection: its transport, the handshake, protocol framing, the outbound buffer bound
 * and, when negotiated, stateful reconnect (sequence numbers, acks and replay).
 *
 * Outbound bounds. A plain connection's frames wait in its transport; a stateful connection's
 * sequenced frames wait in its replay buffer (sent or not, until acknowledged) and are handed to
 * the transport only while the socket holds less than `maxBufferedBytes`, the rest following as it
 * drains — so a replay after a reconnect, and the live traffic behind it, never count against the
 * socket. Either way the bytes waiting may go over their bound (`maxBufferedBytes`, or the replay
 * buffer's `statefulBufferBytes`) for `slowConsumerGraceMs`, never past twice the bound; a client
 * that stays over longer, or goes past that, is closed with a Close message saying why.
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
import type { Principal } from './auth.ts';
import { HubError, HubErrorCode } from './errors.ts';
import { hubDefaults } from './options.ts';
import { ReplayBuffer } from './replay-buffer.ts';
import { OutboundFrame, type Transport, TransportKind } from './transport.ts';

export type { Principal };

/** What a connection needs from the hub that owns it. */
export interface ConnectionOwner {
  /** The hub's name (lowercase). */
  readonly name: string;
  /** Monotonic tick counter of the server's housekeeping loop. */
  readonly tick: number;
  readonly limits: ConnectionLimits;
  /** The current time, in ms, from the server's clock. */
  now(): number;
  connected(connection: HubConnection): void;
  message(connection: HubConnection, message: HubMessage): void;
  /** The connection ended; `connection.protocol` is set only if its handshake had succeeded. */
  closed(connection: HubConnection, error: Error | undefined): void;
}

export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly statefulBufferBytes: number;
  /** How long the outbound bytes may stay over their bound, in ms. @default 5_000 */
  readonly slowConsumerGraceMs?: number;
}

/**
 * Makes a connection's token from its id (the server keeps a key; see `HubServer`), so that a
 * connection need not store a second random string.
 */
export interface TokenSource {
  tokenFor(connectionId: string): string;
}

/** A Close message the client never received: its transport was down when the connection ended. */
export interface MissedClose {
  readonly error: string;
  readonly allowReconnect: boolean;
}

/** What the client is told when its reconnect window ran out before it came back. */
export const WINDOW_EXPIRED = 'The connection no longer exists (its reconnect window expired); negotiate again.';

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
  /** What was sent (or waits to be) and is not acknowledged yet. */
  readonly replay: ReplayBuffer;
  /** Sequenced messages received and processed. */
  received: number;
  /** Received id last acknowledged to the client. */
  acked: number;
  /** After a reconnect: inbound messages are counted from this id on. */
  resumeFrom: number | undefined;
}

const MAX_HANDSHAKE_BYTES = 4_096;

/**
 * What few connections ever need, in one object made on first use, so that an idle connection
 * carries one empty field instead of four (8 bytes each on every connection).
 */
interface Rare {
  statefulAllowed: boolean;
  /** See {@link HubConnection.query}. */
  query: string;
  items: Map<string, unknown> | undefined;
  /** A handshake that came in pieces. */
  handshakeBuffer: Buffer | undefined;
  /** Since when (ms) the outbound bytes have been over their bound; undefined while under it. */
  overSince: number | undefined;
  missedClose: MissedClose | undefined;
}

export class HubConnection {
  readonly connectionId: string;
  readonly principal: Principal;
  /** The token itself, where to derive it from, or undefined when it is the connection id. */
  readonly #token: string | TokenSource | undefined;
  /**
   * Groups this connection is in, maintained by the hub: none, one name, or a set from the second
   * on (most connections are in one group or none: a Set each would be ~150 bytes per connection).
   */
  #groups: string | Set<string> | undefined;

  state: ConnectionState = ConnectionState.Pending;
  protocol: HubProtocol | undefined;
  transport: Transport | undefined;
  lastReceivedTick: number;
  lastSentTick: number;
  /** Tick at which the current state began (handshake and reconnect-window timeouts). */
  stateSinceTick: number;

  readonly #owner: ConnectionOwner;
  #sequencing: Sequencing | undefined;
  #rare: Rare | undefined;

  constructor(
    owner: ConnectionOwner,
    init: {
      connectionId: string;
      /** The token, or where to derive it from; by default the connection id (negotiate version 0). */
      connectionToken?: string | TokenSource;
      principal: Principal;
      stateful: boolean;
    },
  ) {
    this.#owner = owner;
    this.connectionId = init.connectionId;
    this.#token = init.connectionToken === init.connectionId ? undefined : init.connectionToken;
    this.principal = init.principal;
    if (init.stateful) this.#rareFields().statefulAllowed = true;
    this.lastReceivedTick = this.lastSentTick = this.stateSinceTick = owner.tick;
  }

  /** Free-form per-connection state for hub methods (created on first use). */
  get items(): Map<string, unknown> {
    const rare = this.#rareFields();
    rare.items ??= new Map();
    return rare.items;
  }

  #rareFields(): Rare {
    this.#rare ??= {
      statefulAllowed: false,
      query: '',
      items: undefined,
      handshakeBuffer: undefined,
      overSince: undefined,
      missedClose: undefined,
    };
    return this.#rare;
  }

  /** The secret the transports present as `id=` (the connection id under negotiate version 0). */
  get connectionToken(): string {
    const token = this.#token;
    return token === undefined
      ? this.connectionId
      : typeof token === 'string'
        ? token
        : token.tokenFor(this.connectionId);
  }

  get hubName(): string {
    return this.#owner.name;
  }

  /** Whether negotiate granted stateful reconnect; the handshake version must also be 2 for it to apply. */
  get statefulAllowed(): boolean {
    return this.#rare?.statefulAllowed === true;
  }

  /**
   * The connect request's query string, leading `?` included, without the parameters the
   * protocol itself uses (`id`, `access_token`, `_`); empty when it had no others.
   */
  get query(): string {
    return this.#rare?.query ?? '';
  }

  set query(query: string) {
    if (query !== '' || this.#rare !== undefined) this.#rareFields().query = query;
  }

  /** The groups this connection is in (a snapshot). */
  get groups(): ReadonlySet<string> {
    const g = this.#groups;
    return g === undefined ? new Set() : typeof g === 'string' ? new Set([g]) : new Set(g);
  }

  /** Group names, copied (safe to leave groups while iterating). */
  groupNames(): string[] {
    const g = this.#groups;
    return g === undefined ? [] : typeof g === 'string' ? [g] : [...g];
  }

  inGroup(group: string): boolean {
    const g = this.#groups;
    return g === undefined ? false : typeof g === 'string' ? g === group : g.has(group);
  }

  /** Records a group joined (the hub keeps its own index); no-op if already in it. */
  addGroup(group: string): void {
    const g = this.#groups;
    if (g === undefined) this.#groups = group;
    else if (typeof g === 'string') {
      if (g !== group) this.#groups = new Set([g, group]);
    } else g.add(group);
  }

  removeGroup(group: string): void {
    const g = this.#groups;
    if (g === undefined) return;
    if (typeof g === 'string') {
      if (g === group) this.#groups = undefined;
    } else {
      g.delete(group);
      if (g.size === 0) this.#groups = undefined;
    }
  }

  get userId(): string | undefined {
    return this.principal.userId;
  }

  get isStateful(): boolean {
    return this.#sequencing !== undefined;
  }

  /** Set when the connection ended while its stateful transport was down: what the client was not told. */
  get missedClose(): MissedClose | undefined {
    return this.#rare?.missedClose;
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

  /**
   * Sends one encoded frame. On a stateful connection sequenced frames go to the replay buffer,
   * which feeds the transport as fast as its socket drains, and stay there until acknowledged.
   */
  sendFrame(frame: OutboundFrame, sequenced: boolean): void {
    if (this.state === ConnectionState.Closed) return;
    const seq = this.#sequencing;
    if (seq !== undefined && sequenced) {
      seq.replay.push(frame);
      if (this.#withinBounds()) this.#pump();
      return;
    }
    const transport = this.transport;
    if (transport === undefined || this.state === ConnectionState.Disconnected) return;
    transport.send(frame);
    this.lastSentTick = this.#owner.tick;
    this.#withinBounds();
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
   * The transport handed off its backlog: the connection is no longer over its bound (if it was),
   * and a stateful one writes what waits in its replay buffer.
   */
  transportDrained(transport: Transport): void {
    if (transport !== this.transport) return;
    if (this.#rare?.overSince !== undefined && !this.#withinBounds()) return;
    this.#pump();
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
    if (this.state === ConnectionState.Disconnected) {
      // No transport to carry the Close: keep it for a client that comes back too late.
      this.#rareFields().missedClose =
        reason === undefined
          ? { error: WINDOW_EXPIRED, allowReconnect: true }
          : { error: reason, allowReconnect: options.allowReconnect === true };
      this.#finish(options.error ?? (reason === undefined ? undefined : new HubError(HubErrorCode.Closed, reason)));
      return;
    }
    const transport = this.transport;
    if (transport !== undefined && this.protocol !== undefined) {
      this.#pump(Number.POSITIVE_INFINITY); // what waits in the replay buffer goes out before the Close
      transport.send(this.#closeFrame(reason, options.allowReconnect === true));
    }
    this.transport = undefined;
    transport?.close();
    const error = options.error ?? (reason === undefined ? undefined : new HubError(HubErrorCode.Closed, reason));
    this.#finish(error);
  }

  #closeFrame(reason: string | undefined, allowReconnect: boolean): OutboundFrame {
    const protocol = this.protocol!;
    const message: CloseMessage = {
      type: MessageType.Close,
      ...(reason === undefined ? {} : { error: reason }),
      ...(allowReconnect ? { allowReconnect: true } : {}),
    };
    return new OutboundFrame(protocol.writeMessage(message), protocol.transferFormat === 'Binary');
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
    const pending = this.#rare?.handshakeBuffer;
    const input = pending === undefined ? data : Buffer.concat([pending, data]);
    let parsed: ReturnType<typeof parseHandshakeRequest>;
    try {
      parsed = parseHandshakeRequest(input);
    } catch (err) {
      this.#failHandshake(err instanceof Error ? err.message : 'Invalid handshake.');
      return;
    }
    if (parsed === undefined) {
      if (input.length > MAX_HANDSHAKE_BYTES) this.#failHandshake('Handshake was canceled.');
      else this.#rareFields().handshakeBuffer = input;
      return;
    }
    if (pending !== undefined) this.#rare!.handshakeBuffer = undefined;
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
      this.#sequencing = { replay: new ReplayBuffer(), received: 0, acked: 0, resumeFrom: undefined };
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
    this.#sequencing!.replay.acknowledge(id);
    this.#withinBounds();
  }

  /** After a reconnect: Sequence{first unacked id}, then every unacked frame in order, paced. */
  #resend(): void {
    const seq = this.#sequencing;
    const transport = this.transport;
    if (seq === undefined || transport === undefined) return;
    const first = seq.replay.rewind();
    transport.send(
      new OutboundFrame(
        this.protocol!.writeMessage({ type: MessageType.Sequence, sequenceId: first }),
        this.protocol!.transferFormat === 'Binary',
      ),
    );
    this.#pump();
  }

  /**
   * Hands waiting replay-buffer frames to the transport while its socket holds less than `room`
   * bytes (the connection's `maxBufferedBytes`); the transport says when it has drained.
   */
  #pump(room = this.#owner.limits.maxBufferedBytes): void {
    const seq = this.#sequencing;
    const transport = this.transport;
    if (seq === undefined || transport === undefined || this.state !== ConnectionState.Connected) return;
    if (seq.replay.writeTo(transport, room)) this.lastSentTick = this.#owner.tick;
  }

  /**
   * Checks the outbound bytes against their bound: the replay buffer of a stateful connection,
   * the transport's queue otherwise. Over it for longer than the grace period, or over twice it,
   * closes the connection as a slow consumer. Returns whether the connection is still open.
   */
  #withinBounds(): boolean {
    const limits = this.#owner.limits;
    const seq = this.#sequencing;
    const bytes = seq !== undefined ? seq.replay.bytes : (this.transport?.bufferedBytes() ?? 0);
    const bound = seq !== undefined ? limits.statefulBufferBytes : limits.maxBufferedBytes;
    if (bytes <= bound) {
      const rare = this.#rare;
      if (rare !== undefined) rare.overSince = undefined;
      return true;
    }
    const now = this.#owner.now();
    const rare = this.#rareFields();
    rare.overSince ??= now;
    const grace = limits.slowConsumerGraceMs ?? hubDefaults.slowConsumerGraceMs;
    if (bytes <= 2 * bound && now - rare.overSince <= grace) return true;
    this.#slowConsumer(seq !== undefined ? 'unacknowledged messages' : 'the outbound buffer');
    return false;
  }

  /** Closes a client that does not keep up: what is queued is dropped, a Close says why. */
  #slowConsumer(what: string): void {
    const reason = `Connection closed with an error. The client is not reading fast enough: ${what} exceeded its bound.`;
    const error = new HubError(HubErrorCode.SlowConsumer, reason);
    const transport = this.transport;
    this.transport = undefined;
    if (this.state === ConnectionState.Disconnected) {
      this.#rareFields().missedClose = { error: reason, allowReconnect: true };
    } else if (transport !== undefined && this.protocol !== undefined) {
      transport.discard();
      transport.send(this.#closeFrame(reason, true));
      transport.close();
    }
    this.#finish(error);
  }

  #finish(error: Error | undefined): void {
    if (this.state === ConnectionState.Closed) return;
    this.state = ConnectionState.Closed;
    this.#sequencing = undefined;
    this.#owner.closed(this, error);
  }
}
