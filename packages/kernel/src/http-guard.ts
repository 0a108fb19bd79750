/**
 * One guard for every HTTP and upgrade handler of every part: whatever a handler throws or
 * rejects with becomes the part's coded error reply (400 for a malformed URL, 500 otherwise) and
 * an `onError` call, never an exception that ends the process. And one way to create a server
 * whose every socket is bounded: header and request timeouts, keep-alive, an idle timeout for
 * connections that never send a request, and a cap on connections.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { InvalidOptionError } from './errors.ts';
import { HttpError, refuseUpgrade, sendError } from './http.ts';

/** Serves a request, or returns false to let the next handler have it. May be async. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<unknown>;
/** Serves an upgrade, or returns false to let the next handler have it. */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

export interface GuardOptions {
  /** Called with every failure that is not a coded 4xx: a bug to look at. */
  onError?: (error: Error, request: IncomingMessage) => void;
  /** Writes the part's error reply. @default {@link sendError} (`{code, message, detail?}`) */
  reply?: (response: ServerResponse, error: unknown) => void;
}

/** A request handler after the guard: synchronous, true when it took the request (an async one always does). */
export type GuardedRequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/** Wraps a request handler so that a throw or a rejection is answered, reported and contained. */
export function guardRequest(handler: RequestHandler, options: GuardOptions = {}): GuardedRequestHandler {
  const reply = options.reply ?? sendError;
  const fail = (error: unknown, request: IncomingMessage, response: ServerResponse) => {
    report(error, request, options);
    try {
      if (response.headersSent || response.destroyed) response.destroy();
      else reply(response, error);
    } catch (replyError) {
      report(replyError, request, options);
      response.destroy();
    }
  };
  return (request, response) => {
    try {
      const result = handler(request, response);
      if (result instanceof Promise) {
        result.catch((error: unknown) => fail(error, request, response));
        return true;
      }
      return result;
    } catch (error) {
      fail(error, request, response);
      return true;
    }
  };
}

/**
 * Wraps an upgrade handler: the socket gets an `error` listener before anything else runs (a peer
 * reset during a refusal or an async check must not become an unhandled `error` event), and a
 * throw refuses the upgrade with the coded error.
 */
export function guardUpgrade(handler: UpgradeHandler, options: GuardOptions = {}): UpgradeHandler {
  return (request, socket, head) => {
    if (socket.listenerCount('error') === 0) socket.on('error', destroyOnError);
    try {
      return handler(request, socket, head);
    } catch (error) {
      report(error, request, options);
      refuseUpgrade(socket, error);
      return true;
    }
  };
}

/** One listener for every upgraded socket (a closure each would stay with the socket for its life). */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}

function report(error: unknown, request: IncomingMessage, options: GuardOptions): void {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status < 500) return;
  options.onError?.(error instanceof Error ? error : new Error(String(error)), request);
}

export interface ServerLimits {
  /** Time to receive a request's headers. @default 10_000 */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (headers and body). @default 30_000 */
  requestTimeoutMs?: number;
  /** Idle time of a keep-alive connection between requests. @default 5_000 */
  keepAliveTimeoutMs?: number;
  /** Idle time of a new connection that has not sent a request yet. @default 10_000 */
  idleTimeoutMs?: number;
  /** Connections open at once; more are dropped as they arrive. @default 10_000 */
  maxConnections?: number;
}

export interface HttpServerOptions extends GuardOptions {
  /** Serves requests; one it does not take (returns false) is answered 404 KERNEL_NOT_FOUND. */
  request: RequestHandler;
  upgrade?: UpgradeHandler;
  limits?: ServerLimits;
}

/** A `node:http` server with every handler guarded and every socket bounded by {@link ServerLimits}. */
export function createHttpServer(options: HttpServerOptions): Server {
  const limits = resolveLimits(options.limits ?? {});
  const handle = guardRequest(options.request, options);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (request, response) => {
      request.socket.setTimeout(0); // a request arrived: its own timeouts apply from here on
      if (handle(request, response) === false) sendError(response, notFound(request));
    },
  );
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    socket.setTimeout(limits.idleTimeoutMs);
  });
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Error'}\r\nConnection: close\r\n\r\n`);
  });
  if (options.upgrade !== undefined) {
    const upgrade = guardUpgrade(options.upgrade, options);
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!upgrade(request, socket, head)) socket.destroy();
    });
  }
  return server;
}

function notFound(request: IncomingMessage): HttpError {
  const path = (request.url ?? '/').split('?')[0]!.slice(0, 256);
  return new HttpError('KERNEL_NOT_FOUND', 404, `Nothing is served at ${path}.`, { detail: { path } });
}

function resolveLimits(limits: ServerLimits): Required<ServerLimits> {
  const resolved = {
    headersTimeoutMs: limits.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: limits.requestTimeoutMs ?? 30_000,
    keepAliveTimeoutMs: limits.keepAliveTimeoutMs ?? 5_000,
    idleTimeoutMs: limits.idleTimeoutMs ?? 10_000,
    maxConnections: limits.maxConnections ?? 10_000,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidOptionError(`limits.${name}`, 'must be a positive integer');
  }
  if (resolved.requestTimeoutMs < resolved.headersTimeoutMs) {
    throw new InvalidOptionError('limits.requestTimeoutMs', 'must be at least headersTimeoutMs');
  }
  return resolved;
}
