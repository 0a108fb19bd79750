/**
 * WebSockets: `ws` performs the upgrade, parses inbound frames and runs the close handshake;
 * outbound data frames are pre-built once per message ({@link OutboundFrame.wsFrame}) and written
 * straight to the socket we handed to `ws`, corked when a turn queued several. With a write delay
 * (the scheduler's `delayMs`) the messages queued within it go out as one data frame instead, the
 * hub messages back to back in it. The owner hears when the socket has room again, so that it can
 * pace what it writes.
 * @module
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  type FlushScheduler,
  type OutboundFrame,
  type Transport,
  TransportKind,
  type TransportOwner,
  webSocketFrameOf,
} from '../transport.ts';

/** The WebSocket and its socket carry their transport, so that one listener serves every connection. */
type Tagged = { hubTransport?: WebSocketTransport };

function onDrain(this: object): void {
  (this as Tagged).hubTransport?.drained();
}

function onMessage(this: object, data: Buffer, isBinary: boolean): void {
  (this as Tagged).hubTransport?.received(data, isBinary);
}

function onClose(this: object, code: number): void {
  (this as Tagged).hubTransport?.ended(code);
}

/**
 * A net.Socket keeps its cleared idle timer (a Timeout and a bound function, ~170 bytes) under a
 * private symbol after `setTimeout(0)`; node only ever tests that slot for truthiness, so dropping
 * it is safe, and it is memory every idle connection would otherwise hold.
 */
let timerSlot: symbol | undefined | null = null;
function releaseTimer(socket: Duplex): void {
  if (timerSlot === null) {
    timerSlot = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'timeout');
  }
  if (timerSlot !== undefined && timerSlot in socket) (socket as unknown as Record<symbol, unknown>)[timerSlot] = null;
}

function onError(): void {
  // ws closes the socket itself after an error and then emits 'close'.
}

export class WebSocketTransport implements Transport {
  readonly kind = TransportKind.WebSockets;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #scheduler: FlushScheduler;
  readonly #owner: TransportOwner;
  readonly #open: Set<WebSocketTransport>;
  #queue: OutboundFrame | OutboundFrame[] | undefined;
  #queuedBytes = 0;

  /** `open` holds every live WebSocket transport; this one leaves it when it closes. */
  constructor(
    ws: WebSocket,
    socket: Duplex,
    scheduler: FlushScheduler,
    owner: TransportOwner,
    open: Set<WebSocketTransport>,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#scheduler = scheduler;
    this.#owner = owner;
    this.#open = open;
    open.add(this);
    // The hub's keep-alive and client timeout govern the connection from here on: the HTTP server's
    // idle timeout would keep a timer per socket, refreshed on every write.
    (socket as Duplex & { setTimeout?(ms: number): unknown }).setTimeout?.(0);
    releaseTimer(socket);
    // Shared listeners, not closures per connection: each finds its transport on the emitter.
    (ws as Tagged).hubTransport = this;
    (socket as Tagged).hubTransport = this;
    socket.on('drain', onDrain);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
  }

  /** The socket drained. */
  drained(): void {
    this.#owner.transportDrained(this);
  }

  /** One inbound message. */
  received(data: Buffer, isBinary: boolean): void {
    this.#owner.receive(data, isBinary);
  }

  /** The WebSocket closed (after a close handshake, or without one). */
  ended(code: number): void {
    this.#open.delete(this);
    this.#owner.transportClosed(this, code === 1000 || code === 1001);
  }

  send(frame: OutboundFrame): void {
    const queue = this.#queue;
    if (queue === undefined) {
      this.#queue = frame;
      this.#scheduler.mark(this);
    } else if (Array.isArray(queue)) {
      queue.push(frame);
    } else {
      this.#queue = [queue, frame];
    }
    const before = this.#queuedBytes;
    this.#queuedBytes = before + frame.byteLength;
    const max = this.#scheduler.maxBytes;
    if (before < max && this.#queuedBytes >= max) this.#scheduler.markNow(this);
  }

  flush(): void {
    const queue = this.#queue;
    if (queue === undefined) return;
    this.#queue = undefined;
    this.#queuedBytes = 0;
    if (this.#ws.readyState !== 1 || this.#socket.destroyed) return;
    const socket = this.#socket;
    if (!Array.isArray(queue)) {
      socket.write(queue.wsFrame());
    } else if (this.#scheduler.delayMs > 0) {
      // One data frame per run of frames of the same kind (text or binary: the same for one protocol).
      socket.cork();
      let start = 0;
      for (let i = 1; i <= queue.length; i++) {
        if (i < queue.length && queue[i]!.binary === queue[start]!.binary) continue;
        socket.write(
          i - start === 1 ? queue[start]!.wsFrame() : webSocketFrameOf(queue.slice(start, i), queue[start]!.binary),
        );
        start = i;
      }
      socket.uncork();
    } else {
      socket.cork();
      for (const frame of queue) socket.write(frame.wsFrame());
      socket.uncork();
    }
    // Without backpressure no 'drain' follows: say now that there is room.
    if (!this.#socket.writableNeedDrain) this.#owner.transportDrained(this);
  }

  bufferedBytes(): number {
    return this.#queuedBytes + this.#socket.writableLength;
  }

  discard(): void {
    this.#queue = undefined;
    this.#queuedBytes = 0;
  }

  close(): void {
    this.flush();
    if (this.#ws.readyState === 0 || this.#ws.readyState === 1) this.#ws.close(1000);
  }

  /** Drops the socket without a close handshake (used when a newer socket takes over). */
  terminate(): void {
    this.#queue = undefined;
    this.#ws.terminate();
  }
}
