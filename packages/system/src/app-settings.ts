/**
 * What the composition root reads of a function app's own settings before the app starts: the
 * SignalR access key it configured (`AzureSignalRConnectionString`'s `AccessKey`, from the given
 * settings or local.settings.json `Values`), which the hub then signs with — honoured as written,
 * so a separate backend signing tokens with that key is accepted.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConnectionString } from '@hubbub/functions';

const SIGNALR_SETTING = 'AzureSignalRConnectionString';

/** local.settings.json `Values` (none when the file is absent or unreadable: the host reports it). */
function localValues(appDir: string): Record<string, unknown> {
  try {
    const text = readFileSync(join(appDir, 'local.settings.json'), 'utf8');
    const json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as { Values?: unknown };
    return typeof json.Values === 'object' && json.Values !== null ? (json.Values as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The `AccessKey` of the app's `AzureSignalRConnectionString`, if it configures one. */
export function configuredSignalRKey(
  appDir: string,
  settings: Readonly<Record<string, string>> = {},
): string | undefined {
  const value = settings[SIGNALR_SETTING] ?? localValues(appDir)[SIGNALR_SETTING];
  if (typeof value !== 'string') return undefined;
  const key = parseConnectionString(value).accesskey;
  return key === undefined || key === '' ? undefined : key;
}
