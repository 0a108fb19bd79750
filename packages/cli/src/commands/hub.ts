/**
 * `hubbub hub`: the hub alone, as a stand-in for Azure SignalR Service in serverless mode
 * (`/client/*` for clients, `/api/*` REST API, optional upstream webhooks).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createSignalRService, formatConnectionString, parseConnectionString } from '@hubbub/hub';
import { HubbubError } from '@hubbub/kernel';
import { consoleLogger, openBackplane, parseCommandArgs, runUntilSignal, UsageError } from '@hubbub/system';
import { connectionStrings } from '../signalr-env.ts';

export const summary = 'Run the hub alone as an Azure SignalR Service (serverless) stand-in';

const usage = `Usage: hubbub hub [--port 7071] [--host 127.0.0.1] [--connection-string <cs>]...
                  [--upstream <url template>]... [--backplane redis://HOST:PORT[?prefix=P]]
                  [--public-url <url>] [--log-level info] [--log-format pretty|json]

--connection-string  Azure-form; repeat it to accept several keys (the first signs). Default:
                     HUBBUB_SIGNALR_CONNECTION_STRING or AzureSignalRConnectionString; without
                     one, a new key is made and its connection string printed.
--port               default: the connection string's port, else 7071 (0 = any free port).
--upstream           webhook URL template with {hub}, {category}, {event}, for every event.
--backplane          memory:// (default: this node alone) or redis://…: hub nodes on the same
                     Redis and prefix form one cluster (sends, groups, presence, REST API), and
                     negotiate spreads clients over them. Default: HUBBUB_BACKPLANE_URL.
--public-url         this node's origin as clients reach it, advertised to the cluster.
                     Default: the address listened on (required with --host 0.0.0.0).`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'connection-string': { type: 'string', multiple: true },
      upstream: { type: 'string', multiple: true },
      backplane: { type: 'string' },
      'public-url': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const logger = consoleLogger({ level: values['log-level'], format: values['log-format'] });
  const given = connectionStrings(values['connection-string']);
  const parsed = given.map(parseConnectionString);
  const portText = values.port ?? (parsed[0] ? new URL(parsed[0].endpoint).port || undefined : undefined) ?? '7071';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) throw new UsageError(`--port: '${portText}' is not a port number.`);
  const host = values.host ?? '127.0.0.1';

  const generated = given.length > 0 ? undefined : randomBytes(32).toString('base64');
  const backplaneUrl = values.backplane ?? process.env.HUBBUB_BACKPLANE_URL ?? 'memory://';
  const publicUrl = values['public-url'];
  if (publicUrl === undefined && backplaneUrl !== 'memory://' && (host === '0.0.0.0' || host === '::')) {
    throw new UsageError(`--public-url: give this node's URL as clients reach it (it listens on ${host}).`);
  }
  const backplane = await openBackplane(backplaneUrl, { logger });
  const service = createSignalRService({
    ...(generated === undefined ? { connectionString: given } : { keys: [generated] }),
    upstream: (values.upstream ?? []).map((urlTemplate) => ({ urlTemplate })),
    hubServer: { backplane },
    ...(publicUrl === undefined ? {} : { cluster: { url: publicUrl } }),
    logger,
  });
  const stop = async () => {
    await service.close();
    await backplane.close();
  };
  let listening: { url: string; port: number };
  try {
    listening = await service.listen({ port, host });
  } catch (err) {
    await stop();
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    // The port came from --port, the connection string's endpoint or the 7071 default (npm start's
    // and hubbub bus's too): say which flag picks another.
    throw new HubbubError(
      'SYSTEM_PORT_IN_USE',
      `Port ${port} on ${host} is in use by another process: stop it, or pick another port with --port N` +
        ` (or give the connection string's Endpoint a port of its own, e.g. http://127.0.0.1:8090).`,
      { cause: err, detail: { host, port } },
    );
  }
  const { url, port: actual } = listening;
  // A configured endpoint on another port (e.g. none, with --port 0) would not reach this process.
  const connectionString =
    new URL(service.endpoint ?? url).port === String(actual)
      ? service.connectionString
      : formatConnectionString({ endpoint: url, accessKey: parsed[0]?.accessKey ?? generated! });
  process.stdout.write(
    `Hubbub hub (Azure SignalR serverless) listening on ${url}\n` +
      `ConnectionString: ${connectionString}\n` +
      `Clients: ${url}/client/?hub=<name>   REST API: ${url}/api/hubs/<name>/…\n` +
      (backplaneUrl === 'memory://' ? '' : `Backplane: ${backplaneUrl.replace(/\/\/[^@/]*@/, '//***@')}\n`) +
      'Press Ctrl-C to stop.\n',
  );
  return runUntilSignal({ close: stop }, '');
}
