/** A minimal signed client for the store's HTTP API, for tests. */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { closeHttpServer, createHttpServer } from '@hubbub/kernel';
import { parseRoute, resourceOf } from '../src/http/route.ts';
import { createStoreHttpHandler, type Store, type StoreHttpOptions, signRequest } from '../src/index.ts';

export const KEY = randomBytes(64).toString('base64');
export const READ_KEY = randomBytes(64).toString('base64');

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answered
  body: any;
}

export async function serve(store: Store, options: Partial<StoreHttpOptions> = {}) {
  const api = createStoreHttpHandler(store, { key: KEY, readOnlyKey: READ_KEY, basePath: '/store', ...options });
  const errors: Error[] = [];
  const server = createHttpServer({
    request: (req, res) => api.handleRequest(req, res),
    onError: (e) => errors.push(e),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  async function call(
    method: string,
    path: string,
    init: {
      body?: unknown;
      raw?: string | Buffer;
      headers?: Record<string, string>;
      key?: string | null;
      date?: string;
    } = {},
  ): Promise<Reply> {
    const date = init.date ?? new Date().toUTCString();
    const headers: Record<string, string> = { 'x-ms-date': date, ...init.headers };
    let route: ReturnType<typeof parseRoute>;
    try {
      route = parseRoute(path.split('?')[0]!);
    } catch {
      route = undefined; // a malformed path the server must refuse
    }
    if (init.key !== null && route !== undefined && headers.authorization === undefined) {
      headers.authorization = signRequest(init.key ?? KEY, { verb: method, ...resourceOf(route), date });
    }
    let body: string | Buffer | undefined = init.raw;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${base}/store${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  }
  return { call, errors, base, close: () => closeHttpServer(server) };
}
