/**
 * The all-in-one process behind `npm start`: one HTTP port serving the hub and the web pages.
 * @module
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHubServer, type HubServer } from '@hubbub/hub';
import type { Logger } from '@hubbub/kernel';
import { createDemoHub } from './demo.ts';
import { createStaticFiles, signalRBrowserClient } from './static.ts';

export interface SystemOptions {
  /** @default 7071 (the Azure Functions port, so clients written for it work as they are) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  logger: Logger;
}

export interface RunningSystem {
  readonly url: string;
  readonly port: number;
  readonly hubs: HubServer;
  close(): Promise<void>;
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const { logger } = options;
  const hubs = createHubServer({ logger: logger.child({ part: 'hub' }) });
  hubs.on('error', (err) => logger.error({ err }, 'hub request failed'));
  const stopDemo = createDemoHub(hubs.hub('demo'));
  const web = createStaticFiles({
    '/': new URL('./web/demo.html', import.meta.url).pathname,
    ...signalRBrowserClient(),
  });

  const server: Server = createServer((request, response) => {
    if (hubs.handleRequest(request, response)) return;
    if (web(request, response)) return;
    if (request.url === '/healthz') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    response.writeHead(404, { 'Content-Type': 'application/json' }).end('{"code":"NOT_FOUND","message":"Not found."}');
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!hubs.handleUpgrade(request, socket, head)) socket.destroy();
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;

  return {
    url,
    port,
    hubs,
    async close() {
      stopDemo();
      await hubs.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
