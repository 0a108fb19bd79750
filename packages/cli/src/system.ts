/**
 * The all-in-one process: one HTTP port serving
 *
 *   /api/…              the function app's HTTP functions (negotiate, …)
 *   /client/…, /api/hubs/…, /api/v1/…
 *                       the Azure SignalR Service stand-in (serverless hubs, REST API)
 *   /hubs/<hub>         self-hosted hubs (the demo)
 *   /bus/…              the bus HTTP API (`hubbub send` sends here)
 *   everything else     the app's pages and the SignalR browser client
 *
 * Functions reach the hub and the bus in process; browsers and other processes reach them over
 * HTTP with the same contracts as the Azure services they replace.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { type Bus, createBus, createBusHttpHandler } from '@hubbub/bus';
import { createFunctionsHost, type FunctionsHost, fromHubServer, type SignalRTarget } from '@hubbub/functions';
import { createCors, createHubServer, createSignalRService, type HubServer, type SignalRService } from '@hubbub/hub';
import { closeHttpServer, InvalidOptionError, type Logger } from '@hubbub/kernel';
import { createDemoHub } from './demo.ts';
import { creatingEntities } from './entities.ts';
import { createStaticFiles, signalRBrowserClient } from './static.ts';

export interface FunctionApp {
  /** Directory of an `@azure/functions` v4 app (package.json `main`, host.json, local.settings.json). */
  readonly dir: string;
  /** Queues to create before the functions start. @default those its triggers name, on demand */
  readonly queues?: readonly string[];
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
  /** The function app to run. */
  app?: FunctionApp;
  /** URL path → file: the pages to serve. @default none */
  pages?: Readonly<Record<string, string>>;
  /** Serve the demo hub and its page at /demo. @default false */
  demo?: boolean;
  /** Redirect `/` here. @default '/demo' when the demo is on */
  home?: string;
  /** App settings; override the app's local.settings.json Values. @default {} */
  settings?: Readonly<Record<string, string>>;
  logger: Logger;
}

export interface RunningSystem {
  readonly url: string;
  readonly port: number;
  readonly bus: Bus;
  /** The Azure SignalR Service stand-in (serverless hubs at /client). */
  readonly signalR: SignalRService;
  /** Self-hosted hubs at /hubs. */
  readonly hubs: HubServer;
  readonly functions: FunctionsHost | undefined;
  /** `Endpoint=…;AccessKey=…;Version=1.0;` naming this server. */
  readonly connectionString: string;
  close(): Promise<void>;
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const { logger } = options;
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const busUrl = options.busUrl ?? (dataDir === undefined ? 'memory://' : `file://${join(dataDir, 'bus')}`);
  if (!/^(memory|file):\/\//.test(busUrl))
    throw new InvalidOptionError('busUrl', `must be memory:// or file://DIR, got '${busUrl}'`);

  const bus = await createBus({ url: busUrl });
  const busApi = createBusHttpHandler(bus, { basePath: '/bus', logger: logger.child({ part: 'bus-http' }) });
  const hubs = createHubServer({ logger: logger.child({ part: 'hubs' }) });
  hubs.on('error', (err) => logger.error({ err }, 'hub request failed'));
  const stopDemo = options.demo ? createDemoHub(hubs.hub('demo')) : () => {};
  const home = options.home ?? (options.demo ? '/demo' : undefined);
  const web = createStaticFiles({
    ...(options.demo ? { '/demo': new URL('./web/demo.html', import.meta.url).pathname } : {}),
    ...options.pages,
    ...signalRBrowserClient(),
  });

  // CORS for /api: pages on other origins call the functions (the seed's page calls http://localhost:7071/api/).
  const apiCors = createCors({ methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] });
  let signalR: SignalRService | undefined;
  let functions: FunctionsHost | undefined;
  const server: Server = createServer((request, response) => {
    if (signalR?.handleRequest(request, response)) return;
    if (hubs.handleRequest(request, response)) return;
    busApi(request, response, () => route(request, response));
  });
  const route = (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (functions !== undefined && /^\/api(\/|$)/.test(path)) {
      if (apiCors(request, response) === 'continue') functions.handleHttp(request, response);
      return;
    }
    if (web(request, response)) return;
    if (path === '/' && home !== undefined) {
      response.writeHead(302, { Location: home }).end();
      return;
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    response.writeHead(404, { 'Content-Type': 'application/json' }).end('{"code":"NOT_FOUND","message":"Not found."}');
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (signalR?.handleUpgrade(request, socket, head)) return;
    if (!hubs.handleUpgrade(request, socket, head)) socket.destroy();
  });

  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? 7071, host, () => ok());
    });
  } catch (err) {
    await Promise.all([hubs.close(), bus.close()]);
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const url =
    options.publicUrl?.replace(/\/+$/, '') ??
    `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;

  signalR = createSignalRService({
    endpoint: url,
    keys: [accessKey(dataDir)],
    logger: logger.child({ part: 'signalr' }),
  });
  const service = signalR;
  const connectionString = service.connectionString;

  const stop = async () => {
    stopDemo();
    await Promise.all([service.close(), hubs.close()]);
    await closeHttpServer(server);
    await bus.close();
  };

  if (options.app !== undefined) {
    const ready: Promise<unknown>[] = [];
    for (const queue of options.app.queues ?? []) {
      if (!(await bus.admin.queueExists(queue))) await bus.admin.createQueue(queue);
    }
    const host = createFunctionsHost({
      appDir: resolve(options.app.dir),
      settings: { AzureSignalRConnectionString: connectionString, ...options.settings },
      bus: creatingEntities(bus, ready),
      hub: inProcessSignalR(service, url),
      logger: logger.child({ part: 'functions' }),
    });
    try {
      await host.start();
      await Promise.all(ready);
    } catch (err) {
      await host.close().catch(() => undefined);
      await stop();
      throw err;
    }
    functions = host;
  }

  return {
    url,
    port,
    bus,
    signalR: service,
    hubs,
    functions,
    connectionString,
    async close() {
      // Stop taking work first; then let running functions finish and settle their messages.
      await functions?.close();
      await stop();
    },
  };
}

/**
 * SignalR bindings in process: sends and group changes go straight to the service's hubs;
 * negotiate gets `{url, accessToken}` for `/client/?hub=…`, exactly as Azure's binding builds it.
 */
function inProcessSignalR(service: SignalRService, url: string): SignalRTarget {
  const direct = fromHubServer(service.hubServer, { url });
  return {
    send: (hub, message) => direct.send(service.hub(hub).name, message),
    groupAction: (hub, action) => direct.groupAction(service.hub(hub).name, action),
    connectionInfo: (hub, request) => service.clientAccess(hub, request),
  };
}

/** The access key that signs SignalR tokens: kept in the data directory so tokens survive a restart. */
function accessKey(dataDir: string | undefined): string {
  if (dataDir === undefined) return randomBytes(32).toString('base64');
  const file = join(dataDir, 'keys.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { signalRAccessKey?: unknown };
    if (typeof stored.signalRAccessKey === 'string' && stored.signalRAccessKey !== '') return stored.signalRAccessKey;
  }
  const key = randomBytes(32).toString('base64');
  writeFileSync(file, `${JSON.stringify({ signalRAccessKey: key }, null, 2)}\n`, { mode: 0o600 });
  return key;
}
