/**
 * `hubbub keys`: a new random access key and the Azure-form connection string that carries it,
 * and the `@azure/service-bus` SDK's connection strings for the bus key in the data directory.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { formatConnectionString } from '@hubbub/hub';
import { parseCommandArgs, readRunningFile, storedBusKey } from '@hubbub/system';

export const summary = 'Print a new SignalR access key and its connection string';

const usage = `Usage: hubbub keys [--endpoint http://localhost:7071] [--data DIR] [--json]

Prints a new 256-bit access key (base64) and the connection string
Endpoint=<endpoint>;AccessKey=<key>;Version=1.0; for HUBBUB_SIGNALR_CONNECTION_STRING or
AzureSignalRConnectionString. With a bus key in the data directory (default $HUBBUB_DATA_DIR or
.data), also the @azure/service-bus SDK's connection strings: AMQP (7.x) and AMQPS (the 1.x SDK
too, trusting <data>/tls/ca.pem with NODE_EXTRA_CA_CERTS) — the running server's, else the
default ports'.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      endpoint: { type: 'string' },
      data: { type: 'string' },
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
  const bus = serviceBusStrings(values.data ?? process.env.HUBBUB_DATA_DIR ?? '.data');
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ accessKey, connectionString, ...(bus === undefined ? {} : { serviceBus: bus }) })}\n`
      : `AccessKey: ${accessKey}\nConnectionString: ${connectionString}\n` +
          (bus === undefined
            ? ''
            : `ServiceBus (AMQP): ${bus.amqp}\nServiceBus (AMQPS, the 1.x SDK too): ${bus.amqps}\n  with NODE_EXTRA_CA_CERTS=${bus.caPath}\n`),
  );
  return 0;
}

/** The running server's AMQP connection strings, else those of the stored bus key on the default ports. */
function serviceBusStrings(dataDir: string): { amqp: string; amqps: string; caPath: string } | undefined {
  const caPath = join(dataDir, 'tls', 'ca.pem');
  const running = readRunningFile(dataDir)?.amqp;
  if (running?.tlsConnectionString !== undefined) {
    return { amqp: running.connectionString, amqps: running.tlsConnectionString, caPath: running.caPath ?? caPath };
  }
  const key = storedBusKey(dataDir);
  if (key === undefined) return undefined;
  const sas = `SharedAccessKeyName=${key.name};SharedAccessKey=${key.key}`;
  return {
    amqp: `Endpoint=sb://127.0.0.1:5673;${sas};UseDevelopmentEmulator=true`,
    amqps: `Endpoint=sb://127.0.0.1/;${sas}`,
    caPath,
  };
}
