import { fileURLToPath } from 'node:url';
import type { FunctionsHostOptions } from '../src/index.ts';
import { type ServedApp, serveApp } from '../src/testing/index.ts';

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Starts a host for a fixture app and serves it on 127.0.0.1:0. */
export function serve(options: Omit<FunctionsHostOptions, 'appDir'> & { app: string }): Promise<ServedApp> {
  const { app, ...rest } = options;
  return serveApp({ ...rest, appDir: fixture(app) });
}
