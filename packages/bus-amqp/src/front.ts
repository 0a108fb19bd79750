/**
 * The AMQP 1.0 front of the bus: a TCP listener speaking the dialect of `@azure/service-bus`
 * (SASL ANONYMOUS or MSSBCBS, claims-based security on `$cbs`, entity links, `$management`) over
 * the bus's operations port, so the official SDK works with a connection string ending in
 * `UseDevelopmentEmulator=true`. Given a certificate (`tls`), it also serves AMQPS on 5671, the only
 * port the 1.x SDK reaches (`Endpoint=sb://HOST/`, no port). A part like every other:
 * `createAmqpFront()` starts nothing, `start()` listens, `close()` stops accepting, closes every
 * connection and waits for them.
 * @module
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { SasKey } from '@hubbub/bus';
import type { Broker } from '@hubbub/bus/broker';
import { type Clock, InvalidOptionError, type Part, systemClock, TypedEmitter } from '@hubbub/kernel';
import { keyRing } from './auth.ts';
import { Condition } from './conditions.ts';
import { AmqpConnection, type ConnectionLimits } from './connection.ts';
import { AmqpFrontError } from './errors.ts';
import { FrameGuard } from './frame-guard.ts';
import { corkOutput, poolFrames } from './output.ts';
import { type RheaContainer, rhea } from './rhea.ts';

/** The port the front listens on by default (5672 is RabbitMQ's on these machines). */
export const DEFAULT_AMQP_PORT = 5673;
/** The AMQPS port: the 1.x SDK always connects to it. */
export const DEFAULT_AMQPS_PORT = 5671;

export interface AmqpFrontOptions {
  /** The bus (anything with its operations port, e.g. a started `Bus`). */
  bus: { readonly broker: Broker };
  /** Keys that may sign the SAS tokens clients put on `$cbs`; at least one. */
  keys: readonly SasKey[];
  /** @default 5673; 0 picks a free port (see {@link AmqpFront.port}) */
  port?: number;
  /** @default '127.0.0.1' (both ports) */
  host?: string;
  /**
   * A certificate and key (PEM) for AMQPS, e.g. the local CA's from `@hubbub/tls` (clients trust
   * it with `NODE_EXTRA_CA_CERTS`). @default none: plain TCP only
   */
  tls?: { readonly certPem: string; readonly keyPem: string };
  /** The AMQPS port (with `tls`); 0 picks a free one; `false`: off. @default 5671 */
  amqpsPort?: number | false;
  /** Time for a TLS handshake. @default 10_000 */
  handshakeTimeoutMs?: number;
  /** Largest frame a client may send (advertised in open). @default 65_536 */
  maxFrameSize?: number;
  /** Heartbeat interval asked of clients; a connection silent for twice it is closed. @default 60_000 */
  idleTimeoutMs?: number;
  /** Time from connect to a successful put-token before the connection is closed. @default 20_000 */
  authTimeoutMs?: number;
  /** Largest message advertised on sender links (the SDK sizes batches by it). @default 262_144 */
  maxMessageSize?: number;
  /** Largest delivery a client may transfer before its link is detached. @default 4 × maxMessageSize */
  maxTransferBytes?: number;
  /** Concurrent connections. @default 1_000 */
  maxConnections?: number;
  /** Sessions per connection. @default 64 */
  maxSessionsPerConnection?: number;
  /** Links per connection. @default 256 */
  maxLinksPerConnection?: number;
  /** Attaches a connection may make per second before it is closed. @default 100 */
  maxAttachesPerSecond?: number;
  /** Credit of each client sending link: sends in flight per link. @default 100 */
  linkCredit?: number;
  /** Messages handed to one receiving link per broker receive. @default 256 */
  maxReceiveBatch?: number;
  /** Bytes queued on a socket before deliveries wait for it to drain. @default 4 MiB */
  maxWriteBufferBytes?: number;
  /**
   * Bytes of sends a connection may have waiting on the broker: past half of it, credit comes back
   * only as sends finish; past all of it, the connection is closed. @default 128 MiB
   */
  maxInflightBytes?: number;
  /** Longest wait of `acceptNextSession` for a free session. @default 60_000 */
  maxSessionWaitMs?: number;
  /** Token expiry and time-outs read this clock. @default systemClock */
  clock?: Clock;
}

export type AmqpFrontEvents = {
  /** A connection was closed for cause (bad frames, refused token, limits …). */
  connectionError: (err: AmqpFrontError) => void;
};

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidOptionError(name, 'must be a positive integer');
  return v;
}

