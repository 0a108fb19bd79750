/**
 * `hubbub functions <app-dir>`: runs an `@azure/functions` v4 app as `func start` would, on one
 * port (default 7071) together with everything it talks to — a hub (Azure SignalR stand-in) at
 * /hubs, a bus with its HTTP API at /bus, the functions at /api — and serves the app's
 * `index.html` at / and the SignalR browser client at /vendor/signalr.min.js.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { type Bus, createBus, createBusHttpHandler } from '@hubbub/bus';
import {
  type BusSource,
  createFunctionsHost,
  type FunctionsBus,
  type FunctionsHost,
  fromHubbubBus,
  fromHubServer,
} from '@hubbub/functions';
import { createHubServer, type HubServer } from '@hubbub/hub';
import { createConsoleLogger, type Logger, type LogLevel, silentLogger } from '@hubbub/kernel';
import { parseCommandArgs, UsageError } from '../args.ts';
import { createStaticFiles, signalRBrowserClient } from '../static.ts';

export const summary = 'Run an @azure/functions v4 app with a hub and a bus on one port (like func start)';

const usage = `Usage: hubbub functions <app-dir> [options]

Runs the function app in <app-dir> (its package.json "main", host.json, local.settings.json) on
one port with a hub and a bus of its own, as 'func start' runs it against Azure:

  /api/...            the app's HTTP functions (the negotiate function, ...)
  /hubs/<hub>         the hub its SignalR bindings use (the Azure SignalR Service stand-in)
  /bus                the bus HTTP API: 'hubbub send <queue> ...' sends here
  /                   <app-dir>/index.html, if there is one, and /vendor/signalr.min.js

Queues and topic subscriptions named by the app's triggers are created when missing.

  --port N            port (default $PORT or 7071)
  --host H            interface to listen on (default 127.0.0.1)
  --bus URL           memory:// (default) or file://DIR to keep messages across restarts
  --static DIR        serve the files in DIR at / instead (x.html also at /x)
  --public-url URL    URL browsers reach this server at (default http://<host>:<port>)
  --log-level L       debug, info (default), warn, error
  -h, --help          this help

App settings come from local.settings.json "Values", overridden by the environment.`;

export interface FunctionsSystem {
  readonly url: string;
  readonly port: number;
  readonly host: FunctionsHost;
  readonly hub: HubServer;
  readonly bus: Bus;
  close(): Promise<void>;
}

export interface FunctionsSystemOptions {
  appDir: string;
  /** @default 7071 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 'memory://' */
  busUrl?: string;
  /** @default http://<host>:<port> (localhost when listening on every interface) */
  publicUrl?: string;
  /** @default {} */
  settings?: Record<string, string>;
  /** A directory of static files served at / (`x.html` also at `/x`, `index.html` at `/`). @default <appDir>/index.html only */
  staticDir?: string;
  /** @default silentLogger */
  logger?: Logger;
}

/** URL path → file for the files directly in `dir`. */
export function staticRoutes(dir: string): Record<string, string> {
  const routes: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name);
    if (!statSync(file).isFile()) continue;
    routes[`/${name}`] = file;
    if (name === 'index.html') routes['/'] = file;
    else if (name.endsWith('.html')) routes[`/${name.slice(0, -'.html'.length)}`] = file;
  }
  return routes;
}

/** A bus that creates the queue or subscription a trigger receives from when it is missing. */
function creatingEntities(bus: Bus, ready: Promise<unknown>[]): FunctionsBus {
  const inner = fromHubbubBus(bus);
  const ensure = async (source: BusSource) => {
    if ('queue' in source) {
      if (!(await bus.admin.queueExists(source.queue))) await bus.admin.createQueue(source.queue);
      return;
    }
    if (!(await bus.admin.topicExists(source.topic))) await bus.admin.createTopic(source.topic);
    const subs = await bus.admin.listSubscriptions(source.topic);
    if (!subs.some((s) => s.subscriptionName === source.subscription)) {
      await bus.admin.createSubscription(source.topic, source.subscription);
    }
  };
  const after = <T>(source: BusSource, items: () => AsyncIterable<T>): AsyncIterable<T> => {
    const done = ensure(source);
    ready.push(done);
    return (async function* () {
      await done;
      yield* items();
    })();
  };
  const batches = inner.receiveBatches;
  return {
    send: (entity, messages) => inner.send(entity, messages),
    receive: (source, options) => after(source, () => inner.receive(source, options)),
    ...(batches === undefined
      ? {}
      : { receiveBatches: (source, options) => after(source, () => batches.call(inner, source, options)) }),
  };
}

