/**
 * `createHubServer()`: hubs by name, the HTTP and upgrade entry points (mountable in any
 * `node:http` server, or listening on their own), and the housekeeping loop that sends
 * keep-alive pings, acknowledges stateful messages and enforces every timeout.
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { MessageType } from '@hubbub/hub-protocol';
import {
  closeHttpServer,
  createHttpServer,
  decodePathSegment,
  destroyOnError,
  type GuardOptions,
  guardRequest,
  guardUpgrade,
  ignoreBody,
  type Part,
  requestTarget,
  type ServerLimits,
  sendError as sendKernelError,
  type TimerHandle,
  TypedEmitter,
} from '@hubbub/kernel';
import { createAuthenticator } from './auth.ts';
import { ConnectionState, HubConnection, type Principal, type TokenSource } from './connection.ts';
import { createCors } from './cors.ts';
import { Endpoints } from './endpoints.ts';
import { HubError, HubErrorCode } from './errors.ts';
import { FanOutMessage } from './frames.ts';
import { sendError } from './http.ts';
import { Hub } from './hub.ts';
import { type HubServerOptions, type ResolvedHubServerOptions, resolveHubServerOptions } from './options.ts';
import { FlushScheduler, TransportKind } from './transport.ts';

export type HubServerEvents = {
  /** An unexpected failure while serving a request. */
  error: (error: Error) => void;
};

export interface ListenOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Timeouts and the connection cap of the server listened on. @default kernel's ServerLimits defaults */
  limits?: ServerLimits;
}

export class HubServer extends TypedEmitter<HubServerEvents> implements Part<HubServerEvents> {
  readonly options: ResolvedHubServerOptions;
  readonly #hubs = new Map<string, Hub>();
  /**
   * Negotiated connections still waiting for their transport and handshake, by connection id.
   * Once connected a connection is in its hub's index only (one map entry per connection, not two).
   */
  readonly #pending = new Map<string, HubConnection>();
  /**
   * Connection tokens (negotiate version 1) are `{id}.{HMAC(key, id)}`: unguessable from the id,
   * checked against the id's connection, and never stored (one random string less per connection).
   */
  readonly #tokens: TokenSource = tokenSource(randomBytes(32));
  readonly #scheduler: FlushScheduler;
  readonly #endpoints: Endpoints;
  readonly #cors: ReturnType<typeof createCors>;
  readonly #unsubscribe: () => void;
  readonly #guard: GuardOptions = { onError: (error) => this.emit('error', error) };
  #tick = 0;
  #timer: TimerHandle | undefined;
  #server: Server | undefined;
  #closed = false;
  #started = false;

