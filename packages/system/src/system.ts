/**
 * The all-in-one process: one HTTP port serving
 *
 *   /api/…              the app's parts (`parts`: the delivery REST API), then the function
 *                       app's HTTP functions (negotiate, …)
 *   /client/…, /api/hubs/…, /api/v1/…
 *                       the Azure SignalR Service stand-in (serverless hubs, REST API)
 *   /hubs/<hub>         self-hosted hubs (the demo)
 *   /bus/…              the bus HTTP API (`hubbub send` sends here)
 *   /store/dbs/…        the document store's HTTP API (Cosmos DB REST shape, master-key signed)
 *   everything else     the app's pages and the SignalR browser client
 *
 * Functions reach the hub, the bus and the store in process; browsers and other processes reach them over
 * HTTP with the same contracts as the Azure services they replace.
 * @module
 */
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { type Bus, type BusHttpHandler, createBusHttpHandler } from '@hubbub/bus';
import type { AmqpFront } from '@hubbub/bus-amqp';
import type { Cache } from '@hubbub/cache';
import type { FunctionsError, FunctionsHost, WorkerHeap } from '@hubbub/functions';
import { createCors, createHubServer, createSignalRService, type HubServer, type SignalRService } from '@hubbub/hub';
import {
  closeHttpServer,
  createHttpServer,
  HttpError,
  HubbubError,
  InvalidOptionError,
  type Logger,
  logsAt,
  type Mount,
  mountParts,
  packageRoot,
  requestTarget,
  type ServerLimits,
  sendError,
  sendJson,
} from '@hubbub/kernel';
import type { PushService } from '@hubbub/push';
import type { Store } from '@hubbub/store';
import { bridgeBus } from './bridges/bus.ts';
import { functionsUpstream, upstreamFetch } from './bridges/signalr-upstream.ts';
import { CloseStack } from './close-stack.ts';
import { createDemoHub } from './demo.ts';
import { absoluteEngineUrl, engineScheme, openBackplane, openBusAt, openCache } from './engines.ts';
import { createFrontDoor, type SystemRateLimits } from './front-door.ts';
import { type GivenKeys, loadKeys, type SystemKeys } from './keys-file.ts';
import { listenOn } from './listen.ts';
import { DEFAULT_PUSH_PORT, type SystemPushOptions } from './push-options.ts';
import type { SystemPush } from './push-part.ts';
import { removeRunningFile, writeRunningFile } from './running-file.ts';
import { createStaticFiles, signalRBrowserClient } from './static.ts';
import { createStatusRoute } from './status.ts';
import { createSystemStore, type SystemStore } from './store-part.ts';
import type { SystemTls } from './tls-part.ts';

export interface FunctionApp {
  /** Directory of an `@azure/functions` v4 app (package.json `main`, host.json, local.settings.json). */
  readonly dir: string;
  /** Queues to create before the functions start. @default those its triggers name, on demand */
  readonly queues?: readonly string[];
  /** Check function keys (`authLevel` function/admin); `hubbub functions` leaves them unchecked, as Core Tools does. @default true */
  readonly enforceKeys?: boolean;
  /** Fail the start when a function cannot be loaded, instead of skipping it. @default false */
  readonly strict?: boolean;
  /** Told about each function that could not be loaded and was skipped. */
  readonly onSkipped?: (name: string, error: FunctionsError) => void;
  /**
   * Sign hub tokens with the `AccessKey` of the app's `AzureSignalRConnectionString` (settings or
   * local.settings.json), as Core Tools leaves it in force, so tokens a separate backend makes with
   * it are accepted; the generated key is accepted too. Ignored beyond loopback. @default false
   */
  readonly useConfiguredSignalRKey?: boolean;
  /** Run only these functions (Core Tools' `--functions`). @default every function */
  readonly only?: readonly string[];
  /** The functions host's `workerThreads`: threads that load the app and run its invocations. @default 0 */
  readonly workerThreads?: number;
  /** The functions host's `workerHeap`: V8 heap sizes for each of those threads alone. @default the process's */
  readonly workerHeap?: WorkerHeap;
}

