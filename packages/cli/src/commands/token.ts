/**
 * `hubbub token`: a client token (what a negotiate function returns) or a server token (for the
 * REST API), signed with the connection string's access key, for testing by hand.
 * @module
 */
import { createClientAccess, createServerToken, parseConnectionString } from '@hubbub/hub';
import { parseCommandArgs, UsageError } from '@hubbub/system';
import { dataDirFrom } from '../locate.ts';
import { connectionStrings } from '../signalr-env.ts';

export const summary = 'Print a SignalR client token ({url, accessToken}) or a REST API server token';

const usage = `Usage:
  hubbub token client --hub <name> [--user <id>] [--claim name=value]... [--lifetime <seconds>]
  hubbub token server --url <REST URL or path> [--lifetime <seconds>]

Options:
  --connection-string <cs>  default: HUBBUB_SIGNALR_CONNECTION_STRING or AzureSignalRConnectionString,
                            else the running Hubbub's (found through <data>/running.json)
  --data DIR                the running Hubbub's data directory (default $HUBBUB_DATA_DIR or .data)
  --lifetime <seconds>      default 3600

client prints {"url","accessToken"} as JSON; server prints the bearer token.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    'connection-string': { type: 'string', multiple: true },
    hub: { type: 'string' },
    user: { type: 'string' },
    claim: { type: 'string', multiple: true },
    url: { type: 'string' },
    lifetime: { type: 'string' },
    data: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const kind = positionals[0];
  if ((kind !== 'client' && kind !== 'server') || positionals.length > 1) {
    throw new UsageError(`Say 'client' or 'server'.\n${usage}`);
  }
  const dataDir = dataDirFrom(values.data);
  const [text] = connectionStrings(values['connection-string'], dataDir);
  if (text === undefined) {
    throw new UsageError(
      `No connection string: no running Hubbub was found (${dataDir}/running.json; --data DIR or $HUBBUB_DATA_DIR if its data is elsewhere), so pass --connection-string or set HUBBUB_SIGNALR_CONNECTION_STRING.`,
    );
  }
  const cs = parseConnectionString(text);
  const lifetimeText = values.lifetime ?? '3600';
  if (!/^\d+$/.test(lifetimeText) || Number(lifetimeText) === 0) {
    throw new UsageError(`--lifetime: '${lifetimeText}' is not a positive whole number of seconds.`);
  }
  const lifetimeMs = Number(lifetimeText) * 1000;

  if (kind === 'client') {
    if (values.hub === undefined) throw new UsageError('--hub is required for a client token.');
    const claims: Record<string, string> = {};
    for (const pair of values.claim ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`--claim: '${pair}' is not name=value.`);
      claims[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const access = await createClientAccess({
      connectionString: cs,
      hub: values.hub,
      claims,
      lifetimeMs,
      ...(values.user === undefined ? {} : { userId: values.user }),
    });
    process.stdout.write(`${JSON.stringify(access)}\n`);
    return 0;
  }
  if (values.url === undefined) throw new UsageError('--url is required for a server token.');
  let audience: string;
  try {
    audience = new URL(values.url, `${cs.endpoint}/`).href;
  } catch {
    throw new UsageError(`--url: '${values.url}' is not a URL or path.`);
  }
  process.stdout.write(`${await createServerToken({ audience, accessKey: cs.accessKey, lifetimeMs })}\n`);
  return 0;
}
