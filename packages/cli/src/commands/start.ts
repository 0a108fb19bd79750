/**
 * `hubbub start`: the whole system in one process on one port.
 * @module
 */
import { createConsoleLogger, type LogLevel } from '@hubbub/kernel';
import { parseCommandArgs, UsageError } from '../args.ts';
import { startSystem } from '../system.ts';

export const summary = 'Run everything in one process (default port 7071) and print where to open it';

const usage = `Usage: hubbub start [--port 7071] [--host 127.0.0.1] [--log-level info]

Environment: PORT or HUBBUB_PORT, HUBBUB_HOST, HUBBUB_LOG_LEVEL.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const portText = values.port ?? process.env.HUBBUB_PORT ?? process.env.PORT ?? '7071';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port: '${portText}' is not a port number.`);
  const level = (values['log-level'] ?? process.env.HUBBUB_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new UsageError(`--log-level: '${level}' is not one of debug, info, warn, error.`);
  const logger = createConsoleLogger({ level });

  const system = await startSystem({ port, host: values.host ?? process.env.HUBBUB_HOST ?? '127.0.0.1', logger });
  process.stdout.write(
    `Hubbub is running.\n\n  Open ${system.url}/ in a browser.\n  Hub endpoint: ${system.url}/hubs/<name>\n\nPress Ctrl-C to stop.\n`,
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stdout.write(`\nReceived ${signal}, shutting down…\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await system.close();
  process.stdout.write('Stopped.\n');
  return 0;
}
