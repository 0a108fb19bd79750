/**
 * `npm start`: the delivery system on Hubbub, in one process on one port — the function app,
 * the tracking page, the hub, the bus (durable in the data directory) — with simulated couriers
 * driving the demo orders so there is something to watch.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseSystemFlags,
  runUntilSignal,
  startSystem,
  staticTree,
  systemFlagsHelp,
  UsageError,
} from '@hubbub/system/start';
import { deliveryApp } from './app.ts';
import { cityRoutes } from './city.ts';
import type { DeliveryApi } from './orders/index.ts';
import { parseStuckAfter } from './orders/stuck.ts';
import { runSimulator } from './simulator.ts';
import { TRACKING_KEY_SETTING, trackingLink } from './tracking.ts';

const usage = `Usage: npm start -- [options]

Runs the food-delivery system on Hubbub: open the printed URL to track an order live.

${systemFlagsHelp}
  --no-simulate       do not drive the demo couriers (send locations yourself with 'hubbub send')
  --stuck-after <status=seconds,…>
                      when the operations board calls an order stuck, per status (also
                      HUBBUB_STUCK_AFTER; default placed=300,accepted=600,preparing=1800,
                      ready=600,picked_up=2700)`;

async function main(args: string[]): Promise<number> {
  const parsed = parseSystemFlags(args, { 'no-simulate': { type: 'boolean' }, 'stuck-after': { type: 'string' } });
  if (parsed === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const { system: flags, values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  let stuckAfterSeconds: ReturnType<typeof parseStuckAfter>;
  try {
    stuckAfterSeconds = parseStuckAfter(String(values['stuck-after'] ?? process.env.HUBBUB_STUCK_AFTER ?? ''));
  } catch (err) {
    throw new UsageError(`--stuck-after: ${(err as Error).message.replace(/^stuck-after: /, '')}`);
  }
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === 'string') settings[k] = v;

  const simulate = values['no-simulate'] !== true;
  const demoOrders = cityRoutes().map((r) => r.orderid);
  if (simulate) settings.DemoOrders = demoOrders.join(',');
  let api: DeliveryApi | undefined;
  // The customer app, when built (the install step builds it); without it, / opens the tracking page.
  const ui = existsSync(join(deliveryApp.uiDir, 'index.html'));
  const system = await startSystem({
    ...flags,
    app: {
      dir: deliveryApp.functionsDir,
      queues: deliveryApp.queues,
      workerThreads: deliveryApp.workerThreads,
      workerHeap: deliveryApp.workerHeap,
    },
    pages: { ...deliveryApp.webFiles, ...staticTree(deliveryApp.uiPath, deliveryApp.uiDir) },
    immutablePages: [`${deliveryApp.uiPath}assets/`],
    // The order system's code (the REST API, its schemas) loads once the port listens.
    parts: [
      // On a Redis cache (a cluster's application nodes) the sign-in and sign-up budgets are shared.
      async (context) =>
        (api = (await import('./orders/index.ts')).deliveryApiPart({
          stuckAfterSeconds,
          sharedBudgets: /^rediss?:/.test(flags.cacheUrl ?? ''),
        })(context)),
    ],
    secrets: deliveryApp.secrets,
    demo: true,
    home: ui ? deliveryApp.uiPath : '/track',
    settings,
  });

  const simulation = new AbortController();
  let simulated: Promise<unknown> = Promise.resolve();
  if (simulate) {
    const sender = system.bus.createSender(deliveryApp.queues[0]!);
    simulated = runSimulator({
      routes: cityRoutes(),
      loop: true,
      signal: simulation.signal,
      // A position the bus refused (a NATS server failing over, say) is dropped, as a phone's GPS
      // fix lost in a tunnel: the courier's next one follows a tick later, the simulator goes on.
      send: (location) =>
        sender
          .send({ body: location, subject: 'driveby', contentType: 'application/json' })
          .catch((err: unknown) => flags.logger.warn({ err }, 'a simulated courier position was not sent')),
    }).catch((err: unknown) => flags.logger.error({ err }, 'the courier simulator stopped'));
  }

  const { demoAccounts, seedDemoAccounts } = await import('./orders/demo.ts');
  const demoPassword = system.keys.secrets.DemoPassword!;
  // The demo accounts are created once the API's containers exist (the store may still be opening).
  const seeded = api!
    .ready()
    .then(() => seedDemoAccounts(system.store, demoPassword))
    .then(
      () => void process.stdout.write('Demo accounts are ready: sign in with the password above.\n'),
      (err: unknown) => flags.logger.error({ err }, 'the demo accounts could not be created'),
    );
  const accountLines = demoAccounts()
    .map((a) => `    ${a.role.padEnd(10)} ${a.email}${a.restaurantId === undefined ? '' : ` (${a.restaurantId})`}`)
    .join('\n');
  const trackingKey = system.keys.secrets[TRACKING_KEY_SETTING]!;
  const orders = demoOrders.map((id) => `    ${trackingLink(system.url, id, trackingKey)}`).join('\n');
  const bus = system.keys.bus;
  const push =
    system.pushConnectionString === undefined
      ? '  Push:     off\n'
      : `  Push:     ${system.pushConnectionString}\n            hub ${system.pushHubName} (Notification Hubs SDK; trust NODE_EXTRA_CA_CERTS=${system.pushCaPath})\n            VAPID public key at ${system.url}/push/vapid-public-key\n`;
  const serviceBus =
    (system.amqpConnectionString === undefined ? '' : `  Service Bus SDK: ${system.amqpConnectionString}\n`) +
    (system.amqpsConnectionString === undefined
      ? ''
      : `            over TLS (the 1.x SDK too): ${system.amqpsConnectionString}\n            trust NODE_EXTRA_CA_CERTS=${system.caPath}\n`);
  const closing = {
    ...system,
    async close() {
      simulation.abort();
      await Promise.all([simulated, seeded]);
      await system.close();
    },
  };
  return runUntilSignal(
    closing,
    `Hubbub delivery is running.\n\n  Open ${system.url}/ in a browser${ui ? ' to order' : ` (the web app is not built: npm run build:ui -w apps/delivery)`}, or track an order (links valid 24 h):\n${orders}\n\n  REST API: ${system.url}/api/v1/…  (OpenAPI: ${system.url}/api/openapi.json)\n  Demo accounts, password ${demoPassword}:\n${accountLines}\n            (sign in as a restaurant, the courier or the operator for their live views)\n\n  Couriers: ${simulate ? 'simulated, looping' : 'not simulated (--no-simulate)'}\n  Bus API:  ${system.url}/bus   key ${bus.name}=${bus.key} (HUBBUB_BUS_KEY)\n            npx hubbub send locations '{"orderid":"1001","lat":47.61,"longitude":-122.32}'\n            npx hubbub ls   (the hubbub commands find this server through ${flags.dataDir}/running.json)\n  Store:    ${system.url}/store   master key ${system.keys.store} (HUBBUB_STORE_KEY)\n  SignalR:  ${system.connectionString}\n${serviceBus}${push}  Demo:     ${system.url}/demo\n  Data:     ${flags.dataDir}\n\nPress Ctrl-C to stop.\n`,
  );
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`hubbub: ${err instanceof Error ? err.message : String(err)}${code ? ` [${code}]` : ''}\n`);
    process.exitCode = 1;
  },
);
