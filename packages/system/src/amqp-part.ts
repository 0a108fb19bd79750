/**
 * The bus's AMQP front on its own, for commands that run a bus without the whole system
 * (`hubbub bus`): plain TCP for the 7.x SDK and, with the local CA's certificate from the data
 * directory, AMQPS for the 1.x SDK too — the same wiring `startSystem` does.
 * @module
 */
import type { Bus, SasKey } from '@hubbub/bus';
import type { Logger } from '@hubbub/kernel';

export interface BusAmqpOptions {
  bus: Bus;
  /** Keys that sign the SDK's tokens; the first is in the connection strings. At least one. */
  keys: readonly SasKey[];
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 5673 */
  port?: number;
  /** @default 5671; `false`: no AMQPS */
  amqpsPort?: number | false;
  /** `<dataDir>/tls` holds the local CA. @default a temporary directory removed at close */
  dataDir?: string;
  logger?: Logger;
}

export interface BusAmqp {
  /** `Endpoint=sb://HOST:PORT;…;UseDevelopmentEmulator=true` (7.x). */
  readonly connectionString: string;
  /** `Endpoint=sb://HOST/;…` over AMQPS (1.x too), unless off. */
  readonly amqpsConnectionString: string | undefined;
  /** `ca.pem` clients trust for AMQPS (`NODE_EXTRA_CA_CERTS`). */
  readonly caPath: string | undefined;
  close(): Promise<void>;
}

export async function startBusAmqp(options: BusAmqpOptions): Promise<BusAmqp> {
  // Imported here: a command that never starts the front does not load it.
  const { createAmqpFront, DEFAULT_AMQP_PORT, DEFAULT_AMQPS_PORT } = await import('@hubbub/bus-amqp');
  const { openSystemTls } = await import('./tls-part.ts');
  const host = options.host ?? '127.0.0.1';
  const clientHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const tls =
    options.amqpsPort === false ? undefined : await openSystemTls(options.dataDir, clientHost === host ? [host] : []);
  const front = createAmqpFront({
    bus: options.bus,
    keys: options.keys,
    host,
    port: options.port ?? DEFAULT_AMQP_PORT,
    ...(tls === undefined ? {} : { tls, amqpsPort: options.amqpsPort ?? DEFAULT_AMQPS_PORT }),
  });
  front.on('connectionError', (err) => options.logger?.warn({ err }, `AMQP connection closed: ${err.message}`));
  try {
    await front.start();
  } catch (err) {
    await front.close().catch(() => undefined);
    await tls?.close();
    throw err;
  }
  const key = options.keys[0]!;
  return {
    connectionString: front.connectionString(key, clientHost),
    amqpsConnectionString: front.amqpsConnectionString(key, clientHost),
    caPath: tls?.caPath,
    async close() {
      await front.close();
      await tls?.close();
    },
  };
}
