/**
 * The store's HTTP API, the essentials of the Cosmos DB REST API, as a `node:http` request handler
 * (`handleRequest(req, res)` says whether it took the request) so that the store can run as its
 * own process or be mounted beside other parts. Every request is signed with the store key
 * (`auth.ts`); bodies are read under a limit; every error is a coded JSON reply. See the README's
 * "HTTP API" section for routes and headers.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  guardRequest,
  HttpError,
  InvalidOptionError,
  ignoreBody,
  readBody,
  requestTarget,
  systemClock,
} from '@hubbub/kernel';
import type { Store } from '../client/store.ts';
import { StoreError } from '../errors.ts';
import { DEFAULT_MAX_ITEM_BYTES } from '../item.ts';
import { type AuthKeys, verifyRequest } from './auth.ts';
import { type Ctx, serve } from './operations.ts';
import { methods, parseRoute, resourceOf } from './route.ts';

export { type SignInput, signRequest } from './auth.ts';

export interface StoreHttpOptions {
  /** The master key (base64, at least 32 bytes decoded) requests are signed with. Required. */
  key: string;
  /** A second key whose signatures may only read (GET). @default none */
  readOnlyKey?: string;
  /** Path prefix the API lives under; other paths are left to the next handler. @default '' */
  basePath?: string;
  /** Largest request body, in bytes. @default 2 MiB + 64 KiB */
  maxRequestBytes?: number;
  /** How far `x-ms-date` may be from the clock. @default 900_000 (15 minutes, as Cosmos DB) */
  maxClockSkewMs?: number;
  /** Reads the time `x-ms-date` is checked against. @default systemClock */
  clock?: Clock;
  /** Called with failures that are not the client's fault (500s). */
  onError?: (error: Error, request: IncomingMessage) => void;
}

export interface StoreHttpHandler {
  /** Serves a request under the base path; false for any other path. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean;
}

function keyBytes(option: string, key: unknown): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.alloc(0);
  if (bytes.length < 32) throw new InvalidOptionError(option, 'must be a base64 key of at least 32 bytes');
  return bytes;
}

export function createStoreHttpHandler(store: Store, options: StoreHttpOptions): StoreHttpHandler {
  const keys: AuthKeys = {
    key: keyBytes('key', options?.key),
    ...(options.readOnlyKey === undefined ? {} : { readOnlyKey: keyBytes('readOnlyKey', options.readOnlyKey) }),
  };
  const base = options.basePath ?? '';
  if (typeof base !== 'string' || (base !== '' && (!base.startsWith('/') || base.endsWith('/')))) {
    throw new InvalidOptionError('basePath', "must be '' or start with '/' and not end with one");
  }
  const maxBytes = options.maxRequestBytes ?? DEFAULT_MAX_ITEM_BYTES + 65_536;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new InvalidOptionError('maxRequestBytes', 'must be a positive integer');
  const clock = options.clock ?? systemClock;
  const skew = options.maxClockSkewMs ?? 900_000;

  const handle = guardRequest(
    async (request, response) => {
      const url = requestTarget(request);
      const route = parseRoute(url.pathname.slice(base.length));
      if (route === undefined) {
        throw new HttpError('KERNEL_NOT_FOUND', 404, `Nothing is served at ${url.pathname.slice(0, 256)}.`, {
          detail: { path: url.pathname.slice(0, 256) },
        });
      }
      const verb = request.method ?? 'GET';
      const auth = verifyRequest(
        keys,
        header(request, 'authorization'),
        { verb, ...resourceOf(route), date: header(request, 'x-ms-date') ?? header(request, 'date') },
        clock.now(),
        skew,
      );
      if (!auth.ok) throw new StoreError('STORE_UNAUTHORIZED', `The request is not authorized: ${auth.reason}.`);
      if (!methods[route.kind].includes(verb)) {
        response.setHeader('Allow', methods[route.kind].join(', '));
        throw new StoreError('STORE_METHOD_NOT_ALLOWED', `${verb} is not allowed here.`, {
          detail: { allow: methods[route.kind] },
        });
      }
      if (auth.readOnly && verb !== 'GET') throw new StoreError('STORE_FORBIDDEN', 'This key may only read.');
      const hasBody = verb === 'POST' || verb === 'PUT' || verb === 'PATCH';
      if (!hasBody) ignoreBody(request, response);
      const body = hasBody ? await readBody(request, maxBytes) : undefined;
      const ctx: Ctx = { store, route, verb, request, response, body, url };
      await serve(ctx);
    },
    { ...(options.onError === undefined ? {} : { onError: options.onError }) },
  );

  return {
    handleRequest(request, response) {
      const path = (request.url ?? '').split('?')[0]!;
      if (!(path === `${base}/dbs` || path.startsWith(`${base}/dbs/`))) return false;
      return handle(request, response);
    },
  };
}

export function header(request: IncomingMessage, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
