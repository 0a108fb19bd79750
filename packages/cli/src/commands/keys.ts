/**
 * `hubbub keys`: a new random access key and the Azure-form connection string that carries it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { formatConnectionString } from '@hubbub/hub';
import { parseCommandArgs } from '@hubbub/system';

export const summary = 'Print a new SignalR access key and its connection string';

const usage = `Usage: hubbub keys [--endpoint http://localhost:7071] [--json]

Prints a new 256-bit access key (base64) and the connection string
Endpoint=<endpoint>;AccessKey=<key>;Version=1.0; for HUBBUB_SIGNALR_CONNECTION_STRING or
AzureSignalRConnectionString.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      endpoint: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const accessKey = randomBytes(32).toString('base64');
  const connectionString = formatConnectionString({
    endpoint: values.endpoint ?? 'http://localhost:7071',
    accessKey,
  });
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ accessKey, connectionString })}\n`
      : `AccessKey: ${accessKey}\nConnectionString: ${connectionString}\n`,
  );
  return 0;
}
