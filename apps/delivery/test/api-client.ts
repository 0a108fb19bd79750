/**
 * The delivery system with its REST API for tests — the composition `npm start` runs, on
 * 127.0.0.1:0 with memory stores and bus (or the store URL given) — and a small client for it.
 */
import type { Bus } from '@hubbub/bus';
import type { Cache } from '@hubbub/cache';
import { type Clock, silentLogger, waitFor } from '@hubbub/kernel';
import type { PushService } from '@hubbub/push';
import type { Store } from '@hubbub/store';
import { startSystem } from '@hubbub/system';
import { deliveryApp } from '../src/index.ts';
import { type DeliveryApi, deliveryApiPart, seedDemoAccounts } from '../src/orders/index.ts';

export const DEMO_PASSWORD = 'demo-password-for-tests';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test replies are read field by field
  readonly body: any;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  raw?: string;
  headers?: Record<string, string>;
}

/** A client of the REST API of a running system at `url`. */
export interface ApiClient {
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  /** Signs up a customer with this email; returns its token and account id. */
  signUp(email: string): Promise<{ token: string; id: string }>;
  /** Signs in a demo account (seeded with {@link DEMO_PASSWORD}). */
  signIn(email: string): Promise<string>;
  /** Places an order as `token` and waits until the processor has written it. */
  order(token: string, key: string, body?: unknown): Promise<Reply>;
  /** The order once the processor has written it. */
  processed(token: string, id: string): Promise<Reply>;
}

export interface ApiSystem extends ApiClient {
  readonly url: string;
  readonly bus: Bus;
  readonly store: Store;
  readonly cache: Cache;
  /** The system's push service (browser installations the API registers). */
  readonly push: PushService | undefined;
  [Symbol.asyncDispose](): Promise<void>;
}

export const pizza = (quantity = 2) => ({
  restaurantId: 'pike-street-pizza',
  items: [{ itemId: 'margherita', quantity }],
  deliveryAddress: { lat: 47.62, lng: -122.315, label: '1 Test St' },
});

export async function startApiSystem(
  options: { clock?: Clock; storeUrl?: string; sessionTtlSeconds?: number; demo?: boolean } = {},
): Promise<ApiSystem> {
  let api: DeliveryApi | undefined;
  const system = await startSystem({
    port: 0,
    app: { dir: deliveryApp.functionsDir, queues: deliveryApp.queues },
    pages: deliveryApp.webFiles,
    secrets: deliveryApp.secrets,
    parts: [
      (context) =>
        (api = deliveryApiPart({
          ...(options.clock === undefined ? {} : { clock: options.clock }),
          ...(options.sessionTtlSeconds === undefined ? {} : { sessionTtlSeconds: options.sessionTtlSeconds }),
        })(context)),
    ],
    ...(options.storeUrl === undefined ? {} : { storeUrl: options.storeUrl }),
    logger: silentLogger,
  });
  await api!.ready();
  if (options.demo !== false) await seedDemoAccounts(system.store, DEMO_PASSWORD);

  return {
    url: system.url,
    bus: system.bus,
    store: system.store,
    cache: system.cache,
    push: system.push,
    ...createApiClient(system.url),
    [Symbol.asyncDispose]: () => system.close(),
  };
}

/** The REST API client for a system at `url`; `signIn` uses the demo accounts' {@link DEMO_PASSWORD}. */
export function createApiClient(url: string): ApiClient {
  const call = async (method: string, path: string, o: CallOptions = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined = o.raw;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
  };
  const processed = (token: string, id: string) =>
    waitFor(
      async () => {
        const reply = await call('GET', `/api/v1/orders/${id}`, { token });
        return reply.status === 200 ? reply : undefined;
      },
      { timeoutMs: 20_000, what: `order ${id} to be written by the processor` },
    );
  return {
    call,
    async signUp(email) {
      const reply = await call('POST', '/api/v1/account', {
        body: { email, password: 'correct horse battery', name: email },
      });
      if (reply.status !== 201) throw new Error(`sign-up failed: ${reply.status} ${JSON.stringify(reply.body)}`);
      return { token: reply.body.token, id: reply.body.account.id };
    },
    async signIn(email) {
      const reply = await call('POST', '/api/v1/session', { body: { email, password: DEMO_PASSWORD } });
      if (reply.status !== 201) throw new Error(`sign-in failed: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body.token;
    },
    async order(token, key, body = pizza()) {
      const created = await call('POST', '/api/v1/orders', { token, body, headers: { 'idempotency-key': key } });
      if (created.status !== 202) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
      return processed(token, created.body.id);
    },
    processed,
  };
}