  constructor(options: HubServerOptions = {}) {
    super();
    this.options = resolveHubServerOptions(options);
    this.#scheduler = new FlushScheduler(this.options.writeDelayMs, this.options.writeDelayMaxBytes);
    const authenticate = createAuthenticator(this.options.auth, this.options.clock);
    this.#cors = createCors(this.options.cors);
    this.#endpoints = new Endpoints({
      options: this.options,
      scheduler: this.#scheduler,
      authenticate,
      open: (hub, principal, stateful, version) => this.#open(hub, principal, stateful, version),
      find: (token, hub) => this.#find(token, hub),
    });
    this.#unsubscribe = this.options.backplane.subscribe((message) => this.#hubs.get(message.hub)?.apply(message));
  }

  /**
   * Starts the housekeeping loop (keep-alive pings, acks, every timeout). The factory starts
   * nothing; `listen()`, and the first request or upgrade a mounted server hands over, start it
   * too, so a server mounted in someone else's `node:http` server never runs without it.
   */
  async start(): Promise<void> {
    this.#ensureStarted();
  }

  #ensureStarted(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#schedule();
  }

  /** The hub called `name` (case-insensitive), created on first use. */
  hub(name: string): Hub {
    const key = name.toLowerCase();
    let hub = this.#hubs.get(key);
    if (hub === undefined) {
      if (!/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/.test(name)) {
        throw new HubError(HubErrorCode.BadRequest, `Invalid hub name '${name}'.`);
      }
      hub = new Hub({
        name: key,
        backplane: this.options.backplane,
        limits: {
          maxMessageBytes: this.options.maxMessageBytes,
          maxBufferedBytes: this.options.maxBufferedBytes,
          statefulBufferBytes: this.options.stateful?.bufferBytes ?? Number.POSITIVE_INFINITY,
        },
        logger: this.options.logger,
        detailedErrors: this.options.detailedErrors,
        clock: this.options.clock,
        slowConsumerGraceMs: this.options.slowConsumerGraceMs,
        userGroupTtlMs: this.options.userGroupTtlMs,
        maxUserGroupMemberships: this.options.maxUserGroupMemberships,
        tick: () => this.#tick,
        released: (connection) => this.#settled(connection),
      });
      hub.on('connected', (connection) => this.#settled(connection));
      this.#hubs.set(key, hub);
    }
    return hub;
  }

  /** The hub called `name` (case-insensitive) if it exists; never creates one. */
  findHub(name: string): Hub | undefined {
    return this.#hubs.get(name.toLowerCase());
  }

  /** Hubs created so far. */
  hubs(): IterableIterator<Hub> {
    return this.#hubs.values();
  }

  /**
   * Handles `{basePath}/{hub}/negotiate` and `{basePath}/{hub}`; returns false for other paths so
   * the caller can route them elsewhere.
   */
  readonly handleRequest = guardRequest((request: IncomingMessage, response: ServerResponse): boolean => {
    this.#ensureStarted();
    const url = requestTarget(request);
    const route = this.#route(url.pathname);
    if (route === undefined) return false;
    this.serve(route.hub, route.negotiate, request, response, url);
    return true;
  }, this.#guard);

  /** Serves one request for a hub chosen by the caller (the serverless `/client/?hub=` endpoint uses this). */
  serve(
    hubName: string,
    negotiate: boolean,
    request: IncomingMessage,
    response: ServerResponse,
    url = requestTarget(request),
  ) {
    this.#ensureStarted();
    if (negotiate) ignoreBody(request, response);
    if (this.#cors(request, response) !== 'continue') return;
    const hub = this.#hubs.get(hubName.toLowerCase());
    if (hub === undefined)
      return sendError(response, new HubError(HubErrorCode.HubNotFound, `No hub named '${hubName}'.`));
    const work = negotiate
      ? this.#endpoints.negotiate(hub, request, response, url)
      : this.#endpoints.connection(hub, request, response, url);
    work.catch((err: unknown) => this.#failed(err, response));
  }

  /** Handles a WebSocket upgrade on a hub path; returns false for other paths. */
  readonly handleUpgrade = guardUpgrade((request: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    this.#ensureStarted();
    const url = requestTarget(request);
    const route = this.#route(url.pathname);
    if (route === undefined || route.negotiate) return false;
    this.serveUpgrade(route.hub, request, socket, head, url);
    return true;
  }, this.#guard);

  serveUpgrade(hubName: string, request: IncomingMessage, socket: Duplex, head: Buffer, url = requestTarget(request)) {
    if (socket.listenerCount('error') === 0) socket.on('error', destroyOnError);
    this.#ensureStarted();
    const hub = this.#hubs.get(hubName.toLowerCase());
    if (hub === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.#endpoints.upgrade(hub, request, socket, head, url).catch((err: unknown) => {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      socket.destroy();
    });
  }

  /** Starts an HTTP server of its own serving only the hubs. */
  async listen(options: ListenOptions = {}): Promise<{ port: number; url: string }> {
    this.#ensureStarted();
    const server = createHttpServer({
      ...this.#guard,
      request: this.handleRequest,
      upgrade: this.handleUpgrade,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
    this.#server = server;
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return { port, url: `http://${host}:${port}` };
  }

  /** Number of connections on this node, negotiated ones included. */
  get connectionCount(): number {
    let count = this.#pending.size;
    for (const hub of this.#hubs.values()) count += hub.connectionCount;
    return count;
  }

  /** Closes every connection (clients are told they may reconnect) and stops serving. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#unsubscribe();
    for (const connection of this.#all()) {
      connection.close('Server is shutting down.', { allowReconnect: true });
    }
    this.#endpoints.close();
    if (this.#server !== undefined) await closeHttpServer(this.#server);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #route(pathname: string): { hub: string; negotiate: boolean } | undefined {
    const base = this.options.basePath;
    if (!pathname.startsWith(`${base}/`)) return undefined;
    const rest = pathname.slice(base.length + 1).replace(/\/+$/, '');
    const [hub, action, extra] = rest.split('/');
    if (hub === undefined || hub === '' || extra !== undefined) return undefined;
    if (action === undefined) return { hub: decodePathSegment(hub), negotiate: false };
    return action === 'negotiate' ? { hub: decodePathSegment(hub), negotiate: true } : undefined;
  }

  #open(hub: Hub, principal: Principal, stateful: boolean, version: number): HubConnection {
    const connectionId = this.options.ids.next();
    const connection = new HubConnection(hub, {
      connectionId,
      ...(version >= 1 ? { connectionToken: this.#tokens } : {}),
      principal,
      stateful,
    });
    this.#pending.set(connectionId, connection);
    return connection;
  }

  /** A pending connection completed its handshake (its hub indexes it now) or ended. */
  #settled(connection: HubConnection): void {
    if (this.#pending.get(connection.connectionId) === connection) this.#pending.delete(connection.connectionId);
  }

  /** Every connection of this node: pending ones, then each hub's. */
  #all(): HubConnection[] {
    const all: HubConnection[] = [];
    for (const connection of this.#pending.values()) {
      if (connection.state === ConnectionState.Pending) all.push(connection);
    }
    for (const hub of this.#hubs.values()) for (const connection of hub.connections()) all.push(connection);
    return all;
  }

  #lookup(id: string, hub: Hub): HubConnection | undefined {
    return this.#pending.get(id) ?? hub.connection(id);
  }

  /** The connection a transport's `id=` names: its connection id (version 0) or its token (version 1). */
  #find(token: string, hub: Hub): HubConnection | undefined {
    const byId = this.#lookup(token, hub);
    if (byId !== undefined) return byId.connectionToken === token ? byId : undefined;
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const connection = this.#lookup(token.slice(0, dot), hub);
    if (connection === undefined) return undefined;
    const expected = Buffer.from(connection.connectionToken);
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given) ? connection : undefined;
  }

  #failed(err: unknown, response: ServerResponse): void {
    if (!(typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status < 500)) {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
    sendKernelError(response, err);
  }

  #schedule(): void {
    this.#timer = this.options.clock.setTimeout(() => {
      if (this.#closed) return;
      this.#tick++;
      this.#housekeeping();
      this.#schedule();
    }, this.options.tickMs);
  }

  /** One pass over every connection: pings, acks, and every timeout. */
  #housekeeping(): void {
    const o = this.options;
    const ticks = (ms: number) => Math.ceil(ms / o.tickMs);
    const keepAlive = ticks(o.keepAliveIntervalMs);
    const clientTimeout = ticks(o.clientTimeoutMs);
    const handshakeTimeout = ticks(o.handshakeTimeoutMs);
    const negotiateTimeout = ticks(o.negotiateTimeoutMs);
    const reconnectWindow = ticks(o.stateful?.windowMs ?? 0);
    const now = o.clock.now();
    const tick = this.#tick;
    const pings = new FanOutMessage({ type: MessageType.Ping }); // encoded once per protocol per tick
    for (const connection of this.#all()) {
      const transport = connection.transport;
      switch (connection.state) {
        case ConnectionState.Pending:
          if (
            transport === undefined
              ? tick - connection.stateSinceTick >= negotiateTimeout
              : tick - connection.stateSinceTick >= handshakeTimeout
          ) {
            connection.close();
          }
          break;
        case ConnectionState.Disconnected:
          if (tick - connection.stateSinceTick >= reconnectWindow) connection.close();
          break;
        case ConnectionState.Connected:
          if (transport?.isAbandoned !== undefined) {
            // A long-polling client keeps no socket: its polls are its heartbeat.
            transport.expirePoll?.(now, o.longPollTimeoutMs);
            if (transport.isAbandoned(now, o.longPollDisconnectMs)) connection.close();
            break;
          }
          if (tick - connection.lastReceivedTick >= clientTimeout) {
            connection.close("Client hasn't sent a message/ping within the configured ClientTimeoutInterval.", {
              error: new HubError(HubErrorCode.ClientTimeout, 'Client timeout elapsed.'),
            });
            break;
          }
          connection.flushAck();
          if (tick - connection.lastSentTick >= keepAlive && transport?.kind !== TransportKind.LongPolling) {
            connection.sendFrame(pings.frameFor(connection.protocol!), false);
          }
          break;
      }
    }
  }
}

function tokenSource(key: Buffer): TokenSource {
  return {
    tokenFor: (connectionId) =>
      `${connectionId}.${createHmac('sha256', key).update(connectionId).digest('base64url').slice(0, 22)}`,
  };
}

export function createHubServer(options: HubServerOptions = {}): HubServer {
  return new HubServer(options);
}
