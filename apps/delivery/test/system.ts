/**
 * The delivery system for tests: the same all-in-one composition `npm start` runs
 * ({@link startSystem}), on a free port of 127.0.0.1, with a memory bus.
 */

import { type Bus, createSasToken, type SasKey } from '@hubbub/bus';
import { silentLogger } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import { createTrackingToken, deliveryApiPart, deliveryApp, TRACKING_KEY_SETTING, trackingLink } from '../src/index.ts';

export interface TestSystem {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly bus: Bus;
  /** The bus API's key, and as the CLI's `--key name=key`. */
  readonly busKey: SasKey;
  readonly busKeyArg: string;
  /** `Authorization` for the bus API. */
  busAuthorization(): string;
  /** `orderid=<id>&token=<tracking token>` for the negotiate function (valid 1 h unless `ttlSeconds`). */
  trackingQuery(orderid: string, ttlSeconds?: number): string;
  /** The customer's tracking page link for `orderid` (`/track?order=…&token=…`). */
  trackingLink(orderid: string): string;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startTestSystem(
  options: { appDir?: string; queues?: string[]; demoOrders?: readonly string[] } = {},
): Promise<TestSystem> {
  const system = await startSystem({
    port: 0,
    app: { dir: options.appDir ?? deliveryApp.functionsDir, queues: options.queues ?? deliveryApp.queues },
    pages: deliveryApp.webFiles,
    secrets: deliveryApp.secrets,
    parts: [deliveryApiPart()],
    ...(options.demoOrders === undefined ? {} : { settings: { DemoOrders: options.demoOrders.join(',') } }),
    home: '/track',
    logger: silentLogger,
  });
  const busKey = system.keys.bus;
  const trackingKey = system.keys.secrets[TRACKING_KEY_SETTING]!;
  return {
    url: system.url,
    bus: system.bus,
    busKey,
    busKeyArg: `${busKey.name}=${busKey.key}`,
    busAuthorization: () => createSasToken(`${system.url}/bus`, busKey, Date.now() / 1000 + 600),
    trackingQuery: (orderid, ttlSeconds = 3_600) =>
      `orderid=${encodeURIComponent(orderid)}&token=${encodeURIComponent(createTrackingToken(orderid, trackingKey, { ttlSeconds }))}`,
    trackingLink: (orderid) => trackingLink(system.url, orderid, trackingKey),
    [Symbol.asyncDispose]: () => system.close(),
  };
}
