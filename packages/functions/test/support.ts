import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createFunctionsHost, type FunctionsHost, type FunctionsHostOptions } from '../src/index.ts';

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface Running {
  host: FunctionsHost;
  server: Server;
  base: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a host for a fixture app and serves it on 127.0.0.1:0. */
export async function serve(options: Omit<FunctionsHostOptions, 'appDir'> & { app: string }): Promise<Running> {
  const { app, ...rest } = options;
  const host = createFunctionsHost({ ...rest, appDir: fixture(app) });
  await host.start();
  const server = createServer((req, res) => host.handleHttp(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    host,
    server,
    base: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      server.close();
      await host.close();
    },
  };
}
