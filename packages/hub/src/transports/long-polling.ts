/**
 * Long polling: frames wait in a queue until the client's next GET, which answers with every
 * queued frame at once, or with an empty 200 after the poll timeout. A newer poll ends the older
 * one with 204; so does the end of the connection.
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

const pollHeaders = {
  'Content-Type': 'application/octet-stream',
  'Cache-Control': 'no-cache, no-store',
  Pragma: 'no-cache',
  Expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
};

export class LongPollingTransport implements Transport {
  readonly kind = TransportKind.LongPolling;
  readonly #scheduler: FlushScheduler;
  readonly #owner: TransportOwner;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #poll: ServerResponse | undefined;
  #pollStartedAt = 0;
  /** When the last poll ended (ms): the connection is dead once no poll follows for a while. */
  #idleSince: number;
  #closed = false;
  /** The latest time the server told us (the transport has no clock of its own). */
  #lastNow: number;

  constructor(scheduler: FlushScheduler, owner: TransportOwner, now: number) {
    this.#scheduler = scheduler;
    this.#owner = owner;
    this.#idleSince = this.#lastNow = now;
  }

  /** Whether a poll is parked, waiting for frames. */
  get isPolling(): boolean {
    return this.#poll !== undefined;
  }

  /** Parks a poll. Answers at once when frames are waiting. */
  poll(res: ServerResponse, now: number): void {
    if (this.#closed && this.#queue.length === 0) {
      res.writeHead(204, pollHeaders).end();
      return;
    }
    this.#endPoll(204);
    this.#poll = res;
    this.#pollStartedAt = this.#lastNow = now;
    res.on('close', () => {
      if (this.#poll === res) {
        this.#poll = undefined;
        this.#idleSince = this.#lastNow;
      }
    });
    if (this.#queue.length > 0) this.flush();
  }

  send(frame: OutboundFrame): void {
    if (this.#closed) return;
    if (this.#queue.length === 0) this.#scheduler.markNow(this);
    this.#queue.push(frame.payload);
    this.#queuedBytes += frame.payload.byteLength;
  }

  flush(): void {
    const res = this.#poll;
    if (res === undefined || this.#queue.length === 0) return;
    const body = Buffer.concat(this.#queue, this.#queuedBytes);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#poll = undefined;
    res.writeHead(200, { ...pollHeaders, 'Content-Length': body.length }).end(body);
    this.#owner.transportDrained(this); // the poll took the whole queue
  }

  /** Ends a poll that has waited `timeoutMs` with an empty 200 (the client polls again). */
  expirePoll(now: number, timeoutMs: number): void {
    this.#lastNow = now;
    if (this.#poll !== undefined && now - this.#pollStartedAt >= timeoutMs) {
      this.#endPoll(200);
      this.#idleSince = now;
    }
  }

  /** True when no poll has been parked for `timeoutMs`: the client is gone. */
  isAbandoned(now: number, timeoutMs: number): boolean {
    return this.#poll === undefined && now - this.#idleSince >= timeoutMs;
  }

  discard(): void {
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  bufferedBytes(): number {
    return this.#queuedBytes;
  }

  /** Ends the transport. Frames still queued (a Close message) go to the next poll; later polls get 204. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    if (this.#queue.length === 0) this.#endPoll(204);
  }

  #endPoll(status: 200 | 204): void {
    const res = this.#poll;
    if (res === undefined) return;
    this.#poll = undefined;
    res.writeHead(status, status === 200 ? { ...pollHeaders, 'Content-Length': 0 } : pollHeaders).end();
  }
}
