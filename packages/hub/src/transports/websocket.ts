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

/** The WebSocket carries its transport, so that one listener serves every connection. */
type Tagged = { hubTransport?: WebSocketTransport };

/**
 * `ws` keeps the WebSocket on its socket under a private symbol (`kWebSocket`); found once, it
 * leads a socket's 'drain' to the transport without a property of our own on every socket.
 */
let wsSlot: symbol | undefined | null = null;

function onDrain(this: object): void {
  const transport =
    (this as Tagged).hubTransport ??
    (wsSlot ? ((this as Record<symbol, unknown>)[wsSlot] as Tagged | undefined)?.hubTransport : undefined);
  transport?.drained();
}

function onMessage(this: object, data: Buffer, isBinary: boolean): void {
  (this as Tagged).hubTransport?.received(data, isBinary);
  releaseReceiverBuffers(this);
}

function onClose(this: object, code: number): void {
  (this as Tagged).hubTransport?.ended(code);
}

/**
 * `ws`'s Receiver queues inbound chunks in an array it empties with `shift()`: after the first
 * message the empty array keeps room for 17 chunks (152 bytes) for as long as the connection
 * lives. Once a message has been consumed and nothing waits, a fresh empty array takes its place
 * (the receiver reads the property anew for every chunk), so an idle connection holds none.
 */
function releaseReceiverBuffers(ws: object): void {
  const receiver = (ws as { _receiver?: { _buffers?: unknown } })._receiver;
  const buffers = receiver?._buffers;
  if (Array.isArray(buffers) && buffers.length === 0) receiver!._buffers = [];
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

/**
 * An EventEmitter keeps its listeners in `_events`, which it makes as `{ __proto__: null }`: an
 * object V8 keeps in dictionary mode, a hash table of ~160 bytes besides the object itself, on
 * every WebSocket (streams such as the socket pre-shape theirs; a plain emitter does not). The
 * same listeners in an instance of this constructor (no inherited properties either, its prototype
 * has a null one) make a fast-mode object of a few slots.
 */
function Listeners(): void {}
Listeners.prototype = Object.create(null);

function compactListeners(emitter: object): void {
  const holder = emitter as { _events?: unknown };
  const events = holder._events;
  if (events === null || typeof events !== 'object' || Object.getPrototypeOf(events) !== null) return;
  const compact = new (Listeners as unknown as new () => Record<string | symbol, unknown>)();
  for (const key of Reflect.ownKeys(events)) compact[key] = (events as Record<string | symbol, unknown>)[key];
  holder._events = compact;
}

/**
 * With no extension negotiated (the server disables permessage-deflate), `ws` still makes an empty
 * extensions object per connection that the WebSocket, its Receiver and its Sender share and only
 * read: one frozen empty object serves them all (a write would throw, not leak across connections).
 */
const NO_EXTENSIONS: object = Object.freeze({});

function shareNoExtensions(ws: object): void {
  const w = ws as { _extensions?: object; _receiver?: { _extensions?: object }; _sender?: { _extensions?: object } };
  const own = w._extensions;
  if (own === undefined || own === NO_EXTENSIONS || Reflect.ownKeys(own).length !== 0) return;
  const receiver = w._receiver;
  const sender = w._sender;
  if (receiver?._extensions !== own || sender?._extensions !== own) return;
  w._extensions = NO_EXTENSIONS;
  receiver._extensions = NO_EXTENSIONS;
  sender._extensions = NO_EXTENSIONS;
}

function onError(): void {
  // ws closes the socket itself after an error and then emits 'close'.
}

/** What every WebSocket transport of a server shares (one object, not a field each). */
export interface WebSocketShared {
  readonly scheduler: FlushScheduler;
  /**
   * Transports that started their close handshake and have not ended yet (a server closing drops
   * them at once). Live ones are not tracked here: their connections are, and close them.
   */
  readonly closing: Set<WebSocketTransport>;
}

export class WebSocketTransport implements Transport {
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #shared: WebSocketShared;
  readonly #owner: TransportOwner;
  #queue: OutboundFrame | OutboundFrame[] | undefined;
  #queuedBytes = 0;

  constructor(ws: WebSocket, socket: Duplex, shared: WebSocketShared, owner: TransportOwner) {
    this.#ws = ws;
    this.#socket = socket;
    this.#shared = shared;
    this.#owner = owner;
    // The hub's keep-alive and client timeout govern the connection from here on: the HTTP server's
    // idle timeout would keep a timer per socket, refreshed on every write.
    (socket as Duplex & { setTimeout?(ms: number): unknown }).setTimeout?.(0);
    releaseTimer(socket);
    // Shared listeners, not closures per connection: each finds its transport on the emitter
    // (the socket's through its WebSocket).
    (ws as Tagged).hubTransport = this;
    if (wsSlot === null) {
      wsSlot = Object.getOwnPropertySymbols(socket).find(
        (s) => s.description === 'websocket' && (socket as unknown as Record<symbol, unknown>)[s] === ws,
      );
    }
    if (wsSlot === undefined || (socket as unknown as Record<symbol, unknown>)[wsSlot] !== ws) {
      (socket as Tagged).hubTransport = this; // a `ws` without the slot: the socket carries it too
    }
    socket.on('drain', onDrain);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    compactListeners(ws);
    shareNoExtensions(ws);
  }

  get kind(): TransportKind {
    return TransportKind.WebSockets;
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
    this.#shared.closing.delete(this);
    this.#owner.transportClosed(this, code === 1000 || code === 1001);
  }

  send(frame: OutboundFrame): void {
    const queue = this.#queue;
    if (queue === undefined) {
      this.#queue = frame;
      this.#shared.scheduler.mark(this);
    } else if (Array.isArray(queue)) {
      queue.push(frame);
    } else {
      this.#queue = [queue, frame];
    }
    const before = this.#queuedBytes;
    this.#queuedBytes = before + frame.byteLength;
    const max = this.#shared.scheduler.maxBytes;
    if (before < max && this.#queuedBytes >= max) this.#shared.scheduler.markNow(this);
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
    } else if (this.#shared.scheduler.delayMs > 0) {
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
    const state = this.#ws.readyState;
    if (state === 0 || state === 1) this.#ws.close(1000);
    if (state !== 3) this.#shared.closing.add(this);
  }

  /** Drops the socket without a close handshake (used when a newer socket takes over). */
  terminate(): void {
    this.#queue = undefined;
    this.#ws.terminate();
  }
}