export interface SystemOptions {
  /** @default 7071 (the Azure Functions port, so clients written for it work as they are) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** URL browsers reach this server at. @default http://<host>:<port> */
  publicUrl?: string;
  /**
   * Where state lives: the bus log (`<dataDir>/bus`) and the SignalR access key
   * (`<dataDir>/keys.json`), so a restart resumes on the same data and tokens. @default none: memory only
   */
  dataDir?: string;
  /** Bus engine URL. @default `file://<dataDir>/bus`, or `memory://` without a data directory */
  busUrl?: string;
  /** Cache engine URL: the in-process LRU or Redis (`redis://HOST:PORT`). @default 'memory://' */
  cacheUrl?: string;
  /**
   * The serverless hubs' backplane: this process alone (`memory://`) or a cluster of hub nodes on
   * Redis (`redis://HOST:PORT?prefix=P`, see {@link openBackplane}): sends, groups and presence
   * span every node, and negotiate names the node with the fewest connections. @default 'memory://'
   */
  backplaneUrl?: string;
  /**
   * With a cluster backplane: whether this node's hub takes client connections (advertises itself
   * to negotiate). An application node beside dedicated `hubbub hub` nodes says false. @default true
   */
  hubClients?: boolean;
  /**
   * Document store URL: `memory://`, `pglite://DIR` (PostgreSQL in WASM, in this process) or
   * `postgres://USER@HOST:PORT/DB`. It opens in the background (PGlite takes about a second, a few
   * on an empty directory), off the path to the first answer; operations wait for it.
   * @default `pglite://<dataDir>/store`, or `memory://` without a data directory
   */
  storeUrl?: string;
  /**
   * The push service with its Notification Hubs front (HTTPS on `pushPort`, loopback, the local CA
   * in `<dataDir>/tls`), jobs on the bus, installations and outcomes in the store; `false`: off.
   * @default on, Web Push only
   */
  push?: SystemPushOptions | false;
  /** The Notification Hubs front's port; 0 picks a free one. @default 7443, or 0 when `port` is 0 */
  pushPort?: number;
  /**
   * The bus's AMQP 1.0 front for the official `@azure/service-bus` SDK (plain TCP, connection string
   * ending in `UseDevelopmentEmulator=true`) on this port of `host`; 0 picks a free one; `false`: off.
   * @default 5673, or 0 when `port` is 0
   */
  amqpPort?: number | false;
  /**
   * The AMQP front's AMQPS port on `host`, with the local CA's certificate (`<dataDir>/tls`): the
   * only port the 1.x SDK (the seed's `sendToQueue.js`) reaches, with `Endpoint=sb://HOST/` and
   * `NODE_EXTRA_CA_CERTS=<dataDir>/tls/ca.pem`; 0 picks a free one; `false`: off (also with `amqpPort: false`).
   * @default 5671, or 0 when `port` is 0
   */
  amqpsPort?: number | false;
  /** The function app to run. */
  app?: FunctionApp;
  /**
   * The app's own parts (a REST API, …), each made from the running bus, store and cache, mounted
   * on the port ahead of the function app's routes, started before the function app (so entities
   * its triggers read exist first) and closed after it stops. @default []
   */
  parts?: readonly AppPartFactory[];
  /** URL path → file: the pages to serve (`staticTree` maps a built web app's directory). @default none */
  pages?: Readonly<Record<string, string>>;
  /**
   * URL path prefixes of `pages` whose files are content-hashed (a bundler's assets): browsers
   * cache them for a year (`immutable`); other pages are revalidated on each use. @default []
   */
  immutablePages?: readonly string[];
  /** Serve the demo hub and its page at /demo. @default false */
  demo?: boolean;
  /** Redirect `/` here. @default '/demo' when the demo is on */
  home?: string;
  /** App settings; override the app's local.settings.json Values. @default {} */
  settings?: Readonly<Record<string, string>>;
  /**
   * Keys given explicitly. Any not given is read from `<dataDir>/keys.json`, or generated there on
   * first start (in memory without a data directory). Binding beyond loopback requires all three.
   */
  keys?: GivenKeys;
  /** App secrets (setting names) kept in keys.json beside the keys and given to the app as settings. @default [] */
  secrets?: readonly string[];
  /** Origins other than the server's own that pages may call /api, /hubs and /client from; '*' for any. @default [] */
  corsOrigins?: readonly string[];
  /**
   * The hubs' write delay (self-hosted and serverless, see the hub's `writeDelayMs`): a
   * connection's messages within this many ms go out in one socket write. @default 0 (off)
   */
  hubWriteDelayMs?: number;
  /**
   * How long a bus complete's write may wait for the next send's to share one log flush while
   * sends are flowing (`@hubbub/bus` `settleLingerMs`): on the delivery path (a location a
   * millisecond, each completed soon after) one flush per location instead of two. @default 2 on a
   * file bus, 0 otherwise (a memory bus's writes cost nothing)
   */
  busSettleLingerMs?: number;
  /** Request budgets per client address; `false` turns them off (benchmarks). @default {@link defaultRateLimits} */
  rateLimits?: Partial<SystemRateLimits> | false;
  /** Largest request body an HTTP function receives, in bytes. @default 1_048_576 */
  maxBodyBytes?: number;
  /** Socket timeouts and the connection cap. @default kernel's ServerLimits defaults */
  limits?: ServerLimits;
  logger: Logger;
}

