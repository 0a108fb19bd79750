/**
 * The seam between a hub connection and the wire. A transport takes frames that were encoded once
 * for all recipients and writes them, coalescing everything queued in one event-loop turn.
 * @module
 */
import type { ServerResponse } from 'node:http';

export const TransportKind = {
  WebSockets: 'WebSockets',
  ServerSentEvents: 'ServerSentEvents',
  LongPolling: 'LongPolling',
} as const;
export type TransportKind = (typeof TransportKind)[keyof typeof TransportKind];

/** The bit each transport has in the client's `HttpTransportType` mask. */
export const transportBits: Record<TransportKind, number> = { WebSockets: 1, ServerSentEvents: 2, LongPolling: 4 };

/**
 * One encoded hub message (protocol framing included), shared by every recipient. The framings a
 * transport adds on top (a WebSocket frame header, SSE `data:` lines) are built on first use and
 * cached, so a broadcast to N WebSocket clients builds one frame and writes the same bytes N times.
 */
export class OutboundFrame {
  readonly payload: Uint8Array;
  /** Text (JSON) or binary (MessagePack) framing on WebSockets. */
  readonly binary: boolean;
  #ws: Buffer | undefined;
  #sse: Buffer | undefined;

  constructor(payload: Uint8Array, binary: boolean) {
    this.payload = payload;
    this.binary = binary;
  }

  get byteLength(): number {
    return this.payload.byteLength;
  }

  /** A complete, unmasked server-to-client WebSocket frame (RFC 6455 §5.2). */
  wsFrame(): Buffer {
    if (this.#ws === undefined) this.#ws = buildWebSocketFrame(this.payload, this.binary);
    return this.#ws;
  }

  /** The payload as one Server-Sent Event (`data:` line per payload line, then a blank line). */
  sseEvent(): Buffer {
    if (this.#sse === undefined) this.#sse = buildSseEvent(this.payload);
    return this.#sse;
  }
}

/**
 * One WebSocket data frame carrying several hub messages back to back: each payload is already
 * framed by its protocol (JSON records end with 0x1E, MessagePack ones carry a length prefix), so
 * their concatenation is a valid message sequence for the client (the write delay's coalescing).
 */
export function webSocketFrameOf(frames: readonly OutboundFrame[], binary: boolean): Buffer {
  let length = 0;
  for (const frame of frames) length += frame.payload.byteLength;
  const out = Buffer.allocUnsafe(headerLengthOf(length) + length);
  let offset = writeHeader(out, length, binary);
  for (const frame of frames) {
    out.set(frame.payload, offset);
    offset += frame.payload.byteLength;
  }
  return out;
}

function headerLengthOf(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes an unmasked FIN data frame header for `length` bytes; returns where the payload starts. */
function writeHeader(frame: Buffer, length: number, binary: boolean): number {
  frame[0] = 0x80 | (binary ? 0x02 : 0x01); // FIN + opcode
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  return headerLengthOf(length);
}

function buildWebSocketFrame(payload: Uint8Array, binary: boolean): Buffer {
  const length = payload.byteLength;
  const frame = Buffer.allocUnsafe(headerLengthOf(length) + length);
  frame.set(payload, writeHeader(frame, length, binary));
  return frame;
}

function buildSseEvent(payload: Uint8Array): Buffer {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  let out = '';
  for (const line of text.split('\n')) out += `data: ${line.endsWith('\r') ? line.slice(0, -1) : line}\r\n`;
  return Buffer.from(`${out}\r\n`, 'utf8');
}

/** Who a transport reports to: the connection it carries (no per-connection closures needed). */
export interface TransportOwner {
  /** One inbound payload (a WebSocket message or an HTTP POST body). */
  receive(data: Buffer, binary: boolean): void;
  /** The transport ended; `clean` is false when it dropped without a close handshake. */
  transportClosed(transport: Transport, clean: boolean): void;
  /** The transport can take more: its socket drained, or a flush went out without backpressure. */
  transportDrained(transport: Transport): void;
}

/** What a connection needs from its transport. */
export interface Transport {
  readonly kind: TransportKind;
  /** Queues a frame; frames queued in one event-loop turn go out in one write. */
  send(frame: OutboundFrame): void;
  /** Bytes accepted but not yet handed to the kernel. */
  bufferedBytes(): number;
  /** Drops the frames queued but not yet written (a slow consumer's last Close then goes first). */
  discard(): void;
  /** Ends the transport (after flushing what is queued). */
  close(): void;
  /** Drops the transport at once, without flushing (a WebSocket replaced by a reconnect). */
  terminate?(): void;
  /** Long polling: takes the next poll request, answered with what is queued or when it expires. */
  poll?(response: ServerResponse, now: number): void;
  /** Long polling: answers a poll that has waited `timeoutMs` (empty, so the client polls again). */
  expirePoll?(now: number, timeoutMs: number): void;
  /** Long polling: the client has not polled for `timeoutMs` (it keeps no socket to watch). */
  isAbandoned?(now: number, timeoutMs: number): boolean;
}

/**
 * Flushes every transport that queued frames, once per batch: a burst of sends to one connection
 * becomes one socket write. Without a write delay the batch is one event-loop turn (a single
 * `setImmediate`); with `delayMs` it is every send within that many ms (one shared timer for all
 * connections, as Centrifugo's `write_delay`), and a transport holding `maxBytes` or more asks for
 * the next turn instead ({@link markNow}), so what waits per connection stays bounded.
 */
export class FlushScheduler {
  /** How long a connection's first queued frame may wait for others, in ms (0: until the end of the turn). */
  readonly delayMs: number;
  /** Bytes a transport may hold back for the delay; at this many it is flushed at the end of the turn. */
  readonly maxBytes: number;
  #dirty: Array<{ flush(): void }> = [];
  #scheduled = false;
  #now: Array<{ flush(): void }> = [];
  #nowScheduled = false;

  constructor(delayMs = 0, maxBytes = Number.POSITIVE_INFINITY) {
    this.delayMs = delayMs;
    this.maxBytes = delayMs > 0 ? maxBytes : Number.POSITIVE_INFINITY;
  }

  /** The target queued its first frame of this batch. */
  mark(target: { flush(): void }): void {
    this.#dirty.push(target);
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.delayMs > 0) setTimeout(this.#run, this.delayMs);
      else setImmediate(this.#run);
    }
  }

  /** Flush at the end of this turn whatever the delay: a queue that reached {@link maxBytes}, or a long poll. */
  markNow(target: { flush(): void }): void {
    if (this.delayMs <= 0) return this.mark(target);
    this.#now.push(target);
    if (!this.#nowScheduled) {
      this.#nowScheduled = true;
      setImmediate(this.#runNow);
    }
  }

  #run = (): void => {
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const target of dirty) target.flush();
  };

  #runNow = (): void => {
    this.#nowScheduled = false;
    const full = this.#now;
    this.#now = [];
    for (const target of full) target.flush();
  };
}
