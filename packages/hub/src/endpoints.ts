/**
 * The HTTP side of a hub: `POST …/negotiate`, and the connection endpoint that serves Server-Sent
 * Events, long polls, client sends (POST) and long-polling stops (DELETE). WebSocket upgrades come
 * through {@link Endpoints.upgrade}.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  jsonProtocol,
  MessageType,
  messagePackProtocol,
  parseHandshakeRequest,
  writeHandshakeResponse,
} from '@hubbub/hub-protocol';
import { destroyOnError, readBody, sendError as sendCodedError } from '@hubbub/kernel';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Authenticator } from './auth.ts';
import { ConnectionState, type HubConnection, type MissedClose, type Principal } from './connection.ts';
import { HubError, HubErrorCode } from './errors.ts';
import { sendError, sendJson, sendText } from './http.ts';
import type { Hub } from './hub.ts';
import type { ResolvedHubServerOptions } from './options.ts';
import { type FlushScheduler, TransportKind } from './transport.ts';
import { LongPollingTransport } from './transports/long-polling.ts';
import { ServerSentEventsTransport } from './transports/server-sent-events.ts';
import { type WebSocketShared, WebSocketTransport } from './transports/websocket.ts';

export interface EndpointHost {
  readonly options: ResolvedHubServerOptions;
  readonly scheduler: FlushScheduler;
  readonly authenticate: Authenticator;
  /** Creates and registers a connection for `hub`. */
  open(hub: Hub, principal: Principal, stateful: boolean, version: number): HubConnection;
  /** The connection of `hub` a transport's `id=` names (its token), if it is still there. */
  find(token: string, hub: Hub): HubConnection | undefined;
}

const transferFormats: Record<TransportKind, string[]> = {
  WebSockets: ['Text', 'Binary'],
  ServerSentEvents: ['Text'],
  LongPolling: ['Text', 'Binary'],
};

export class Endpoints {
  readonly #host: EndpointHost;
  readonly #wss: WebSocketServer;
  /**
   * WebSockets in their close handshake, so that closing the server does not wait on clients'
   * answers (the server closes every connection first, which puts each of its sockets here).
   */
  readonly #closing = new Set<WebSocketTransport>();
  /** What every WebSocket transport shares (one object, not two fields per transport). */
  readonly #shared: WebSocketShared;

