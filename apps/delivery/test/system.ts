/**
 * A whole delivery system for tests, composed the way the all-in-one server composes it: hub +
 * bus (memory://, with its HTTP API under /bus) + functions host (/api) + the app's web files +
 * the official SignalR browser client, on one port of 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { type Bus, createBus, createBusHttpHandler } from '@hubbub/bus';
import { createFunctionsHost, type FunctionsHost, fromHubServer } from '@hubbub/functions';
import { createHubServer, type HubServer } from '@hubbub/hub';
import { deliveryApp } from '../src/index.ts';

export interface TestSystem {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly bus: Bus;
  readonly hub: HubServer;
  readonly functions: FunctionsHost;
  [Symbol.asyncDispose](): Promise<void>;
}

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
};

function staticFiles(files: Record<string, string>) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (file === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': types[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function signalRBrowserClient(): Record<string, string> {
  const main = createRequire(import.meta.url).resolve('@microsoft/signalr');
  const dist = main.slice(0, main.lastIndexOf('/dist/') + '/dist/'.length);
  return { '/vendor/signalr.min.js': `${dist}browser/signalr.min.js` };
}

export async function startTestSystem(options: { appDir?: string; queues?: string[] } = {}): Promise<TestSystem> {
  const hub = createHubServer({ auth: { keys: [randomBytes(32).toString('base64url')] } });
  const bus = await createBus({
    url: 'memory://',
    entities: { queues: (options.queues ?? [...deliveryApp.queues]).map((name) => ({ name })) },
  });
  const busApi = createBusHttpHandler(bus, { basePath: '/bus' });
  const web = staticFiles({ ...deliveryApp.webFiles, ...signalRBrowserClient() });
  let functions: FunctionsHost | undefined;

  const server = createServer((req, res) => {
    if (hub.handleRequest(req, res)) return;
    busApi(req, res, () => {
      if (functions !== undefined && (req.url ?? '').startsWith('/api/')) {
        functions.handleHttp(req, res);
        return;
      }
      if (web(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND"}');
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (!hub.handleUpgrade(req, socket, head)) socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  functions = createFunctionsHost({
    appDir: options.appDir ?? deliveryApp.functionsDir,
    bus,
    hub: fromHubServer(hub, { url }),
  });
  await functions.start();
  const host = functions;

  return {
    url,
    bus,
    hub,
    functions: host,
    async [Symbol.asyncDispose]() {
      await host.close();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await bus.close();
    },
  };
}
