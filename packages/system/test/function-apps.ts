/** The fixture apps of packages/functions/test/fixtures, served through the bridges on 127.0.0.1:0. */
import { fileURLToPath } from 'node:url';
import type { FunctionsHostOptions } from '@hubbub/functions';
import { type ServedApp, serveApp } from '@hubbub/functions/testing';

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../functions/test/fixtures/${name}`, import.meta.url));

export function serve(options: Omit<FunctionsHostOptions, 'appDir'> & { app: string }): Promise<ServedApp> {
  const { app, ...rest } = options;
  return serveApp({ ...rest, appDir: fixture(app) });
}
