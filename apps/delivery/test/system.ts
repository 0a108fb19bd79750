/**
 * The delivery system for tests: the same all-in-one composition `npm start` runs
 * ({@link startSystem}), on a free port of 127.0.0.1, with a memory bus.
 */

import type { Bus } from '@hubbub/bus';
import { startSystem } from '@hubbub/cli';
import { silentLogger } from '@hubbub/kernel';
import { deliveryApp } from '../src/index.ts';

export interface TestSystem {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly bus: Bus;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startTestSystem(options: { appDir?: string; queues?: string[] } = {}): Promise<TestSystem> {
  const system = await startSystem({
    port: 0,
    app: { dir: options.appDir ?? deliveryApp.functionsDir, queues: options.queues ?? deliveryApp.queues },
    pages: deliveryApp.webFiles,
    home: '/track',
    logger: silentLogger,
  });
  return { url: system.url, bus: system.bus, [Symbol.asyncDispose]: () => system.close() };
}
