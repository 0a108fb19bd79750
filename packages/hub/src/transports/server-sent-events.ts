/**
 * Server-Sent Events: a long-lived GET response carries server-to-client frames as `data:` events
 * (text protocols only); the client sends with HTTP POST.
 * @module
 */
import type { ServerResponse } from 'node:http';
import {
  type FlushScheduler,
  type OutboundFrame,
  type Transport,
  TransportKind,
  type TransportOwner,
} from '../transport.ts';

export class ServerSentEventsTransport implements Transport {
  readonly kind = TransportKind.ServerSentEvents;
  readonly #res: ServerResponse;
  readonly #scheduler: FlushScheduler;
  readonly #owner: TransportOwner;
  #queue: Buffer[] = [];
  #queuedBytes = 0;

  constructor(res: ServerResponse, scheduler: FlushScheduler, owner: TransportOwner) {
    this.#res = res;
    this.#scheduler = scheduler;
    this.#owner = owner;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-store',
      Pragma: 'no-cache',
      'Content-Encoding': 'identity',
      'X-Accel-Buffering': 'no',
    });
    // A comment first: some browsers fire `open` only once data arrives.
    res.write(':\r\n');
    // An SSE stream has no close handshake, and no stateful reconnect: its end ends the connection.
    res.on('close', () => owner.transportClosed(this, true));
    res.on('drain', () => owner.transportDrained(this));
  }

  send(frame: OutboundFrame): void {
    const bytes = frame.sseEvent();
    if (this.#queue.length === 0) this.#scheduler.mark(this);
    this.#queue.push(bytes);
    const before = this.#queuedBytes;
    this.#queuedBytes = before + bytes.length;
    const max = this.#scheduler.maxBytes;
    if (before < max && this.#queuedBytes >= max) this.#scheduler.markNow(this);
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#res.writableEnded || this.#res.destroyed) return;
    if (queue.length === 1) {
      this.#res.write(queue[0]);
    } else {
      this.#res.cork();
      for (const bytes of queue) this.#res.write(bytes);
      this.#res.uncork();
    }
    if (!this.#res.writableNeedDrain) this.#owner.transportDrained(this);
  }

  discard(): void {
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  bufferedBytes(): number {
    return this.#queuedBytes + this.#res.writableLength;
  }

  close(): void {
    this.flush();
    if (!this.#res.writableEnded) this.#res.end();
  }
}
