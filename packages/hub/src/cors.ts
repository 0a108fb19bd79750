/**
 * CORS for pages on another origin. The SignalR client always sends credentials, so a wildcard
 * origin never works: the allowed origin is reflected, with `Access-Control-Allow-Credentials`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CorsOptions {
  /** Origins allowed to connect: `true` for any (reflected), a list, or a predicate. @default true */
  origins?: true | readonly string[] | ((origin: string) => boolean);
  /** Methods a preflight allows. @default ['GET', 'POST', 'DELETE', 'OPTIONS'] (what the SignalR client uses) */
  methods?: readonly string[];
}

const allowHeaders = 'authorization, content-type, x-requested-with, x-signalr-user-agent';

export type CorsHandler = (request: IncomingMessage, response: ServerResponse) => 'preflight' | 'continue' | 'denied';

export function createCors(options: CorsOptions = {}): CorsHandler {
  const origins = options.origins ?? true;
  const methods = (options.methods ?? ['GET', 'POST', 'DELETE', 'OPTIONS']).join(', ');
  const allowed =
    origins === true
      ? () => true
      : typeof origins === 'function'
        ? origins
        : (origin: string) => origins.includes(origin);
  return (request, response) => {
    const origin = request.headers.origin;
    if (origin === undefined)
      return request.method === 'OPTIONS' ? preflight(response, methods, undefined) : 'continue';
    if (!allowed(origin)) {
      if (request.method === 'OPTIONS') {
        response.writeHead(403).end();
        return 'denied';
      }
      return 'continue';
    }
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Access-Control-Allow-Credentials', 'true');
    response.setHeader('Vary', 'Origin');
    return request.method === 'OPTIONS'
      ? preflight(response, methods, request.headers['access-control-request-headers'])
      : 'continue';
  };
}

function preflight(response: ServerResponse, methods: string, requested: string | undefined): 'preflight' {
  response.writeHead(204, {
    'Access-Control-Allow-Methods': methods,
    'Access-Control-Allow-Headers': requested ?? allowHeaders,
    'Access-Control-Max-Age': '86400',
  });
  response.end();
  return 'preflight';
}
