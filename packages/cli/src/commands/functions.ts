/**
 * `hubbub functions <app-dir>`: runs an `@azure/functions` v4 app as `func start` would, on one
 * port (default 7071) together with everything it talks to (see {@link startSystem}), and serves
 * the app's `index.html` at / and the SignalR browser client at /vendor/signalr.min.js.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  consoleLogger,
  engineScheme,
  logFlagsHelp,
  parseCommandArgs,
  runUntilSignal,
  startSystem,
  staticRoutes,
  UsageError,
} from '@hubbub/system';
import { amqpLines, amqpPortsHelp, defaultAmqpPorts, portOrOff } from '../amqp-flags.ts';

export const summary = 'Run an @azure/functions v4 app with a hub and a bus on one port (like func start)';

const usage = `Usage: hubbub functions [<app-dir>] [options]

Runs the function app in <app-dir> (default: the current directory; its package.json "main",
host.json, local.settings.json) on one port with a hub and a bus of its own, as 'func start' runs it against Azure:

  /api/...            the app's HTTP functions (the negotiate function, ...)
  /client/?hub=<hub>  the hubs its SignalR bindings use (the Azure SignalR Service stand-in;
                      its REST API answers at /api/hubs/... and /api/v1/...)
  /bus                the bus HTTP API: 'hubbub send <queue> ...' sends here
  /store              the document store's HTTP API (Cosmos DB shape); the app's cosmosDB
                      bindings reach the store in process
  /                   <app-dir>/index.html, if there is one, and /vendor/signalr.min.js

Queues and topic subscriptions named by the app's triggers are created when missing.

  --port N            port (default $PORT or 7071)
  --host H            interface to listen on (default 127.0.0.1)
${amqpPortsHelp}
  --bus URL           memory:// (default), file://DIR to keep messages across restarts, or
                      nats://HOST:PORT[?namespace=N] to share the bus with other processes (run
                      one component of a system: --functions processOrder)
  --store URL         memory:// (default), pglite://DIR or postgres://… to keep documents; a
                      cosmosDB connection setting holding another store URL opens that store
  --backplane URL     the hubs' backplane: memory:// (default) or redis://HOST:PORT[?prefix=P],
                      shared with 'hubbub hub --backplane' nodes (default $HUBBUB_BACKPLANE_URL)
  --no-hub-clients    with --backplane: the hub nodes take the clients; negotiate names them
  --write-delay MS    coalesce each hub connection's messages within MS ms into one socket write
                      (0-1000; default 0, off)
  --data DIR          where the keys live (default $HUBBUB_DATA_DIR or .data; 'hubbub send' finds
                      the bus key there)
  --cors ORIGINS      origins allowed to call /api from pages elsewhere, comma-separated, '*' for
                      any (default local.settings.json Host.CORS; always this server's own)
  --static DIR        serve the files in DIR at / instead (x.html also at /x)
  --public-url URL    URL browsers reach this server at (default http://<host>:<port>)
  --enforce-keys      check function keys on authLevel function/admin, as Azure does (without it,
                      as under Core Tools, keys are not checked; they always are with a --host
                      beyond loopback)
  --functions A,B     run only these functions (comma-separated)
  --strict            fail the start when a function cannot be loaded (an unsupported binding, a
                      missing setting); without it the function is reported and the rest runs
${logFlagsHelp}
  -h, --help          this help

App settings come from local.settings.json "Values", overridden by the environment. The app runs
with its directory as its working directory, as under Core Tools; 'hubbub func start' takes Core
Tools' own flags.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    'amqp-port': { type: 'string' },
    'amqps-port': { type: 'string' },
    bus: { type: 'string' },
    store: { type: 'string' },
    backplane: { type: 'string' },
    'no-hub-clients': { type: 'boolean' },
    'write-delay': { type: 'string' },
    data: { type: 'string' },
    cors: { type: 'string' },
    'public-url': { type: 'string' },
    static: { type: 'string' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
    'enforce-keys': { type: 'boolean' },
    strict: { type: 'boolean' },
    functions: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const [appDir = '.', ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!existsSync(resolve(appDir, 'package.json'))) {
    throw new UsageError(`'${appDir}' is not a function app: it has no package.json`);
  }
  const portText = values.port ?? process.env.PORT ?? '7071';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port: '${portText}' is not a port number.`);
  }
  const amqpPort = portOrOff('--amqp-port', values['amqp-port']) ?? defaultAmqpPorts(port).amqp;
  const amqpsPort = portOrOff('--amqps-port', values['amqps-port']) ?? defaultAmqpPorts(port).amqps;
  const busUrl = values.bus ?? 'memory://';
  try {
    engineScheme('bus', busUrl);
  } catch (err) {
    throw new UsageError(`--bus ${(err as Error).message.replace(/^busUrl: /, '')}`, { cause: err });
  }
  const storeUrl = values.store ?? 'memory://';
  try {
    engineScheme('store', storeUrl);
  } catch (err) {
    throw new UsageError(`--store ${(err as Error).message.replace(/^storeUrl: /, '')}`, { cause: err });
  }
  const backplaneUrl = values.backplane ?? process.env.HUBBUB_BACKPLANE_URL ?? 'memory://';
  try {
    engineScheme('backplane', backplaneUrl);
  } catch (err) {
    throw new UsageError(`--backplane ${(err as Error).message.replace(/^backplaneUrl: /, '')}`, { cause: err });
  }
  if (values['no-hub-clients'] === true && backplaneUrl === 'memory://') {
    throw new UsageError('--no-hub-clients: give --backplane redis://…, the cluster whose hub nodes take the clients');
  }
  const logger = consoleLogger({ level: values['log-level'], format: values['log-format'] });
  if (values.static !== undefined && !existsSync(resolve(values.static))) {
    throw new UsageError(`--static: '${values.static}' is not a directory`);
  }
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === 'string') settings[k] = v;

  const index = resolve(appDir, 'index.html');
  const pages =
    values.static !== undefined ? staticRoutes(resolve(values.static)) : existsSync(index) ? { '/': index } : {};
  const corsText = values.cors ?? hostCors(appDir);
  const host = values.host ?? '127.0.0.1';
  const skipped: string[] = [];
  const system = await startSystem({
    app: {
      dir: resolve(appDir),
      enforceKeys: values['enforce-keys'] === true || !isLoopback(host),
      strict: values.strict === true,
      useConfiguredSignalRKey: isLoopback(host),
      ...(values.functions === undefined
        ? {}
        : {
            only: values.functions
              .split(',')
              .map((f) => f.trim())
              .filter(Boolean),
          }),
      onSkipped: (name, err) => skipped.push(`  ${name}: not loaded — ${err.message} [${err.code}]`),
    },
    pages,
    port,
    host,
    amqpPort,
    amqpsPort,
    busUrl,
    storeUrl,
    backplaneUrl,
    ...(values['no-hub-clients'] === true ? { hubClients: false } : {}),
    ...(values['write-delay'] === undefined ? {} : { hubWriteDelayMs: Number(values['write-delay']) }),
    // The push front's port follows --port as the SDK's do: 7443 with 7071, a free one otherwise.
    ...(port === 7071 ? {} : { pushPort: 0 }),
    dataDir: resolve(values.data ?? process.env.HUBBUB_DATA_DIR ?? '.data'),
    settings,
    corsOrigins: (corsText ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== ''),
    logger,
    ...(values['public-url'] === undefined ? {} : { publicUrl: values['public-url'] }),
  });
  const functions = system.functions!;
  const lines = [`Functions in ${resolve(appDir)}:`, ''];
  for (const f of functions.functions) {
    lines.push(
      f.route === undefined
        ? `  ${f.name}: ${f.trigger}`
        : `  ${f.name}: [${f.methods?.join(',')}] ${system.url}/${f.route}`,
    );
  }
  if (skipped.length > 0) lines.push('', 'Skipped (the rest of the app runs; --strict to fail instead):', ...skipped);
  const page =
    values.static !== undefined
      ? `  Pages:   ${Object.keys(pages)
          .filter((p) => !p.includes('.'))
          .map((p) => system.url + p)
          .join('  ')}\n`
      : '/' in pages
        ? `  Page:    ${system.url}/\n`
        : '';
  process.stdout.write(
    `${lines.join('\n')}\n\n${page}  Hubs:    ${system.url}/client/?hub=<hub>\n  Bus API: ${system.url}/bus  (hubbub send <queue> '<json>' sends here; key ${system.keys.bus.name}=${system.keys.bus.key})\n  Store:   ${system.url}/store  (${storeUrl.replace(/^(\w+:\/\/[^:/@]+):[^@/]*@/, '$1:***@')}; master key ${system.keys.store})\n\nSignalR: ${system.connectionString}\n${amqpLines(system)}\n`,
  );
  // The hubbub commands find this server through <data>/running.json.
  return runUntilSignal(system, 'Press Ctrl-C to stop.\n');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Core Tools' `Host.CORS` of local.settings.json: the origins pages may call the functions from. */
function hostCors(appDir: string): string | undefined {
  try {
    const settings = JSON.parse(readFileSync(resolve(appDir, 'local.settings.json'), 'utf8')) as {
      Host?: { CORS?: unknown };
    };
    return typeof settings.Host?.CORS === 'string' ? settings.Host.CORS : undefined;
  } catch {
    return undefined;
  }
}
