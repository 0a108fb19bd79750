/**
 * A functions host for an app directory, started and served on 127.0.0.1:0 — what the tests of
 * this package and of the composition root share.
 * @module
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FunctionsError } from '../errors.ts';
import { createFunctionsHost, type FunctionsHost } from '../host.ts';
import type { FunctionsHostOptions } from '../host-options.ts';
import { writeError } from '../write-error.ts';

export interface ServedApp {
  host: FunctionsHost;
  server: Server;
  /** `http://127.0.0.1:<port>` */
  base: string;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function serveApp(options: FunctionsHostOptions): Promise<ServedApp> {
  const host = createFunctionsHost(options);
  await host.start();
  const server = createServer((req, res) => {
    if (host.handleRequest(req, res)) return;
    const path = (req.url ?? '/').split('?')[0]!.slice(0, 256);
    writeError(
      res,
      new FunctionsError('FUNCTIONS_NOT_FOUND', `No function is routed at ${path}.`, { detail: { path } }),
    );
  });
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
