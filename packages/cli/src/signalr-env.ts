/**
 * Where the SignalR commands find connection strings: `--connection-string` flags first, then the
 * environment (`HUBBUB_SIGNALR_CONNECTION_STRING`, then Azure's `AzureSignalRConnectionString`),
 * then — for client commands, given a data directory — the running Hubbub's `running.json`.
 * @module
 */
import { runningSystem } from './locate.ts';

export const connectionStringEnv = ['HUBBUB_SIGNALR_CONNECTION_STRING', 'AzureSignalRConnectionString'] as const;

export function connectionStrings(flags: readonly string[] | undefined, dataDir?: string): string[] {
  if (flags !== undefined && flags.length > 0) return [...flags];
  for (const name of connectionStringEnv) {
    const value = process.env[name];
    if (value !== undefined && value.trim() !== '') return [value];
  }
  const running = dataDir === undefined ? undefined : runningSystem(dataDir);
  return running === undefined ? [] : [running.value.signalR.connectionString];
}
