/**
 * The one lifecycle every part of Hubbub follows — the hub server, the SignalR service, the
 * functions host, the system itself: a synchronous factory that starts nothing (no timers, no
 * sockets, no files), `start()` to begin, `close()` to stop (idempotent; in-flight work finishes
 * first), `[Symbol.asyncDispose]` for `await using`, a typed event map, and — for parts that serve
 * HTTP — `handleRequest` / `handleUpgrade` that say whether they took the request, so the system
 * can mount a list of parts on one port and try them in order.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventMap } from './events.ts';

export interface Part<Events extends EventMap = EventMap> {
  /** Starts timers, engines and listeners. Calling it twice is an error or a no-op, never a second start. */
  start(): Promise<void>;
  /** Stops; resolves once in-flight work has finished. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  /** Subscribes to one of the part's typed events; returns the unsubscribe function. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void;
  /** Serves a request, or returns false to let the next part have it. */
  handleRequest?(request: IncomingMessage, response: ServerResponse): boolean;
  /** Serves an upgrade, or returns false to let the next part have it. */
  handleUpgrade?(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/** What a list of parts mounts on one port: the first that takes a request or upgrade serves it. */
export interface Mount {
  handleRequest?(request: IncomingMessage, response: ServerResponse): boolean;
  handleUpgrade?(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/** Tries each part in order; false when none took it. */
export function mountParts(parts: readonly Mount[]) {
  const requests = parts.flatMap((p) => (p.handleRequest === undefined ? [] : [p.handleRequest.bind(p)]));
  const upgrades = parts.flatMap((p) => (p.handleUpgrade === undefined ? [] : [p.handleUpgrade.bind(p)]));
  return {
    handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
      for (const handle of requests) if (handle(request, response)) return true;
      return false;
    },
    handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      for (const handle of upgrades) if (handle(request, socket, head)) return true;
      return false;
    },
  };
}
