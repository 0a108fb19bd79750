/**
 * The delivery system's components, each run as its own process as the seed deploys them (`npm
 * start` runs them all in one):
 *
 *   api        the REST API and the web app, the push service for browsers' installations, the
 *              demo accounts (the seed's App Service)
 *   processor  processOrder on topic orders, subscription processing (the seed's WebJob)
 *   notifier   notifyOrder on orders/notifications: push notifications (the seed's function app)
 *   tracker    the live-location function app: forwardLocation on queue locations, negotiate,
 *              the demo orders and the tracking page
 *
 * They share their state by URL, so each is started pointed at the others: the bus on NATS
 * JetStream (`--bus nats://…`, the same URL in every component; `hubbub bus --url nats://…` serves
 * it over HTTP and AMQP), the store on PostgreSQL (`--store postgres://…`), the hubs on a Redis
 * backplane (`--backplane redis://…`) whose `hubbub hub` nodes take the browsers' connections, and
 * the keys from one data directory (`--data`) or `$HUBBUB_SIGNALR_KEY`, `$HUBBUB_BUS_KEY`, `$HUBBUB_STORE_KEY`.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseSystemFlags,
  runUntilSignal,
  type SystemOptions,
  startSystem,
  staticTree,
  systemFlagsHelp,
  UsageError,
} from '@hubbub/system/start';
import { deliveryApp } from './app.ts';
import type { DeliveryApi } from './orders/index.ts';

/** The components and the functions of the delivery function app each one runs. */
export const COMPONENTS = {
  api: [],
  processor: ['processOrder'],
  notifier: ['notifyOrder'],
  tracker: ['forwardLocation', 'negotiate', 'demoOrders'],
} as const satisfies Record<string, readonly string[]>;

export type Component = keyof typeof COMPONENTS;

const usage = `Usage: npx hubbub <api|processor|notifier|tracker> --bus nats://HOST:PORT --store postgres://…
         (or npm run <component> -w apps/delivery -- …) --bus nats://HOST:PORT
         --store postgres://USER@HOST:PORT/DB --backplane redis://HOST:PORT [options]

Runs one component of the delivery system in this process, pointed at the others:

  api        the REST API (/api/v1, /api/openapi.json) and the web app; the push service for
             browsers' Web Push installations; creates the demo accounts
  processor  processOrder on topic orders / subscription processing: validates, prices, stores
  notifier   notifyOrder on orders / notifications: push notifications to the customer
  tracker    forwardLocation on queue locations, negotiate and the tracking page

Every component opens the same bus (--bus nats://…, on NATS JetStream: 'hubbub bus --url nats://…'
serves it over HTTP and AMQP), the same store (--store postgres://…) and the same hub backplane
(--backplane redis://…, whose 'hubbub hub --backplane …' nodes take the browsers' connections).
Give every component the same keys: the same --data, or $HUBBUB_SIGNALR_KEY (also the hub nodes'
AccessKey), $HUBBUB_BUS_KEY and $HUBBUB_STORE_KEY. The push front and the AMQP front take free ports.

${systemFlagsHelp}`;

function isComponent(name: string | undefined): name is Component {
  return name !== undefined && Object.hasOwn(COMPONENTS, name);
}

/** What `startSystem` runs for `component`: its functions, its parts, push only where it is used. */
export function componentOptions(
  component: Component,
  flags: Pick<SystemOptions, 'busUrl' | 'storeUrl' | 'backplaneUrl' | 'pushPort'>,
  settings: Readonly<Record<string, string>>,
  onApi: (api: DeliveryApi) => void = () => {},
): Omit<SystemOptions, 'logger'> {
  // Every flag that is missing or wrong is named at once: a first run should not take three tries.
  const problems: string[] = [];
  if (!flags.busUrl?.startsWith('nats://')) {
    problems.push(
      `--bus: the components share one bus, so give each the same nats://HOST:PORT URL (got '${flags.busUrl ?? 'none'}').`,
    );
  }
  if (!/^postgres(ql)?:\/\//.test(flags.storeUrl ?? '')) {
    problems.push(
      `--store: the components share one store, so give each the same postgres://USER@HOST:PORT/DB URL (got '${flags.storeUrl ?? 'none'}').`,
    );
  }
  if (component !== 'notifier' && !/^rediss?:\/\//.test(flags.backplaneUrl ?? '')) {
    problems.push(
      `--backplane: the ${component} sends to the browsers' hubs, which live on 'hubbub hub' nodes: give the redis://HOST:PORT URL they share (got '${flags.backplaneUrl ?? 'none'}').`,
    );
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const functions: readonly string[] = COMPONENTS[component];
  const ui = existsSync(join(deliveryApp.uiDir, 'index.html'));
  return {
    // The hub nodes take the connections; this process's hub sends through the backplane.
    hubClients: false,
    amqpPort: false,
    push: component === 'api' || component === 'notifier' ? {} : false,
    pushPort: flags.pushPort ?? 0,
    settings,
    secrets: deliveryApp.secrets,
    ...(functions.length === 0
      ? {}
      : { app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues, only: functions } }),
    ...(component === 'api'
      ? {
          pages: { ...deliveryApp.webFiles, ...staticTree(deliveryApp.uiPath, deliveryApp.uiDir) },
          immutablePages: [`${deliveryApp.uiPath}assets/`],
          home: ui ? deliveryApp.uiPath : '/track',
          parts: [
            async (context) => {
              const api = (await import('./orders/index.ts')).deliveryApiPart()(context);
              onApi(api);
              return api;
            },
          ],
        }
      : component === 'tracker'
        ? { pages: deliveryApp.webFiles, home: '/track' }
        : {}),
  };
}

async function main(args: string[]): Promise<number> {
  const parsed = parseSystemFlags(args, {});
  if (parsed === undefined) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const { system: flags, positionals } = parsed;
  const [component, extra] = positionals;
  if (!isComponent(component)) {
    throw new UsageError(
      `${component === undefined ? 'no component given' : `unknown component '${component}'`}: one of ${Object.keys(COMPONENTS).join(', ')} (--help for more).`,
    );
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const settings: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === 'string') settings[k] = v;
  let api: DeliveryApi | undefined;
  const system = await startSystem({
    ...flags,
    ...componentOptions(component, flags, settings, (made) => {
      api = made;
    }),
  });
  let seeded: Promise<void> = Promise.resolve();
  let lines = '';
  if (api !== undefined) {
    const { seedDemoAccounts } = await import('./orders/demo.ts');
    const password = system.keys.secrets.DemoPassword!;
    seeded = api
      .ready()
      .then(() => seedDemoAccounts(system.store, password))
      .then(
        () => void process.stdout.write('Demo accounts are ready: sign in with the password above.\n'),
        (err: unknown) => flags.logger.error({ err }, 'the demo accounts could not be created'),
      );
    lines = `  REST API: ${system.url}/api/v1/…  (OpenAPI: ${system.url}/api/openapi.json)\n  Demo accounts' password: ${password}\n`;
  }
  const functions = system.functions === undefined ? '' : `  Functions: ${COMPONENTS[component].join(', ')}\n`;
  return runUntilSignal(
    {
      async close() {
        await seeded;
        await system.close();
      },
    },
    `Hubbub delivery ${component} is running at ${system.url}\n${lines}${functions}\nPress Ctrl-C to stop.\n`,
  );
}

// Run as a program (not when a test imports componentOptions).
if (process.argv[1] !== undefined && /components\.[jt]s$/.test(process.argv[1])) {
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
}
