/**
 * `createSignalRService()`: a hub server that stands in for Azure SignalR Service in serverless
 * mode. Clients arrive through `/client/negotiate?hub=…` and `/client/?hub=…` with tokens signed by
 * the access key; application code reaches them through the REST API under `/api/…`; client events
 * and invocations go to upstream webhooks. Code written for Azure works by changing only the
 * connection string.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { MessageType } from '@hubbub/hub-protocol';
import {
  type Clock,
  closeHttpServer,
  createHttpServer,
  type GuardOptions,
  guardRequest,
  guardUpgrade,
  InvalidOptionError,
  type Logger,
  type Part,
  queryParam,
  refuseUpgrade,
  requestTarget,
  silentLogger,
  systemClock,
  TypedEmitter,
} from '@hubbub/kernel';
import { bearerToken, type HubAuthOptions } from '../auth.ts';
import type { ClusterPresence } from '../backplane.ts';
import type { HubConnection, Principal } from '../connection.ts';
import { type CorsHandler, createCors } from '../cors.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import type { Hub } from '../hub.ts';
import type { HubServerOptions } from '../options.ts';
import { createHubServer, HubServer, type ListenOptions } from '../server.ts';
import { type ClusterOptions, chooseNode, createClusterRedirect } from './cluster.ts';
import { type ConnectionString, formatConnectionString, parseConnectionString } from './connection-string.ts';
import { createRestApi, HUB_NAME, type RequestHandler } from './rest-api.ts';
import {
  audienceMatches,
  audienceScope,
  type ClientAccess,
  createClientAccess,
  createTokenVerifier,
  type TokenVerifier,
} from './tokens.ts';
import { UpstreamClient, type UpstreamOptions, type UpstreamRule } from './upstream.ts';

export interface SignalRServiceOptions {
  /** Azure-form connection string; several (same endpoint, different keys) allow key rotation, the first signs. */
  connectionString?: string | readonly string[];
  /** Without a connection string: the public origin clients and servers use. @default the listen address */
  endpoint?: string;
  /** Without a connection string: access keys, the first signs. */
  keys?: readonly string[];
  /** Upstream webhooks, first match wins. @default none (client invocations get "Unknown hub method") */
  upstream?: readonly UpstreamRule[];
  /** Upstream timeout, retries and back-off. @default 30 s, 3 retries, 200 ms doubling to 5 s */
  upstreamOptions?: Pick<UpstreamOptions, 'timeoutMs' | 'retries' | 'backoff' | 'maxResponseBytes' | 'fetch'>;
  /**
   * The hub server: options for the one the service creates (its `auth` is replaced), or a server
   * of your own (e.g. shared with `/hubs/{name}` routes) whose `auth.verify` calls
   * {@link SignalRService.verifyClientToken}; the service does not close it. @default a new server
   */
  hubServer?: HubServer | Omit<HubServerOptions, 'auth'>;
  /** Largest REST request body, in bytes. @default 1_048_576 */
  maxBodyBytes?: number;
  /**
   * One node of a cluster, when the hub server's backplane keeps cluster presence (Redis): the URL
   * it advertises and whether negotiate spreads clients across nodes by redirect. Only for a hub
   * server the service creates. @default advertise the endpoint, spread
   */
  cluster?: ClusterOptions;
  /** @default systemClock (also given to a hub server the service creates) */
  clock?: Clock;
  logger?: Logger;
}

export type SignalRServiceEvents = {
  /** An unexpected failure while serving a REST request (it was answered with 500). */
  error: (error: Error) => void;
  /** A connection event could not be delivered upstream, even after retries. */
  'upstream-error': (error: HubError, event: { hub: string; event: string; connectionId: string }) => void;
};

const userIdClaims = [
  'asrs.s.uid',
  'nameid',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier',
  'sub',
];

