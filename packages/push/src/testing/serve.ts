/**
 * How the local protocol servers listen: the kernel's guarded, bounded HTTP server, or the same
 * guarded handler behind TLS when a test gives a certificate (platforms are https in production).
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHttpServer, guardRequest, HttpError, sendError } from '@hubbub/kernel';

export type Route = (request: IncomingMessage, response: ServerResponse) => boolean | Promise<unknown>;

/** A plain http server, or https with `tls`; a request `route` does not take is 404 KERNEL_NOT_FOUND. */
export function serverFor(route: Route, tls: { readonly cert: string; readonly key: string } | undefined): Server {
  if (tls === undefined) return createHttpServer({ request: route });
  const guarded = guardRequest(route);
  const server = createHttpsServer(
    { cert: tls.cert, key: tls.key, keepAliveTimeout: 5_000, headersTimeout: 10_000 },
    (request, response) => {
      if (!guarded(request, response)) {
        sendError(response, new HttpError('KERNEL_NOT_FOUND', 404, 'Nothing is served here.'));
      }
    },
  );
  return server as unknown as Server;
}