/** What an app part is made from: the system's engines, already open. */
export interface AppPartContext {
  readonly bus: Bus;
  readonly store: Store;
  readonly cache: Cache;
  /** The serverless hubs (the Azure SignalR Service stand-in): tokens for negotiate, sends, user groups. */
  readonly signalR: SignalRService;
  /** URL browsers reach this server at. */
  readonly url: string;
  readonly logger: Logger;
  /** The push service, started (undefined with `push: false`). */
  readonly push: PushService | undefined;
}

/** A part of an app mounted on the system's port: `handleRequest` says whether it took the request. */
export interface AppPart extends Mount {
  /** Creates what the part needs (entities, containers); runs before the function app starts. */
  start?(): Promise<void>;
  /** Stops; runs after the function app has stopped, before the engines close. */
  close?(): Promise<void>;
}

/** Makes an app part; it may be async, to import the part's code only once the port listens. */
export type AppPartFactory = (context: AppPartContext) => AppPart | Promise<AppPart>;

export interface RunningSystem {
  readonly url: string;
  readonly port: number;
  readonly bus: Bus;
  /** The cache (`cacheUrl`), started; the apps' hot reads go through it. */
  readonly cache: Cache;
  /** The document store (`storeUrl`), served at /store; it may still be opening (its operations wait). */
  readonly store: Store;
  /** The Azure SignalR Service stand-in (serverless hubs at /client). */
  readonly signalR: SignalRService;
  /** Self-hosted hubs at /hubs. */
  readonly hubs: HubServer;
  readonly functions: FunctionsHost | undefined;
  /** `Endpoint=…;AccessKey=…;Version=1.0;` naming this server. */
  readonly connectionString: string;
  /** The push service (undefined with `push: false`). */
  readonly push: PushService | undefined;
  /** The Notification Hubs connection string (full rights), its hub name and the CA clients trust. */
  readonly pushConnectionString: string | undefined;
  readonly pushHubName: string | undefined;
  readonly pushCaPath: string | undefined;
  /** The keys in force: SignalR access key, bus shared access key, store master key, app secrets. */
  readonly keys: SystemKeys;
  /** The bus's AMQP front (undefined with `amqpPort: false`). */
  readonly amqp: AmqpFront | undefined;
  /** `Endpoint=sb://HOST:PORT;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true` for the SDK. */
  readonly amqpConnectionString: string | undefined;
  /** `Endpoint=sb://HOST/;SharedAccessKeyName=…;SharedAccessKey=…` over AMQPS (both SDKs; 1.x only on 5671). */
  readonly amqpsConnectionString: string | undefined;
  /** `ca.pem` of the local CA every TLS port's certificate comes from (`NODE_EXTRA_CA_CERTS`). */
  readonly caPath: string | undefined;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The options checked and resolved: engine URLs, host, keys. Starts nothing. */
interface SystemConfig {
  readonly dataDir: string | undefined;
  readonly busUrl: string;
  readonly cacheUrl: string;
  readonly storeUrl: string;
  readonly host: string;
  /** Listening beyond loopback. */
  readonly exposed: boolean;
  readonly keys: SystemKeys;
  readonly maxBodyBytes: number;
  /** The AMQP front's AMQPS port is wanted (it and the push front share the local CA's certificate). */
  readonly amqps: boolean;
  /** A port's default, or 0 when the main port is 0 (tests: every port picked free). */
  readonly defaultPort: (port: number) => number;
}

function systemConfig(options: SystemOptions): SystemConfig {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const busUrl = absoluteEngineUrl(
    options.busUrl ?? (dataDir === undefined ? 'memory://' : `file://${resolve(dataDir, 'bus')}`),
  );
  engineScheme('bus', busUrl);
  const cacheUrl = options.cacheUrl ?? 'memory://';
  engineScheme('cache', cacheUrl);
  engineScheme('backplane', options.backplaneUrl ?? 'memory://');
  const storeUrl = absoluteEngineUrl(
    options.storeUrl ?? (dataDir === undefined ? 'memory://' : `pglite://${resolve(dataDir, 'store')}`),
  );
  engineScheme('store', storeUrl);
  const host = options.host ?? '127.0.0.1';
  const exposed = !isLoopback(host);
  if (
    exposed &&
    (options.keys?.signalR === undefined || options.keys.bus === undefined || options.keys.store === undefined)
  ) {
    throw new InvalidOptionError(
      'host',
      `listening on '${host}' makes Hubbub reachable from other machines: give the keys explicitly (HUBBUB_SIGNALR_KEY, HUBBUB_BUS_KEY=name=key and HUBBUB_STORE_KEY; see docs/security.md)`,
    );
  }
  const keys = loadKeys(dataDir, options.keys ?? {}, options.secrets ?? []);
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new InvalidOptionError('maxBodyBytes', 'must be a positive integer');
  }
  return {
    dataDir,
    busUrl,
    cacheUrl,
    storeUrl,
    host,
    exposed,
    keys,
    maxBodyBytes,
    amqps: options.amqpPort !== false && options.amqpsPort !== false,
    defaultPort: (port) => (options.port === 0 ? 0 : port),
  };
}