/** CORS for /api: the seed's page calls http://localhost:7071/api/ from wherever it is served. */
function cors(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  res.setHeader('Vary', 'Origin');
  if (req.method !== 'OPTIONS') return false;
  res.writeHead(204, {
    'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
    'Access-Control-Max-Age': '600',
  });
  res.end();
  return true;
}

export async function startFunctionsSystem(options: FunctionsSystemOptions): Promise<FunctionsSystem> {
  const appDir = resolve(options.appDir);
  const logger = options.logger ?? silentLogger;
  const hub = createHubServer({ auth: { keys: [randomBytes(32).toString('base64url')] }, logger });
  const bus = await createBus({ url: options.busUrl ?? 'memory://' });
  const busApi = createBusHttpHandler(bus, { basePath: '/bus', logger });
  const index = resolve(appDir, 'index.html');
  const pages =
    options.staticDir !== undefined
      ? staticRoutes(resolve(options.staticDir))
      : existsSync(index)
        ? { '/': index }
        : {};
  const web = createStaticFiles({ ...pages, ...signalRBrowserClient() });
  let functions: FunctionsHost | undefined;

  const server: Server = createServer((req, res) => {
    if (hub.handleRequest(req, res)) return;
    busApi(req, res, () => {
      if (functions !== undefined && /^\/api(\/|\?|$)/.test(req.url ?? '')) {
        if (!cors(req, res)) functions.handleHttp(req, res);
        return;
      }
      if (web(req, res)) return;
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"code":"NOT_FOUND","message":"Not found."}');
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (!hub.handleUpgrade(req, socket, head)) socket.destroy();
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? 7071, host, () => ok());
    });
  } catch (err) {
    await hub.close();
    await bus.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const url =
    options.publicUrl?.replace(/\/+$/, '') ??
    `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;

  const ready: Promise<unknown>[] = [];
  const started = createFunctionsHost({
    appDir,
    settings: options.settings ?? {},
    bus: creatingEntities(bus, ready),
    hub: fromHubServer(hub, { url }),
    logger,
  });
  const stopAll = async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    await bus.close();
  };
  try {
    await started.start();
    await Promise.all(ready);
  } catch (err) {
    await started.close().catch(() => undefined);
    await stopAll();
    throw err;
  }
  functions = started;

  return {
    url,
    port,
    host: started,
    hub,
    bus,
    async close() {
      await started.close();
      await stopAll();
    },
  };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    bus: { type: 'string' },
    'public-url': { type: 'string' },
    static: { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const [appDir, ...extra] = positionals;
  if (appDir === undefined) throw new UsageError('functions needs an app directory: hubbub functions <app-dir>');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!existsSync(resolve(appDir, 'package.json'))) {
    throw new UsageError(`'${appDir}' is not a function app: it has no package.json`);
  }
  const portText = values.port ?? process.env.PORT ?? '7071';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port: '${portText}' is not a port number.`);
  }
  const busUrl = values.bus ?? 'memory://';
  if (!/^(memory|file):\/\//.test(busUrl))
    throw new UsageError(`--bus must be memory:// or file://DIR, got '${busUrl}'`);
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new UsageError(`--log-level: '${level}' is not one of debug, info, warn, error.`);
  }
  if (values.static !== undefined && !existsSync(resolve(values.static))) {
    throw new UsageError(`--static: '${values.static}' is not a directory`);
  }
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === 'string') settings[k] = v;

  const system = await startFunctionsSystem({
    appDir,
    port,
    host: values.host ?? '127.0.0.1',
    busUrl,
    settings,
    logger: createConsoleLogger({ level }),
    ...(values['public-url'] === undefined ? {} : { publicUrl: values['public-url'] }),
    ...(values.static === undefined ? {} : { staticDir: values.static }),
  });
  const lines = [`Functions in ${appDir}:`, ''];
  for (const f of system.host.functions) {
    lines.push(
      f.route === undefined
        ? `  ${f.name}: ${f.trigger}`
        : `  ${f.name}: [${f.methods?.join(',')}] ${system.url}/${f.route}`,
    );
  }
  const pageFiles = values.static === undefined ? [] : Object.keys(staticRoutes(resolve(values.static)));
  const page =
    values.static !== undefined
      ? `  Pages:   ${pageFiles
          .filter((p) => !p.includes('.'))
          .map((p) => system.url + p)
          .join('  ')}\n`
      : existsSync(resolve(appDir, 'index.html'))
        ? `  Page:    ${system.url}/\n`
        : '';
  process.stdout.write(
    `${lines.join('\n')}\n\n${page}  Hub:     ${system.url}/hubs/<hub>\n  Bus API: ${system.url}/bus  (hubbub send <queue> '<json>' sends here)\n\nPress Ctrl-C to stop.\n`,
  );

  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await system.close();
  process.stdout.write('Stopped.\n');
  return 0;
}