export class AmqpFront implements Part<AmqpFrontEvents> {
  readonly #events = new TypedEmitter<AmqpFrontEvents>();
  readonly #bus: { readonly broker: Broker };
  readonly #ring: ReturnType<typeof keyRing>;
  readonly #port: number;
  readonly #host: string;
  readonly #tls: { readonly certPem: string; readonly keyPem: string } | undefined;
  readonly #amqpsPort: number;
  readonly #handshakeTimeoutMs: number;
  readonly #clock: Clock;
  readonly #maxFrameSize: number;
  readonly #idleTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #limits: ConnectionLimits;
  readonly #connections = new Map<Socket, AmqpConnection>();
  #server: Server | undefined;
  #tlsServer: Server | undefined;
  #container: RheaContainer | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  /** Use {@link createAmqpFront}. */
  constructor(options: AmqpFrontOptions) {
    if (options?.bus === undefined || options.bus === null) throw new InvalidOptionError('bus', 'is required');
    this.#bus = options.bus;
    this.#ring = keyRing(options.keys);
    const port = options.port ?? DEFAULT_AMQP_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidOptionError('port', 'must be 0…65535');
    this.#port = port;
    this.#host = options.host ?? '127.0.0.1';
    if (typeof this.#host !== 'string' || this.#host === '')
      throw new InvalidOptionError('host', 'must be a host name or address');
    const amqpsPort = options.amqpsPort ?? DEFAULT_AMQPS_PORT;
    if (amqpsPort !== false && (!Number.isInteger(amqpsPort) || amqpsPort < 0 || amqpsPort > 65_535))
      throw new InvalidOptionError('amqpsPort', 'must be 0…65535 or false');
    if (
      options.tls !== undefined &&
      (typeof options.tls.certPem !== 'string' || typeof options.tls.keyPem !== 'string')
    )
      throw new InvalidOptionError('tls', 'must be { certPem, keyPem } (PEM strings)');
    this.#tls = amqpsPort === false ? undefined : options.tls;
    this.#amqpsPort = amqpsPort === false ? 0 : amqpsPort;
    this.#handshakeTimeoutMs = positiveInt('handshakeTimeoutMs', options.handshakeTimeoutMs, 10_000);
    this.#clock = options.clock ?? systemClock;
    this.#maxFrameSize = positiveInt('maxFrameSize', options.maxFrameSize, 65_536);
    if (this.#maxFrameSize < 512) throw new InvalidOptionError('maxFrameSize', 'must be at least 512 (AMQP minimum)');
    this.#idleTimeoutMs = positiveInt('idleTimeoutMs', options.idleTimeoutMs, 60_000);
    this.#maxConnections = positiveInt('maxConnections', options.maxConnections, 1_000);
    const maxMessageSize = positiveInt('maxMessageSize', options.maxMessageSize, 262_144);
    this.#limits = {
      maxSessions: positiveInt('maxSessionsPerConnection', options.maxSessionsPerConnection, 64),
      maxLinks: positiveInt('maxLinksPerConnection', options.maxLinksPerConnection, 256),
      maxTokens: 64,
      linkCredit: positiveInt('linkCredit', options.linkCredit, 100),
      maxMessageSize,
      maxTransferBytes: positiveInt('maxTransferBytes', options.maxTransferBytes, maxMessageSize * 4),
      maxReceiveBatch: positiveInt('maxReceiveBatch', options.maxReceiveBatch, 256),
      attachesPerSecond: positiveInt('maxAttachesPerSecond', options.maxAttachesPerSecond, 100),
      authTimeoutMs: positiveInt('authTimeoutMs', options.authTimeoutMs, 20_000),
      maxWriteBufferBytes: positiveInt('maxWriteBufferBytes', options.maxWriteBufferBytes, 4 * 1024 * 1024),
      maxInflightBytes: positiveInt('maxInflightBytes', options.maxInflightBytes, 128 * 1024 * 1024),
      maxSessionWaitMs: positiveInt('maxSessionWaitMs', options.maxSessionWaitMs, 60_000),
    };
  }

  on<E extends keyof AmqpFrontEvents>(event: E, listener: AmqpFrontEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** The port listened on (the one picked when `port` was 0); undefined before start. */
  get port(): number | undefined {
    const address = this.#server?.address();
    return address !== null && typeof address === 'object' ? address.port : undefined;
  }

  /** The AMQPS port listened on; undefined before start or without `tls`. */
  get amqpsPort(): number | undefined {
    const address = this.#tlsServer?.address();
    return address !== null && typeof address === 'object' ? address.port : undefined;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The connection string the SDK takes, for a key and the host clients reach. */
  connectionString(key: SasKey, host = this.#host): string {
    const shown = host.includes(':') ? `[${host}]` : host;
    return `Endpoint=sb://${shown}:${this.port ?? this.#port};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key};UseDevelopmentEmulator=true`;
  }

  /**
   * The AMQPS connection string for both SDKs: `Endpoint=sb://HOST/;…` on 5671 (the 1.x SDK takes
   * no port), `sb://HOST:PORT/` otherwise (7.x only). `host` must be a name the certificate covers.
   * Undefined without `tls` or before start.
   */
  amqpsConnectionString(key: SasKey, host = 'localhost'): string | undefined {
    const port = this.amqpsPort;
    if (port === undefined) return undefined;
    const shown = host.includes(':') ? `[${host}]` : host;
    const endpoint = port === DEFAULT_AMQPS_PORT ? shown : `${shown}:${port}`;
    return `Endpoint=sb://${endpoint}/;SharedAccessKeyName=${key.name};SharedAccessKey=${key.key}`;
  }

  start(): Promise<void> {
    if (this.#closing !== undefined)
      return Promise.reject(new AmqpFrontError('BUS_AMQP_CLOSED', 'The AMQP front is closed.'));
    this.#starting ??= this.#listen();
    return this.#starting;
  }

  async #listen(): Promise<void> {
    const container = rhea.create_container({ id: 'hubbub-bus' });
    const anonymous = (): unknown => ({
      outcome: undefined as boolean | undefined,
      username: undefined as string | undefined,
      start(this: { outcome?: boolean; username?: string }, response?: Buffer) {
        this.outcome = true;
        this.username = response === undefined ? 'anonymous' : response.toString('utf8').replace(/^\0/, '');
      },
    });
    container.sasl_server_mechanisms.ANONYMOUS = anonymous;
    container.sasl_server_mechanisms.MSSBCBS = anonymous;
    // Unhandled rhea errors are raised on the container: never let one reach the process.
    container.on('error', () => {});
    this.#container = container;
    const server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server = server;
    await this.#bind(server, this.#port);
    if (this.#tls === undefined) return;
    let tlsServer: Server;
    try {
      tlsServer = createTlsServer(
        {
          cert: this.#tls.certPem,
          key: this.#tls.keyPem,
          minVersion: 'TLSv1.2',
          handshakeTimeout: this.#handshakeTimeoutMs,
        },
        (socket) => {
          socket.setNoDelay(true);
          this.#accept(socket);
        },
      );
    } catch (cause) {
      throw new AmqpFrontError('BUS_AMQP_LISTEN_FAILED', 'The AMQPS certificate or key is not usable.', {
        detail: { port: this.#amqpsPort, host: this.#host },
        cause,
      });
    }
    // A failed or timed-out handshake is the client's business: its socket is destroyed, nothing else.
    tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
    this.#tlsServer = tlsServer;
    await this.#bind(tlsServer, this.#amqpsPort);
  }

  #bind(server: Server, port: number): Promise<void> {
    server.maxConnections = this.#maxConnections;
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new AmqpFrontError('BUS_AMQP_LISTEN_FAILED', `Cannot listen on ${this.#host}:${port}: ${err.message}`, {
            detail: { port, host: this.#host },
            cause: err,
          }),
        );
      };
      server.once('error', onError);
      server.listen(port, this.#host, () => {
        server.off('error', onError);
        server.on('error', () => {});
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    const container = this.#container;
    if (container === undefined || this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {});
    const conn = container.create_connection({
      container_id: 'hubbub-bus',
      // SASL is optional: the SDK skips it when given a SharedAccessSignature; authority comes from CBS either way.
      require_sasl: false,
      max_frame_size: this.#maxFrameSize,
      channel_max: this.#limits.maxSessions - 1,
      idle_time_out: this.#idleTimeoutMs,
      credit_window: 0,
      autoaccept: false,
      autosettle: true,
      treat_modified_as_released: false,
      session_buffer_size: 4096,
      tcp_no_delay: true,
      reconnect: false,
    });
    const connection = new AmqpConnection(conn, socket, {
      broker: () => this.#bus.broker,
      ring: this.#ring,
      clock: this.#clock,
      limits: this.#limits,
      report: (err) => this.#events.emit('connectionError', err),
    });
    this.#connections.set(socket, connection);
    socket.once('close', () => {
      this.#connections.delete(socket);
      connection.dispose();
      // rhea clears its heartbeat timers on 'end' or 'error' only; a socket we destroyed has neither.
      try {
        (conn as unknown as { _disconnected(): void })._disconnected();
      } catch {
        // already torn down
      }
    });
    corkOutput(conn, socket);
    conn.accept(socket);
    poolFrames(conn);
    // rhea buffers a frame of any announced size: check frame sizes first, then hand bytes over.
    const input = socket.listeners('data') as Array<(chunk: Buffer) => void>;
    socket.removeAllListeners('data');
    const guard = new FrameGuard(this.#maxFrameSize);
    socket.on('data', (chunk: Buffer) => {
      const verdict = guard.check(chunk);
      if (!verdict.ok) {
        connection.fail('FramingError', Condition.FramingError, verdict.reason);
        return;
      }
      for (const fn of input) fn(chunk);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await this.#starting?.catch(() => {});
    const servers = [this.#server, this.#tlsServer].filter((s) => s !== undefined);
    if (servers.length === 0) return;
    const stopped = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const connection of this.#connections.values()) connection.shutdown();
    const sockets = [...this.#connections.keys()];
    await Promise.race([
      Promise.all(sockets.map((s) => (s.destroyed ? undefined : new Promise((r) => s.once('close', r))))),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]);
    for (const s of sockets) s.destroy();
    await stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Creates the front; starts nothing (see {@link AmqpFront.start}). */
export function createAmqpFront(options: AmqpFrontOptions): AmqpFront {
  return new AmqpFront(options);
}