  constructor(host: EndpointHost) {
    this.#host = host;
    this.#shared = { scheduler: host.scheduler, closing: this.#closing };
    const maxPayload = Math.max(1_048_576, host.options.maxMessageBytes * 4);
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload });
  }

  /** `POST {hub}/negotiate`. Errors the client should show travel as `{"error": …}` with status 200. */
  async negotiate(hub: Hub, request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    if (request.method !== 'POST') return sendText(response, 405, 'Method Not Allowed');
    let version = 0;
    for (const [key, value] of url.searchParams) {
      if (key.toLowerCase() !== 'negotiateversion') continue;
      if (!/^\d+$/.test(value))
        return sendJson(response, 200, { error: 'The client requested a non-integer protocol version.' });
      version = Math.min(1, Number(value));
    }
    const principal = await this.#authenticate(request, response, url, hub);
    if (principal === undefined) return;
    const elsewhere = await this.#host.options.redirect?.(hub.name, principal, request);
    if (elsewhere !== undefined)
      return sendJson(response, 200, { url: elsewhere.url, accessToken: elsewhere.accessToken });
    const stateful =
      url.searchParams.get('useStatefulReconnect') === 'true' && this.#host.options.stateful !== undefined;
    const connection = this.#host.open(hub, principal, stateful, version);
    const body: Record<string, unknown> = {
      negotiateVersion: version,
      connectionId: connection.connectionId,
      ...(version >= 1 ? { connectionToken: connection.connectionToken } : {}),
      availableTransports: this.#host.options.transports.map((transport) => ({
        transport,
        transferFormats: transferFormats[transport],
      })),
    };
    if (stateful) body.useStatefulReconnect = true;
    sendJson(response, 200, body);
  }

  /** GET (SSE or long poll), POST (send) and DELETE (stop) on the connection endpoint. */
  async connection(hub: Hub, request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE')
      return sendText(response, 405, 'Method Not Allowed');
    const token = url.searchParams.get('id');
    if (token === null || token === '') return sendText(response, 400, 'Connection ID required');
    const connection = this.#host.find(token, hub);
    if (connection === undefined || connection.hubName !== hub.name || connection.state === ConnectionState.Closed) {
      return sendText(response, 404, 'No Connection with that ID');
    }
    if (!(await this.#reauthenticate(connection, request, response, url, hub))) return;
    if (method === 'POST') return this.#post(connection, request, response);
    if (method === 'DELETE') {
      if (connection.transport?.kind !== TransportKind.LongPolling) {
        return sendText(response, 400, 'Cannot terminate this connection using the DELETE endpoint.');
      }
      // The client asked to stop: no Close message, the pending poll ends with 204.
      const transport = connection.transport;
      response.writeHead(202).end();
      connection.transportClosed(transport, true);
      transport.close();
      return;
    }
    if (request.headers.accept?.includes('text/event-stream'))
      return this.#serverSentEvents(connection, request, response, url);
    return this.#longPoll(connection, response, url);
  }

  /**
   * A WebSocket upgrade on the connection endpoint (with `id`, or without under skipNegotiation).
   * A stateful client coming back after its connection ended unseen is accepted only to be told
   * why (see {@link Endpoints.#explainMissedClose}); any other unknown id gets 404.
   */
  async upgrade(hub: Hub, request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    // Until `ws` owns the socket (or after a refusal), a peer reset must not be an unhandled 'error'
    // (the kernel's guard has usually added this listener already). Once `ws` owns the socket, its
    // own listener is the only one: a second would make the socket keep an array of them.
    if (socket.listenerCount('error') === 0) socket.on('error', destroyOnError);
    const refuse = (status: number, text: string) => {
      if (socket.destroyed) return;
      socket.end(
        `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
    };
    if (!this.#host.options.transports.includes(TransportKind.WebSockets)) {
      return refuse(404, 'WebSockets transport not supported by this end point type');
    }
    let principal: Principal;
    try {
      principal = await this.#host.authenticate(request, url, hub.name);
    } catch (err) {
      const error = err instanceof HubError ? err : new HubError(HubErrorCode.Unauthorized, 'Unauthorized');
      return refuse(error.status ?? 401, error.message);
    }
    if (socket.destroyed) return; // the client left while we checked its token
    const token = url.searchParams.get('id');
    let connection: HubConnection | undefined;
    if (token === null || token === '') {
      connection = this.#host.open(hub, principal, false, 0);
    } else {
      connection = this.#host.find(token, hub);
      if (connection === undefined || connection.hubName !== hub.name || connection.state === ConnectionState.Closed) {
        const missed = hub.takeMissedClose(token, principal.userId);
        if (missed === undefined) return refuse(404, 'No Connection with that ID');
        this.#wss.handleUpgrade(request, socket, head, (ws) => {
          socket.off('error', destroyOnError);
          this.#explainMissedClose(ws, missed);
        });
        return;
      }
      if (connection.userId !== principal.userId)
        return refuse(403, 'The user identity cannot change during a connection.');
      const current = connection.transport;
      if (current !== undefined && current.kind !== TransportKind.WebSockets) {
        return refuse(400, 'Cannot change transports mid-connection');
      }
      const reattach = connection.isStateful && connection.state !== ConnectionState.Pending;
      if (!reattach && (current !== undefined || connection.state !== ConnectionState.Pending)) {
        return refuse(409, 'Another WebSocket is already connected for this connection.');
      }
    }
    const target = connection;
    const query = clientQuery(url); // read now: the callback should not keep the URL alive
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      socket.off('error', destroyOnError); // ws listens from here on
      if (target.state === ConnectionState.Closed) {
        ws.close(1000);
        return;
      }
      const previous = target.transport;
      const transport = new WebSocketTransport(ws, socket, this.#shared, target);
      if (previous?.terminate !== undefined) {
        target.transportClosed(previous, false);
        previous.terminate();
      }
      target.query = query;
      target.attach(transport);
    });
  }

  /**
   * Tells a client whose stateful connection ended while it was away why it cannot resume. The
   * client reconnects without a handshake and sends its Sequence message first, in its protocol
   * (a text frame for JSON, binary for MessagePack); the answer is a Sequence (the client drops
   * everything until one arrives) and the Close it missed, so that the official client reports
   * "Server returned an error on close: …" instead of a bare 1006. A client that sends a handshake
   * instead gets the reason as a handshake error. Silence ends the socket after the handshake timeout.
   */
  #explainMissedClose(ws: WebSocket, close: MissedClose): void {
    const timer = this.#host.options.clock.setTimeout(() => ws.terminate(), this.#host.options.handshakeTimeoutMs);
    ws.on('error', () => {});
    ws.once('close', () => timer.cancel());
    ws.once('message', (data: Buffer, binary: boolean) => {
      timer.cancel();
      let reply: Uint8Array;
      if (!binary && isHandshake(data)) {
        reply = writeHandshakeResponse(close.error);
      } else {
        const protocol = binary ? messagePackProtocol : jsonProtocol;
        const sequence = protocol.writeMessage({ type: MessageType.Sequence, sequenceId: 1 });
        const message = protocol.writeMessage({
          type: MessageType.Close,
          error: close.error,
          ...(close.allowReconnect ? { allowReconnect: true } : {}),
        });
        reply = Buffer.concat([sequence, message]);
      }
      ws.send(reply, { binary });
      ws.close(1000);
    });
  }

  /** Stops accepting upgrades and drops every WebSocket once what is queued for it is written. */
  close(): void {
    this.#wss.close();
    for (const transport of [...this.#closing]) {
      transport.flush();
      transport.terminate();
    }
    this.#closing.clear();
  }

  async #post(connection: HubConnection, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const kind = connection.transport?.kind;
    if (kind === undefined) return sendText(response, 400, 'The connection has no transport yet.');
    if (kind === TransportKind.WebSockets)
      return sendText(response, 405, 'POST requests are not allowed on WebSocket connections.');
    let body: Buffer;
    try {
      // An oversized body is answered 413 (and the connection closed after the answer), not reset.
      body = await readBody(request, Math.max(1_048_576, this.#host.options.maxMessageBytes * 4));
    } catch (err) {
      return sendCodedError(response, err);
    }
    const binary = !(request.headers['content-type'] ?? '').startsWith('text/');
    connection.receive(body, binary);
    response.writeHead(200, { 'Content-Length': 0 }).end();
  }

  #serverSentEvents(connection: HubConnection, request: IncomingMessage, response: ServerResponse, url: URL): void {
    if (!this.#host.options.transports.includes(TransportKind.ServerSentEvents)) {
      return sendText(response, 404, 'ServerSentEvents transport not supported by this end point type');
    }
    if (connection.transport !== undefined) {
      const sameKind = connection.transport.kind === TransportKind.ServerSentEvents;
      return sendText(
        response,
        sameKind ? 409 : 400,
        sameKind ? 'An SSE stream is already open.' : 'Cannot change transports mid-connection',
      );
    }
    request.socket.setNoDelay(true);
    const transport = new ServerSentEventsTransport(response, this.#host.scheduler, connection);
    connection.query = clientQuery(url);
    connection.attach(transport);
  }

  #longPoll(connection: HubConnection, response: ServerResponse, url: URL): void {
    if (!this.#host.options.transports.includes(TransportKind.LongPolling)) {
      return sendText(response, 404, 'LongPolling transport not supported by this end point type');
    }
    const now = this.#host.options.clock.now();
    const current = connection.transport;
    if (current === undefined) {
      // The first poll activates the connection and returns at once.
      const transport = new LongPollingTransport(this.#host.scheduler, connection, now);
      connection.query = clientQuery(url);
      connection.attach(transport);
      response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 }).end();
      return;
    }
    if (current.poll === undefined) return sendText(response, 400, 'Cannot change transports mid-connection');
    current.poll(response, now);
  }

  async #authenticate(request: IncomingMessage, response: ServerResponse, url: URL, hub: Hub) {
    try {
      return await this.#host.authenticate(request, url, hub.name);
    } catch (err) {
      if (err instanceof HubError) {
        response.setHeader('WWW-Authenticate', 'Bearer');
        sendError(response, err);
        return undefined;
      }
      throw err;
    }
  }

  async #reauthenticate(
    connection: HubConnection,
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    hub: Hub,
  ) {
    const principal = await this.#authenticate(request, response, url, hub);
    if (principal === undefined) return false;
    if (principal.userId !== connection.userId) {
      sendError(response, new HubError(HubErrorCode.Forbidden, 'The user identity cannot change during a connection.'));
      return false;
    }
    return true;
  }
}

/**
 * The connect request's query string without the connection token (`id`), the access token and
 * the long-polling cache buster (`_`): what a connection keeps of it ({@link HubConnection.query}).
 * Most clients send nothing else, and then nothing is kept: not the token (the connection knows
 * it), nor a slice of the request URL that would keep the whole URL alive.
 */
export function clientQuery(url: URL): string {
  const search = url.search;
  if (search === '') return '';
  const params = url.searchParams;
  let other = false;
  for (const key of params.keys()) {
    if (key !== 'id' && key !== 'access_token' && key !== '_') {
      other = true;
      break;
    }
  }
  if (!other) return '';
  const kept = new URLSearchParams(params);
  for (const name of ['id', 'access_token', '_']) kept.delete(name);
  return `?${kept.toString()}`;
}

/** Whether a first text frame is a handshake request rather than a hub message. */
function isHandshake(data: Buffer): boolean {
  try {
    return parseHandshakeRequest(data) !== undefined;
  } catch {
    return false;
  }
}

function statusText(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict' }[status] ?? 'Error'
  );
}
