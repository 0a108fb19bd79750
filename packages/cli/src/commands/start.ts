/**
 * `hubbub start`: the whole system in one process on one port.
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  parseSystemFlags,
  runUntilSignal,
  startSystem,
  staticRoutes,
  systemFlagsHelp,
  UsageError,
} from '@hubbub/system';

export const summary = 'Run everything in one process (default port 7071) and print where to open it';

const usage = `Usage: hubbub start [options]

Runs the hub (self-hosted at /hubs, Azure SignalR serverless at /client and /api/hubs), the bus
(HTTP API at /bus, durable in the data directory), a function app (/api) and a live demo page
(/demo) on one port.

${systemFlagsHelp}
  --app DIR           an @azure/functions v4 app to run (its index.html is served at /)
  --static DIR        serve the files in DIR at / (x.html also at /x)

App settings come from the app's local.settings.json "Values", overridden by the environment.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseSystemFlags(args, { app: { type: 'string' }, static: { type: 'string' } });
  if (parsed === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const { system: flags, values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const appDir = values.app === undefined ? undefined : resolve(String(values.app));
  if (appDir !== undefined && !existsSync(resolve(appDir, 'package.json'))) {
    throw new UsageError(`--app: '${values.app}' is not a function app: it has no package.json`);
  }
  const staticDir = values.static === undefined ? undefined : resolve(String(values.static));
  if (staticDir !== undefined && !existsSync(staticDir))
    throw new UsageError(`--static: '${values.static}' is not a directory`);
  const pages = {
    ...(appDir !== undefined && existsSync(resolve(appDir, 'index.html'))
      ? { '/': resolve(appDir, 'index.html') }
      : {}),
    ...(staticDir === undefined ? {} : staticRoutes(staticDir)),
  };
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === 'string') settings[k] = v;

  const system = await startSystem({
    ...flags,
    demo: true,
    settings,
    pages,
    ...(appDir === undefined ? {} : { app: { dir: appDir } }),
  });
  return runUntilSignal(
    system,
    `Hubbub is running.\n\n  Open ${system.url}/ in a browser.\n  Demo page:     ${system.url}/demo\n` +
      `  Bus API:       ${system.url}/bus   key ${system.keys.bus.name}=${system.keys.bus.key} (HUBBUB_BUS_KEY)\n` +
      `  Store API:     ${system.url}/store   master key ${system.keys.store} (HUBBUB_STORE_KEY)\n` +
      `  SignalR:       ${system.connectionString}\n` +
      (system.amqpConnectionString === undefined ? '' : `  Service Bus:   ${system.amqpConnectionString}\n`) +
      (system.amqpsConnectionString === undefined
        ? ''
        : `  over TLS:      ${system.amqpsConnectionString}\n                 (the 1.x SDK too; trust NODE_EXTRA_CA_CERTS=${system.caPath})\n`) +
      (system.pushConnectionString === undefined
        ? '  Push:          off\n'
        : `  Push:          ${system.pushConnectionString}\n` +
          `                 hub ${system.pushHubName} (Notification Hubs SDK; trust NODE_EXTRA_CA_CERTS=${system.pushCaPath})\n`) +
      `  Data:          ${flags.dataDir}   (hubbub commands find this server through ${flags.dataDir}/running.json)\n\nPress Ctrl-C to stop.\n`,
  );
}
