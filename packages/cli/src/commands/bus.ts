/**
 * `hubbub bus`: runs the bus alone, with its HTTP API and its AMQP front for the `@azure/service-bus`
 * SDK (AMQP, and AMQPS for the 1.x SDK too).
 * @module
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createBusHttpHandler, openBus, type SasKey } from '@hubbub/bus';
import { closeHttpServer, createHttpServer } from '@hubbub/kernel';
import {
  consoleLogger,
  defaultRateLimits,
  loadKeys,
  parseCommandArgs,
  runUntilSignal,
  startBusAmqp,
  UsageError,
} from '@hubbub/system';
import { amqpLines, amqpPortsHelp, defaultAmqpPorts, portOrOff } from '../amqp-flags.ts';
import { parseKey } from '../bus-client.ts';

export const summary = 'Run the bus (Service Bus semantics) and its HTTP API on its own';

const help = `Usage: hubbub bus [options]

  --port N           port (default $PORT or 7071; 0 picks a free one)
  --host H           interface (default 127.0.0.1)
  --url URL          engine: file://DIR (default file://.hubbub/bus), memory://, or
                     nats://HOST:PORT[,HOST:PORT…][?namespace=NAME&replicas=N] — NATS JetStream,
                     shared by every hubbub bus (and function host) on the same servers and namespace
  --engine URL       the same as --url
  --config FILE      entities to create: {"queues":[…],"topics":[…]} or a Service Bus emulator Config.json
  --base-path P      path the API is served under (default /bus)
  --key NAME=KEY     shared access key clients must sign with (repeatable; default $HUBBUB_BUS_KEYS,
                     "name=key;name2=key2"); required with a --host beyond loopback. Without one,
                     a key is generated into <data>/keys.json on first start and printed.
  --data DIR         where that key and the local CA (tls/ca.pem) live (default $HUBBUB_DATA_DIR or .data)
${amqpPortsHelp}

Prints {"listening":"http://host:port/bus"} when ready, then the SDK's connection strings; stops on
SIGINT / SIGTERM ("Stopped.").
`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      url: { type: 'string' },
      engine: { type: 'string' },
      config: { type: 'string' },
      'base-path': { type: 'string' },
      key: { type: 'string', multiple: true },
      data: { type: 'string' },
      'amqp-port': { type: 'string' },
      'amqps-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const portText = values.port ?? process.env.PORT ?? '7071';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0…65535, got '${portText}'`);
  const host = values.host ?? '127.0.0.1';
  const amqpPort = portOrOff('--amqp-port', values['amqp-port']) ?? defaultAmqpPorts(port).amqp;
  const amqpsPort = portOrOff('--amqps-port', values['amqps-port']) ?? defaultAmqpPorts(port).amqps;
  const dataDir = values.data ?? process.env.HUBBUB_DATA_DIR ?? '.data';
  const basePath = values['base-path'] ?? '/bus';
  if (basePath !== '' && !basePath.startsWith('/')) throw new UsageError("--base-path must start with '/'");
  const keyTexts = values.key ?? (process.env.HUBBUB_BUS_KEYS ?? '').split(';').filter((s) => s !== '');
  const keys: SasKey[] = keyTexts.map(parseKey);
  if (keys.length === 0) {
    if (!(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host))) {
      throw new UsageError(`--host ${host} makes the bus reachable from other machines: give its keys with --key`);
    }
    mkdirSync(dataDir, { recursive: true });
    keys.push(loadKeys(dataDir, {}, []).bus);
  }

  const logger = consoleLogger({}, { part: 'bus' });
  const bus = await openBus({
    url: values.engine ?? values.url ?? 'file://.hubbub/bus',
    ...(values.config === undefined ? {} : { configFile: values.config }),
  });
  const handler = createBusHttpHandler(bus, { basePath, keys, logger, rateLimit: defaultRateLimits.bus });
  const server = createHttpServer({
    request: (req, res) => {
      handler(req, res);
      return true;
    },
    onError: (err, req) => logger.error({ err, method: req.method, url: req.url }, 'request failed'),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await bus.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let amqp: Awaited<ReturnType<typeof startBusAmqp>> | undefined;
  if (amqpPort !== false) {
    try {
      amqp = await startBusAmqp({
        bus,
        keys,
        host,
        port: amqpPort,
        amqpsPort,
        dataDir,
        logger: logger.child({ part: 'bus-amqp' }),
      });
    } catch (err) {
      await closeHttpServer(server);
      await bus.close();
      throw err;
    }
  }
  process.stdout.write(`${JSON.stringify({ listening: `http://${shownHost}:${address.port}${basePath}` })}\n`);
  if (values.key === undefined && process.env.HUBBUB_BUS_KEYS === undefined) {
    process.stdout.write(`Bus key: ${keys[0]!.name}=${keys[0]!.key}  (hubbub send --key, or $HUBBUB_BUS_KEY)\n`);
  }
  if (amqp !== undefined) {
    process.stdout.write(
      amqpLines({
        amqpConnectionString: amqp.connectionString,
        amqpsConnectionString: amqp.amqpsConnectionString,
        caPath: amqp.caPath,
      }),
    );
  }

  return runUntilSignal(
    {
      async close() {
        await amqp?.close();
        await closeHttpServer(server);
        await bus.close();
      },
    },
    'Press Ctrl-C to stop.\n',
  );
}