/**
 * Starts the parts in order, each pushed on a close-stack once started: the local CA's certificate
 * and the engines (bus, cache, store), the one port, the hubs, the push service, the AMQP front, the
 * SignalR service, the app's parts, the function app. Closing — or a part failing to start — closes
 * what started, the last first: the function app drains before the parts it uses go.
 */
export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const config = systemConfig(options);
  const stack = new CloseStack(options.logger);
  try {
    return await startParts(options, config, stack);
  } catch (err) {
    await stack.close().catch((closeErr: unknown) => options.logger.error({ err: closeErr }, 'a part failed to close'));
    throw err;
  }
}

/** What the port serves but is made after it listens (the SignalR service needs the port's URL). */
interface LateParts {
  push: SystemPush | undefined;
  signalR: SignalRService | undefined;
  functions: FunctionsHost | undefined;
  appParts: readonly AppPart[];
}

async function startParts(options: SystemOptions, config: SystemConfig, stack: CloseStack): Promise<RunningSystem> {
  const { logger } = options;
  const { dataDir, host, keys } = config;
  const origins = new Set(options.corsOrigins ?? []);
  const cors = { origins: (origin: string) => origins.has(origin) || origins.has('*') };

  const settleLingerMs = options.busSettleLingerMs ?? (config.busUrl.startsWith('file://') ? 2 : 0);
  const bus = await stack.open('bus', () => openBusAt(config.busUrl, { settleLingerMs }));
  logDeadLetters(bus, logger);
  const cache = await stack.open('cache', () => openCache(config.cacheUrl));
  const stores = await stack.open('store', () => createSystemStore(config.storeUrl, keys.store, logger));
  const writeDelay = options.hubWriteDelayMs === undefined ? {} : { writeDelayMs: options.hubWriteDelayMs };
  const hubs = createHubServer({ logger: logger.child({ part: 'hubs' }), cors, ...writeDelay });
  hubs.on('error', (err) => logger.error({ err }, 'hub request failed'));
  const late: LateParts = { push: undefined, signalR: undefined, functions: undefined, appParts: [] };
  const server = createFront(options, config, { bus, hubs, stores, late });

  await stack.open('http server', async () => {
    await listenOn(server, options.port ?? 7071, host);
    return { close: () => closeHttpServer(server) };
  });
  // PGlite's WASM load (and initdb on an empty directory) runs while the server already answers.
  stores.openInBackground();
  await stack.start('hubs', hubs);
  if (options.demo) stack.defer('demo hub', createDemoHub(hubs.hub('demo')));
  // What the first answer does not need starts after the port listens, its code imported then: the
  // local CA (creating it on an empty data directory takes a fifth of a second) and one certificate
  // from it for every TLS port, the push service with its front, the AMQP front, the function app.
  const tls =
    options.push === false && !config.amqps
      ? undefined
      : await stack.open('tls', async () =>
          (await import('./tls-part.ts')).openSystemTls(dataDir, host === '0.0.0.0' || host === '::' ? [] : [host]),
        );
  const push =
    options.push === false || tls === undefined
      ? undefined
      : await stack
          .start(
            'push',
            (await import('./push-part.ts')).createSystemPush(
              { ...options.push, port: options.pushPort ?? config.defaultPort(DEFAULT_PUSH_PORT) },
              { bus, store: stores.store, keys: keys.push, tls, logger },
            ),
          )
          .catch((err: unknown) => {
            throw portInUse(err) ?? err;
          });
  late.push = push;
  const amqp =
    options.amqpPort === false
      ? undefined
      : await stack.start('amqp', await createSystemAmqp(options, config, bus, tls)).catch((err: unknown) => {
          throw portInUse(err) ?? err;
        });
  const clientHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const amqpConnectionString = amqp?.connectionString(keys.bus, clientHost);
  const amqpsConnectionString = amqp?.amqpsConnectionString(keys.bus, clientHost);
  if (amqpConnectionString !== undefined) {
    logger.info({ part: 'bus-amqp' }, `Service Bus SDK connection string: ${amqpConnectionString}`);
  }
  if (amqpsConnectionString !== undefined) {
    logger.info(
      { part: 'bus-amqp' },
      `Service Bus SDK connection string over TLS (1.x SDK too): ${amqpsConnectionString} (trust NODE_EXTRA_CA_CERTS=${tls?.caPath})`,
    );
  }
  const { port } = server.address() as AddressInfo;
  const url =
    options.publicUrl?.replace(/\/+$/, '') ??
    `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}`;
  for (const origin of [new URL(url).origin, `http://localhost:${port}`, `http://127.0.0.1:${port}`])
    origins.add(origin);
  if (config.exposed) {
    logger.warn(
      { host, port },
      'Hubbub is listening beyond loopback: every API needs its key, but put TLS in front of it (see docs/security.md).',
    );
  }

  // The app's signalRTrigger functions take the hub's upstream in process; the AccessKey the app
  // configured (AzureSignalRConnectionString) signs, so tokens made elsewhere with it are accepted.
  const appDir = options.app === undefined ? undefined : resolve(options.app.dir);
  const functionsPackage = appDir === undefined ? undefined : await import('@hubbub/functions');
  const upstream = functionsPackage?.signalRTriggerExtension({ maxUpstreamBodyBytes: config.maxBodyBytes });
  const appKey =
    appDir === undefined || options.app?.useConfiguredSignalRKey !== true || config.exposed
      ? undefined
      : (await import('./app-settings.ts')).configuredSignalRKey(appDir, options.settings);
  const backplane = await stack.open('backplane', () => openBackplane(options.backplaneUrl ?? 'memory://', { logger }));
  const signalR = createSignalRService({
    endpoint: url,
    keys: appKey === undefined ? [keys.signalR] : [appKey, keys.signalR],
    ...(upstream === undefined
      ? {}
      : { upstream: [functionsUpstream(url)], upstreamOptions: { fetch: upstreamFetch(upstream) } }),
    hubServer: { cors, backplane, ...writeDelay },
    ...(options.hubClients === false ? { cluster: { advertise: false } } : {}),
    logger: logger.child({ part: 'signalr' }),
  });
  late.signalR = signalR;
  await stack.start('signalr', signalR);
  const { connectionString } = signalR;

  // The app's parts start before the function app (the entities its triggers read exist first) and close after it.
  for (const factory of options.parts ?? []) {
    const part = await factory({ bus, store: stores.store, cache, signalR, url, logger, push: push?.service });
    await stack.start('app part', {
      start: async () => part.start?.(),
      close: async () => part.close?.().catch((err: unknown) => logger.error({ err }, 'an app part failed to close')),
    });
    late.appParts = [...late.appParts, part];
  }

  if (options.app !== undefined && appDir !== undefined && functionsPackage !== undefined) {
    for (const queue of options.app.queues ?? []) {
      if (!(await bus.admin.queueExists(queue))) await bus.admin.createQueue(queue);
    }
    // The bridges: triggers and outputs reach the bus, SignalR bindings the hubs, cosmosDB
    // bindings the store (another store URL in a connection setting opens that store) and
    // notificationHub outputs the push service (a connection string naming this machine), in process.
    const busPort = bridgeBus(bus, { createEntities: true });
    const { pushConnections } = await import('./bridges/push.ts');
    const functions = functionsPackage.createFunctionsHost({
      appDir,
      extensions: upstream === undefined ? [] : [upstream],
      ...(options.app.enforceKeys === undefined ? {} : { enforceKeys: options.app.enforceKeys }),
      ...(options.app.strict === undefined ? {} : { strict: options.app.strict }),
      ...(options.app.only === undefined ? {} : { only: options.app.only }),
      ...(options.app.workerThreads === undefined ? {} : { workerThreads: options.app.workerThreads }),
      ...(options.app.workerHeap === undefined ? {} : { workerHeap: options.app.workerHeap }),
      settings: { AzureSignalRConnectionString: connectionString, ...keys.secrets, ...options.settings },
      maxRequestBodyBytes: config.maxBodyBytes,
      // CORS for /api: only the server's own origin and those configured may call the functions.
      cors: createCors({ origins: cors.origins, methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] }),
      bus: busPort,
      signalR: (await import('./bridges/signalr.ts')).fromSignalRServiceInProcess(signalR),
      store: (await stores.connections()).resolve,
      push: pushConnections(push?.service, push?.hubName ?? 'hubbub'),
      logger: logger.child({ part: 'functions' }),
    });
    const onSkipped = options.app.onSkipped;
    if (onSkipped !== undefined) functions.on('function:skipped', (err, info) => onSkipped(info.function, err));
    // Its close stops taking work first, then lets running functions finish and settle their messages.
    await stack.start('functions', {
      start: async () => {
        await functions.start();
        await busPort.ready();
      },
      close: () => functions.close(),
    });
    late.functions = functions;
  }

  // Clients on this machine (the CLI) find the system through <dataDir>/running.json.
  if (dataDir !== undefined) {
    writeRunningFile(dataDir, {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      url,
      bus: { url: `${url}/bus`, key: keys.bus },
      store: { url: `${url}/store`, key: keys.store },
      signalR: { connectionString },
      ...(push === undefined
        ? {}
        : { push: { connectionString: push.connectionString(), hubName: push.hubName, caPath: push.caPath } }),
      ...(amqpConnectionString === undefined
        ? {}
        : {
            amqp: {
              connectionString: amqpConnectionString,
              ...(amqpsConnectionString === undefined ? {} : { tlsConnectionString: amqpsConnectionString }),
              ...(tls === undefined ? {} : { caPath: tls.caPath }),
            },
          }),
    });
    stack.defer('running file', () => removeRunningFile(dataDir, url));
  }

  const close = () => stack.close();
  return {
    url,
    port,
    bus,
    cache,
    store: stores.store,
    signalR,
    hubs,
    functions: late.functions,
    connectionString,
    push: push?.service,
    pushConnectionString: push?.connectionString(),
    pushHubName: push?.hubName,
    pushCaPath: push?.caPath,
    keys,
    amqp,
    amqpConnectionString,
    amqpsConnectionString,
    caPath: tls?.caPath,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function logDeadLetters(bus: Bus, logger: Logger): void {
  const busLog = logger.child({ part: 'bus' });
  bus.on('deadLettered', (e) =>
    busLog.warn(
      { entity: e.entity, sequenceNumber: e.sequenceNumber, reason: e.reason },
      `Dead-lettered message ${e.sequenceNumber} on ${e.entity}: ${e.reason || 'no reason given'}`,
    ),
  );
}

/**
 * A second port of the system — the bus's AMQP front or the push service's Notification Hubs front
 * — held by another process (most often a second `npm start` on another `--port`, which still
 * takes 5673 and 7443): `SYSTEM_PORT_IN_USE` saying how to move or drop that part.
 */
function portInUse(err: unknown): HubbubError | undefined {
  const listen = err as { code?: unknown; cause?: { code?: unknown }; message?: string; detail?: unknown };
  if (listen.cause?.code !== 'EADDRINUSE') return undefined;
  const hint =
    listen.code === 'BUS_AMQP_LISTEN_FAILED'
      ? "the Service Bus SDK's AMQP port is held by another process (another Hubbub?): stop it, or run without the AMQP front (--no-amqp; hubbub bus and hubbub functions: --amqp-port N)."
      : listen.code === 'PUSH_LISTEN_FAILED'
        ? "the push service's Notification Hubs port is held by another process (another Hubbub?): stop it, pick another with --push-port N (0: any free one), or run without push (--no-push)."
        : undefined;
  if (hint === undefined) return undefined;
  return new HubbubError('SYSTEM_PORT_IN_USE', `${listen.message} — ${hint}`, {
    cause: err,
    ...(listen.detail === undefined ? {} : { detail: listen.detail as Record<string, unknown> }),
  });
}

/** The bus's AMQP 1.0 front (plain, and AMQPS with the local CA's certificate); the root starts it. */
async function createSystemAmqp(
  options: SystemOptions,
  config: SystemConfig,
  bus: Bus,
  tls: SystemTls | undefined,
): Promise<AmqpFront> {
  const { amqpPort, amqpsPort } = options;
  const { createAmqpFront, DEFAULT_AMQP_PORT, DEFAULT_AMQPS_PORT } = await import('@hubbub/bus-amqp');
  const amqp = createAmqpFront({
    bus,
    keys: [config.keys.bus],
    host: config.host,
    port: amqpPort === undefined || amqpPort === false ? config.defaultPort(DEFAULT_AMQP_PORT) : amqpPort,
    ...(config.amqps && tls !== undefined
      ? {
          tls,
          amqpsPort:
            amqpsPort === undefined || amqpsPort === false ? config.defaultPort(DEFAULT_AMQPS_PORT) : amqpsPort,
        }
      : {}),
  });
  const amqpLog = options.logger.child({ part: 'bus-amqp' });
  amqp.on('connectionError', (err) => amqpLog.warn({ err }, `AMQP connection closed: ${err.message}`));
  return amqp;
}

/**
 * The one port: the parts tried in order (the first that takes a request serves it), the front
 * door's rate limits ahead of them, a debug line per request, a coded 404 after them.
 */
function createFront(
  options: SystemOptions,
  config: SystemConfig,
  parts: {
    readonly bus: Bus;
    readonly hubs: HubServer;
    readonly stores: SystemStore;
    readonly late: LateParts;
  },
): Server {
  const { logger } = options;
  const { bus, hubs, stores, late } = parts;
  const door = createFrontDoor(options.rateLimits);
  const busApi = createBusHttpHandler(bus, {
    basePath: '/bus',
    keys: [config.keys.bus],
    logger: logger.child({ part: 'bus-http' }),
    ...(door.busRateLimit === undefined ? {} : { rateLimit: door.busRateLimit }),
  });
  const home = options.home ?? (options.demo ? '/demo' : undefined);
  const web = createStaticFiles(
    {
      ...(options.demo ? { '/demo': join(packageRoot(import.meta.url), 'src/web/demo.html') } : {}),
      ...options.pages,
      ...signalRBrowserClient(),
    },
    { immutable: options.immutablePages ?? [] },
  );
  const mounted = mountParts([
    { handleRequest: (req, res) => late.signalR?.handleRequest(req, res) ?? false },
    { handleUpgrade: (req, socket, head) => late.signalR?.handleUpgrade(req, socket, head) ?? false },
    hubs,
    { handleRequest: (req, res) => mountedBusApi(busApi, req, res) },
    createStatusRoute({
      key: config.keys.bus,
      hubServers: () => (late.signalR === undefined ? [hubs] : [hubs, late.signalR.hubServer]),
      functions: () => late.functions,
    }),
    stores.api,
    { handleRequest: (req, res) => late.push?.handleRequest(req, res) ?? false },
    { handleRequest: (req, res) => late.appParts.some((p) => p.handleRequest?.(req, res) === true) },
    { handleRequest: (req, res) => late.functions?.handleRequest(req, res) ?? false },
    { handleRequest: web },
    { handleRequest: (req, res) => serveSystemPaths(req, res, home) },
  ]);
  const requestLog = logger.child({ part: 'http' });
  // The debug line costs a listener and two clock reads per request: none when debug is off.
  const debug = logsAt(requestLog, 'debug');
  const route = (request: IncomingMessage, response: ServerResponse): boolean => {
    if (debug) logRequest(request, response, requestLog);
    door.admit(request, response);
    if (mounted.handleRequest(request, response)) return true;
    const path = requestTarget(request).pathname;
    sendError(response, new HttpError('KERNEL_NOT_FOUND', 404, 'Not found.', { detail: { path: path.slice(0, 256) } }));
    return true;
  };
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    door.admitUpgrade(request);
    return mounted.handleUpgrade(request, socket, head);
  };
  return createHttpServer({
    request: route,
    upgrade,
    onError: (err, request) => logger.error({ err, method: request.method, url: request.url }, 'request failed'),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
}

/** The bus API as a part: it takes what is under its base path and passes the rest on. */
function mountedBusApi(busApi: BusHttpHandler, request: IncomingMessage, response: ServerResponse): boolean {
  let passed = false;
  busApi(request, response, () => {
    passed = true;
  });
  return !passed;
}

/** `/` (a redirect to the home page, when there is one) and `/healthz`. */
function serveSystemPaths(request: IncomingMessage, response: ServerResponse, home: string | undefined): boolean {
  const path = requestTarget(request).pathname;
  if (path === '/' && home !== undefined) {
    response.writeHead(302, { Location: home }).end();
    return true;
  }
  if (path === '/healthz') {
    sendJson(response, 200, { status: 'ok' });
    return true;
  }
  return false;
}

/** A debug line per request when it is answered: method, path (no query: it may carry tokens), status, duration. */
function logRequest(request: IncomingMessage, response: ServerResponse, logger: Logger): void {
  const started = performance.now();
  response.once('finish', () => {
    // Raw target, query cut: a malformed one (answered 400 by the guard) must not throw here.
    const path = (request.url ?? '').split('?', 1)[0]!.slice(0, 256);
    const ms = Math.round(performance.now() - started);
    logger.debug(
      { status: response.statusCode, durationMs: ms },
      `${request.method} ${path} ${response.statusCode} ${ms}ms`,
    );
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