export class SignalRService extends TypedEmitter<SignalRServiceEvents> implements Part<SignalRServiceEvents> {
  readonly hubServer: HubServer;
  readonly #ownsServer: boolean;
  readonly #accessKeys: readonly string[];
  readonly #verify: TokenVerifier;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #upstream: UpstreamClient;
  readonly #rest: RequestHandler;
  readonly #wired = new WeakSet<Hub>();
  #endpoint: string | undefined;
  #presence: ClusterPresence | undefined;
  #cluster: ClusterOptions = {};
  #clusterUrl: string | undefined;
  #clientEndpoint: string | undefined;
  /** Every Endpoint and ClientEndpoint configured: hosts a token's `aud` may name. */
  readonly #configuredEndpoints: readonly string[];
  #server: Server | undefined;
  #closed = false;
  readonly #guard: GuardOptions = { onError: (error) => this.emit('error', error) };
  #cors!: CorsHandler;

  constructor(options: SignalRServiceOptions) {
    super();
    const parsed = parseAll(options.connectionString);
    this.#accessKeys = [...new Set(parsed.length > 0 ? parsed.map((p) => p.accessKey) : (options.keys ?? []))];
    if (this.#accessKeys.length === 0 || this.#accessKeys.some((k) => k === '')) {
      throw new InvalidOptionError('keys', 'give a connection string or at least one non-empty access key');
    }
    this.#endpoint = parsed[0]?.endpoint ?? validEndpoint(options.endpoint);
    this.#clientEndpoint = parsed[0]?.clientEndpoint ?? this.#endpoint;
    this.#configuredEndpoints = [
      ...parsed.flatMap((p) => [p.endpoint, p.clientEndpoint]),
      ...(this.#endpoint === undefined ? [] : [this.#endpoint]),
    ];
    this.#clock = options.clock ?? systemClock;
    this.#verify = createTokenVerifier({ keys: this.#accessKeys, clock: this.#clock });
    this.#logger = (options.logger ?? silentLogger).child({ component: 'signalr-service' });
    this.#upstream = new UpstreamClient({
      ...options.upstreamOptions,
      rules: options.upstream ?? [],
      keys: this.#accessKeys,
      clock: this.#clock,
    });
    if (options.hubServer instanceof HubServer) {
      this.hubServer = options.hubServer;
      this.#ownsServer = false;
    } else {
      const presence = options.hubServer?.backplane?.presence;
      this.#presence = presence;
      this.#cluster = options.cluster ?? {};
      this.#clusterUrl = options.cluster?.url === undefined ? undefined : validEndpoint(options.cluster.url);
      const redirect =
        presence === undefined || options.cluster?.spread === false
          ? undefined
          : createClusterRedirect({
              presence,
              self: () => this.#clusterUrl ?? this.#clientEndpoint,
              key: this.#accessKeys[0]!,
              clock: this.#clock,
              onError: (error) => {
                this.#logger.warn({ err: error }, 'cluster nodes unknown: negotiate served here');
                this.emit('error', error);
              },
            });
      this.hubServer = createHubServer({
        clock: this.#clock,
        ...options.hubServer,
        auth: this.authOptions(),
        ...(redirect === undefined ? {} : { redirect }),
      });
      this.#ownsServer = true;
    }
    this.#cors = createCors(this.hubServer.options.cors);
    this.#rest = createRestApi({
      hub: (name) => this.hub(name),
      keys: this.#accessKeys,
      endpoints: () => this.#endpoints(),
      clientToken: async (hub, request) => (await this.clientAccess(hub, request)).accessToken,
      clock: this.#clock,
      onError: (error) => {
        this.#logger.error({ err: error }, 'REST request failed');
        this.emit('error', error);
      },
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    });
  }

  /** Starts the hub server it created (its housekeeping loop); the factory starts nothing. */
  async start(): Promise<void> {
    if (this.#ownsServer) await this.hubServer.start();
    await this.#advertise();
  }

  /** Tells the cluster where clients reach this node (once the endpoint is known). */
  async #advertise(): Promise<void> {
    const url = this.#clusterUrl ?? this.#clientEndpoint;
    if (this.#presence !== undefined && this.#cluster.advertise !== false && url !== undefined) {
      await this.#presence.advertise(url);
    }
  }

  /** Origin servers use (REST API), once known. */
  get endpoint(): string | undefined {
    return this.#endpoint;
  }

  /** The connection string naming this service and its signing key, once the endpoint is known. */
  get connectionString(): string {
    if (this.#endpoint === undefined) throw unknownEndpoint();
    return formatConnectionString({
      endpoint: this.#endpoint,
      accessKey: this.#accessKeys[0]!,
      ...(this.#clientEndpoint !== this.#endpoint && this.#clientEndpoint !== undefined
        ? { clientEndpoint: this.#clientEndpoint }
        : {}),
    });
  }

  /** Client-token checks for `/client/*`: HS256 with any key, `aud` = the client URL (leniently), `exp` required. */
  authOptions(): HubAuthOptions {
    return { required: true, userIdClaims, verify: (token, request) => this.verifyClientToken(token, request) };
  }

  /**
   * Verifies a client token for the hub named in the request's `?hub=`; throws HUB_UNAUTHORIZED.
   * For a hub server of your own: `auth: { verify: (t, r) => service.verifyClientToken(t, r) }`.
   */
  async verifyClientToken(token: string, request: IncomingMessage): Promise<Principal> {
    const url = requestTarget(request);
    const payload = await this.#verify(token);
    const hub = queryParam(url.searchParams, 'hub') ?? '';
    if (!audienceMatches(payload.aud, '/client', audienceScope(this.#endpoints(), request), hub)) {
      throw new HubError(HubErrorCode.Unauthorized, "The token's 'aud' is not this hub's client URL.");
    }
    const userId = userIdClaims.map((c) => payload[c]).find((v) => typeof v === 'string' && v !== '');
    return { userId: userId as string | undefined, claims: payload };
  }

  /**
   * The `{url, accessToken}` a negotiate function returns, as Azure's bindings build it. In a
   * cluster it names the live node with the fewest connections (this endpoint when the cluster
   * cannot say).
   */
  async clientAccess(
    hub: string,
    options: { userId?: string; claims?: Record<string, unknown>; lifetimeMs?: number } = {},
  ): Promise<ClientAccess> {
    if (this.#clientEndpoint === undefined) throw unknownEndpoint();
    let endpoint = this.#clientEndpoint;
    if (this.#presence !== undefined && this.#cluster.spread !== false) {
      try {
        endpoint = (await chooseNode(this.#presence))?.url ?? endpoint;
      } catch (err) {
        this.#logger.warn({ err }, 'cluster nodes unknown: negotiate names this node');
      }
    }
    return createClientAccess({
      ...options,
      endpoint,
      accessKey: this.#accessKeys[0]!,
      hub,
      clock: this.#clock,
    });
  }

  /** The hub called `name` (case-insensitive), created and wired to the upstream on first use. */
  hub(name: string): Hub {
    const hub = this.hubServer.hub(name);
    if (!this.#wired.has(hub)) {
      this.#wired.add(hub);
      if (this.#upstream.configured) this.#wire(hub);
    }
    return hub;
  }

  /** Serves `/client/negotiate`, `/client/` and `/api/…`; returns false for any other path. */
  readonly handleRequest = guardRequest(
    (request: IncomingMessage, response: ServerResponse): boolean | Promise<void> => {
      const url = requestTarget(request);
      const client = clientRoute(url.pathname);
      if (client === undefined) return this.#rest(request, response);
      const name = this.#clientHubName(url);
      const serve = () => this.hubServer.serve(this.hub(name).name, client === 'negotiate', request, response, url);
      // A page on another origin (the app's, before a negotiate redirect to this node) asks first
      // without a token: answer its preflight whether or not this node has served the hub yet, and
      // let it read a refusal of the request that follows.
      if (this.#cors(request, response) !== 'continue') return true;
      if (this.hubServer.findHub(name) !== undefined) {
        serve();
        return true;
      }
      return this.#provenFirstClient(request, url).then(serve);
    },
    this.#guard,
  );

  /** Serves WebSocket upgrades on `/client/`; returns false for any other path. */
  readonly handleUpgrade = guardUpgrade((request: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = requestTarget(request);
    if (clientRoute(url.pathname) !== 'connect') return false;
    const name = this.#clientHubName(url);
    const serve = () => this.hubServer.serveUpgrade(this.hub(name).name, request, socket, head, url);
    if (this.hubServer.findHub(name) !== undefined) serve();
    else this.#provenFirstClient(request, url).then(serve, (err: unknown) => refuseUpgrade(socket, err));
    return true;
  }, this.#guard);

  /**
   * A hub comes into being for a client only once that client proved its token: a request that
   * fails authentication leaves no hub behind (otherwise every made-up name would be kept forever).
   */
  async #provenFirstClient(request: IncomingMessage, url: URL): Promise<void> {
    const token = bearerToken(request, url);
    if (token === undefined || token === '') {
      throw new HubError(HubErrorCode.Unauthorized, 'An access token is required.');
    }
    try {
      await this.verifyClientToken(token, request);
    } catch (err) {
      if (err instanceof HubError) throw err;
      throw new HubError(HubErrorCode.Unauthorized, 'The access token was rejected.', { cause: err });
    }
  }

  /** Listens on its own HTTP server; the endpoint defaults to the address listened on. */
  async listen(options: ListenOptions = {}): Promise<{ port: number; url: string }> {
    const server = createHttpServer({
      ...this.#guard,
      request: this.handleRequest,
      upgrade: this.handleUpgrade,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.#endpoint ??= url;
    this.#clientEndpoint ??= url;
    // A node of a cluster says where it listens unless told its public URL (0.0.0.0 names no host).
    if (host !== '0.0.0.0' && host !== '::') this.#clusterUrl ??= url;
    await this.#advertise();
    return { port, url };
  }

  /** Closes client connections (when the service created the hub server), upstream requests and the listener. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsServer) await this.hubServer.close();
    this.#upstream.close();
    if (this.#server !== undefined) await closeHttpServer(this.#server);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #endpoints(): string[] {
    const list = [...this.#configuredEndpoints];
    if (this.#endpoint !== undefined) list.push(this.#endpoint);
    return list;
  }

  /** The `hub` query parameter of a `/client` request, validated; a HUB_BAD_REQUEST (400) otherwise. */
  #clientHubName(url: URL): string {
    const name = queryParam(url.searchParams, 'hub');
    if (name === undefined || name === '') {
      throw new HubError(HubErrorCode.BadRequest, "The 'hub' query parameter is required.", { status: 400 });
    }
    if (!HUB_NAME.test(name)) {
      throw new HubError(
        HubErrorCode.BadRequest,
        `Invalid hub name '${name.slice(0, 64)}': a letter, then letters, digits or _.`,
        {
          status: 400,
        },
      );
    }
    return name;
  }

  #wire(hub: Hub): void {
    const upstream = this.#upstream;
    hub.forwardUnknownMethods((connection, message) => {
      if (message.type !== MessageType.Invocation) {
        return Promise.reject(
          new HubError(HubErrorCode.UpstreamFailed, 'Streaming invocations are not supported in serverless mode.'),
        );
      }
      return upstream.invoke(connection, message);
    });
    hub.on('connected', (connection) => this.#deliver(connection, 'connected', undefined));
    hub.on('disconnected', (connection, error) => this.#deliver(connection, 'disconnected', error?.message));
  }

  #deliver(connection: HubConnection, event: 'connected' | 'disconnected', error: string | undefined): void {
    void this.#upstream.connectionEvent(connection, event, error).then((outcome) => {
      if (outcome === undefined || outcome.ok) return;
      this.#logger.warn({ err: outcome.error, connectionId: connection.connectionId, event }, 'upstream event failed');
      this.emit('upstream-error', outcome.error, {
        hub: connection.hubName,
        event,
        connectionId: connection.connectionId,
      });
      // The upstream refused the connection (e.g. the connected function threw): end it, as the emulator does.
      if (event === 'connected' && outcome.rejected) connection.close('The upstream rejected the connection.');
    });
  }
}

export function createSignalRService(options: SignalRServiceOptions): SignalRService {
  return new SignalRService(options);
}

function unknownEndpoint(): InvalidOptionError {
  return new InvalidOptionError('endpoint', 'not known before listen(); give an endpoint or a connection string');
}

function validEndpoint(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '') {
    throw new InvalidOptionError('endpoint', `must be an http(s) URL without a query, got '${value}'`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function parseAll(value: string | readonly string[] | undefined): ConnectionString[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  return list.map(parseConnectionString);
}

function clientRoute(pathname: string): 'negotiate' | 'connect' | undefined {
  const p = pathname.replace(/\/+$/, '').toLowerCase();
  if (p === '/client') return 'connect';
  if (p === '/client/negotiate') return 'negotiate';
  return undefined;
}
