/**
 * What `hubbub start` and app entry points share: the system's command-line flags, and running
 * it until Ctrl-C.
 * @module
 */
import type { Logger } from '@hubbub/kernel';
import { parseCommandArgs, UsageError } from './args.ts';
import { consoleLogger, logFlagsHelp } from './console-log.ts';
import { parseKey } from './keys-file.ts';
import { pushFlags, pushFlagsHelp, pushOptionsFrom } from './push-env.ts';
import { watchStrayErrors } from './stray-errors.ts';
import type { RunningSystem, SystemOptions } from './system.ts';

export const systemFlagsHelp = `  --port N            port (default $PORT, $HUBBUB_PORT or 7071)
  --host H            interface to listen on (default $HUBBUB_HOST or 127.0.0.1)
  --public-url URL    URL browsers reach this server at (default http://<host>:<port>)
  --data DIR          where the bus log, the store and keys live (default $HUBBUB_DATA_DIR or .data)
  --bus URL           bus engine (default file://<data>/bus)
  --store URL         document store: pglite://DIR (default <data>/store) or postgres://…
  --cache URL         cache: memory:// (default) or redis://HOST:PORT
  --backplane URL     the hubs' backplane: memory:// (default) or redis://HOST:PORT[?prefix=P]
                      for a cluster of hub nodes (default $HUBBUB_BACKPLANE_URL)
  --no-hub-clients    with --backplane: this node's hub takes no client connections (negotiate
                      names the cluster's 'hubbub hub' nodes)
  --no-amqp           without the bus's AMQP front (ports 5673 and 5671)
${logFlagsHelp}
  Keys are generated into <data>/keys.json on first start; to give them (required with a --host
  beyond loopback): $HUBBUB_SIGNALR_KEY (16+ characters), $HUBBUB_BUS_KEY (name=key) and
  $HUBBUB_STORE_KEY (base64 of 32+ bytes)
${pushFlagsHelp}
  -h, --help          this help`;

const flags = {
  port: { type: 'string' },
  host: { type: 'string' },
  'public-url': { type: 'string' },
  data: { type: 'string' },
  bus: { type: 'string' },
  store: { type: 'string' },
  cache: { type: 'string' },
  backplane: { type: 'string' },
  'no-hub-clients': { type: 'boolean' },
  'no-amqp': { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...pushFlags,
} as const;

export type SystemFlags = Pick<
  SystemOptions,
  | 'port'
  | 'host'
  | 'publicUrl'
  | 'dataDir'
  | 'logger'
  | 'keys'
  | 'push'
  | 'pushPort'
  | 'busUrl'
  | 'storeUrl'
  | 'cacheUrl'
  | 'backplaneUrl'
  | 'hubClients'
  | 'amqpPort'
>;

/** Parses the shared flags plus `extra`; `undefined` means `--help` was asked for. */
export function parseSystemFlags<E extends Parameters<typeof parseCommandArgs>[1]>(args: string[], extra: E) {
  const { values, positionals } = parseCommandArgs(args, { ...flags, ...extra });
  const v = values as Record<string, string | boolean | undefined>;
  if (v.help) return undefined;
  const portText = String(v.port ?? process.env.HUBBUB_PORT ?? process.env.PORT ?? '7071');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port: '${portText}' is not a port number.`);
  const logger = consoleLogger({
    level: v['log-level'] as string | undefined,
    format: v['log-format'] as string | undefined,
  });
  const publicUrl = v['public-url'];
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(String(publicUrl))) {
    throw new UsageError(`--public-url: '${publicUrl}' is not an http(s) URL.`);
  }
  const system: SystemFlags = {
    port,
    host: String(v.host ?? process.env.HUBBUB_HOST ?? '127.0.0.1'),
    dataDir: String(v.data ?? process.env.HUBBUB_DATA_DIR ?? '.data'),
    logger,
    ...(publicUrl === undefined ? {} : { publicUrl: String(publicUrl) }),
  };
  const engine = (flag: string, option: 'busUrl' | 'storeUrl' | 'cacheUrl' | 'backplaneUrl', env?: string) => {
    const value = v[flag] ?? (env === undefined ? undefined : process.env[env]);
    if (typeof value === 'string' && value !== '') system[option] = value;
  };
  engine('bus', 'busUrl');
  engine('store', 'storeUrl');
  engine('cache', 'cacheUrl');
  engine('backplane', 'backplaneUrl', 'HUBBUB_BACKPLANE_URL');
  if (v['no-hub-clients'] === true) system.hubClients = false;
  if (v['no-amqp'] === true) system.amqpPort = false;
  const signalRKey = process.env.HUBBUB_SIGNALR_KEY;
  const busKey = process.env.HUBBUB_BUS_KEY;
  const storeKey = process.env.HUBBUB_STORE_KEY;
  if ((signalRKey ?? '') !== '' || (busKey ?? '') !== '' || (storeKey ?? '') !== '') {
    system.keys = {
      ...(signalRKey ? { signalR: signalRKey } : {}),
      ...(busKey ? { bus: parseKey(busKey) } : {}),
      ...(storeKey ? { store: storeKey } : {}),
    };
  }
  const { keys: pushKeys, ...push } = pushOptionsFrom(v, process.env);
  Object.assign(system, push);
  if (pushKeys !== undefined) system.keys = { ...system.keys, push: pushKeys };
  return { system, values: v, positionals };
}

/**
 * Waits for SIGINT or SIGTERM, then closes the system: running functions finish and settle their
 * messages first. A second signal while it drains stops at once (exit code 130). While it runs it
 * owns the process's stray errors ({@link watchStrayErrors}): an unhandled rejection is logged, an
 * uncaught exception is logged as fatal and closes the system as a signal does, returning 1.
 */
export async function runUntilSignal(
  system: Pick<RunningSystem, 'close'> & { readonly logger?: Logger },
  banner: string,
): Promise<number> {
  process.stdout.write(banner);
  // One listener for the whole run: between a first signal and a second there is never a moment
  // without one, when Node would put the default action back and a quick second Ctrl-C would kill
  // the process without a word (and with no exit code).
  let first: ((signal: string) => void) | undefined;
  const signalled = new Promise<string>((resolve) => {
    first = resolve;
  });
  const onSignal = (signal: string): void => {
    if (first !== undefined) {
      first(signal);
      first = undefined;
      return;
    }
    process.stdout.write('Stopped without draining.\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let exitCode = 0;
  const unwatch = watchStrayErrors(system.logger ?? consoleLogger({}), () => {
    exitCode = 1;
    // Already draining after a signal: the process state is in doubt, so it stops now.
    if (first === undefined) process.exit(1);
    onSignal('an uncaught exception');
  });
  try {
    const signal = await signalled;
    process.stdout.write(`\n${drainingNotice(signal)}\n`);
    await system.close();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    unwatch();
  }
  process.stdout.write('Stopped.\n');
  return exitCode;
}

/** What the first Ctrl-C says: that it drains, and what a second one would drop. */
export function drainingNotice(signal: string): string {
  return (
    `Received ${signal}: draining — running functions finish and settle their messages, every message the bus acknowledged is kept.\n` +
    'Press Ctrl-C again to stop at once: running invocations are dropped, their messages come again once their locks expire, and open HTTP requests are cut.'
  );
}
