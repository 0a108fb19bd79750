/**
 * The HTTP trigger: serves the app's HTTP functions — prefix, route, method and key checks, then
 * one invocation whose http output becomes the response.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestTarget } from '@hubbub/kernel';
import { streamsHttp } from '../../core-module.ts';
import type { RpcHttpData, RpcTypedData } from '../../core-types.ts';
import { FunctionsError, invocationError } from '../../errors.ts';
import type { ExtensionContext, Invoke, Trigger } from '../../extension.ts';
import { httpOutputBinding, httpTriggerBinding } from './bindings.ts';
import { checkKey, compileHttpRoutes, type HttpRoute, matchRoute } from './routes.ts';
import { flatHeaders, readBody, toRpcHttpRequest, writeRpcHttpResponse } from './rpc-http.ts';
import { forward, libraryProxy } from './stream.ts';

/** host.json `extensions.http` and the host's body limit. */
export interface HttpConfig {
  /** extensions.http.routePrefix. @default 'api' */
  readonly routePrefix: string;
  /** Largest accepted request body in bytes. */
  readonly maxRequestBodyBytes: number;
  /** Whether function and admin keys are checked. */
  readonly enforceKeys: boolean;
}

export function httpTrigger(context: ExtensionContext, config: HttpConfig): Trigger {
  return {
    binding: httpTriggerBinding,
    async start(functions, invoke) {
      const routes = compileHttpRoutes(functions);
      // Streaming apps: the library's proxy starts now, so a failure to start it fails the start.
      for (const entry of functions) {
        if (streamsHttp(entry.registered.programmingModel)) await libraryProxy(entry.registered.programmingModel);
      }
      const described = new Map(
        routes.map((r) => [
          r.entry.name,
          {
            route: [config.routePrefix, r.route.template.replace(/^\/+/, '')].filter(Boolean).join('/'),
            methods: [...r.methods],
            authLevel: r.authLevel,
          },
        ]),
      );
      return {
        async close() {},
        addresses: (req) => addressed(req, config.routePrefix),
        handleRequest: (req, res) => serveHttp(context, config, routes, invoke, req, res),
        describe: (name) => described.get(name),
      };
    },
  };
}

/** Handles one request; rejects with a FunctionsError the host writes as a JSON error. */
async function serveHttp(
  context: ExtensionContext,
  config: HttpConfig,
  routes: readonly HttpRoute[],
  invoke: Invoke,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = requestUrl(req);
  const prefix = config.routePrefix === '' ? '' : `/${config.routePrefix}`;
  const path = url.pathname;
  if (!underPrefix(path, config.routePrefix)) {
    throw new FunctionsError('FUNCTIONS_NOT_FOUND', `No function is routed at ${path}.`, { detail: { path } });
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const match = matchRoute(routes, method, path.slice(prefix.length));
  if (config.enforceKeys) checkKey(context.keys, match, req, url.searchParams);
  const entry = match.route.entry;
  if (streamsHttp(entry.registered.programmingModel))
    return serveStreamed(context, config, match, invoke, req, res, url);
  const body = await readBody(req, config.maxRequestBodyBytes);
  const headers = flatHeaders(req);
  const invocationId = context.ids.uuid();
  const query = Object.fromEntries(url.searchParams);
  const repeatedQuery = repeatedNames(url.searchParams);
  let bodyValues: Record<string, unknown> = {};
  if (body.length > 0 && /json/i.test(headers['content-type'] ?? '')) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        bodyValues = parsed as Record<string, unknown>;
    } catch {
      /* not JSON after all: no body values for binding expressions */
    }
  }
  const response = await invoke(entry, {
    invocationId,
    triggerData: { http: toRpcHttpRequest(req, url.href, headers, match.params, body) },
    triggerMetadata: {},
    data: {
      invocationId,
      expressions: { headers, query, repeatedQuery, values: { ...bodyValues, ...match.params, query, headers } },
    },
    retry: false,
  }).catch((err: unknown) => {
    throw failed(context, err, entry.name, invocationId);
  });
  const httpOut = entry.outputs.find((o) => o.kind === httpOutputBinding);
  const data =
    httpOut === undefined
      ? undefined
      : httpOut.name === '$return'
        ? response.returnValue
        : response.outputData?.find((o) => o.name === httpOut.name)?.data;
  writeRpcHttpResponse(res, (data?.http ?? undefined) as RpcHttpData | undefined, method === 'HEAD');
}

/** The error an HTTP invocation failed with; a server-side one is reported first. */
function failed(context: ExtensionContext, err: unknown, name: string, invocationId: string): FunctionsError {
  const error = invocationError(err, name, invocationId);
  if ((error.status ?? 500) >= 500) {
    context.events.emit('invocation:failed', error, { function: name, trigger: 'httpTrigger', invocationId });
    context.logger.error({ err, function: name, invocationId }, 'HTTP function failed.');
  }
  return error;
}

/**
 * One invocation of a streaming app: the request goes to the library's proxy as it arrives and the
 * library's answer comes back as it is written (see stream.ts).
 */
async function serveStreamed(
  context: ExtensionContext,
  config: HttpConfig,
  match: ReturnType<typeof matchRoute>,
  invoke: Invoke,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const entry = match.route.entry;
  const invocationId = context.ids.uuid();
  const proxy = await libraryProxy(entry.registered.programmingModel);
  const exchange = await forward(proxy, invocationId, req, res, url, config.maxRequestBodyBytes);
  const headers = flatHeaders(req);
  const triggerMetadata: Record<string, RpcTypedData> = { Headers: { json: JSON.stringify(headers) } };
  for (const [name, value] of Object.entries(match.params)) triggerMetadata[name] = { string: value };
  const query = Object.fromEntries(url.searchParams);
  let failure: unknown;
  try {
    await invoke(entry, {
      invocationId,
      triggerData: { http: { method: req.method ?? 'GET', url: url.href, headers, params: match.params, body: null } },
      triggerMetadata,
      data: {
        invocationId,
        expressions: { headers, query, values: { ...match.params, query, headers } },
      },
      retry: false,
    });
  } catch (err) {
    failure = err;
  }
  exchange.finish(failure);
  // A body cut off at the limit fails the function that read it: the caller is told why (413).
  if (failure !== undefined) throw exchange.refused ?? failed(context, failure, entry.name, invocationId);
  await exchange.done;
}

/** Whether a request is for the functions: under the route prefix, or with a malformed target (answered 400). */
function addressed(req: IncomingMessage, routePrefix: string): boolean {
  let path: string;
  try {
    path = requestTarget(req).pathname;
  } catch {
    return true;
  }
  return underPrefix(path, routePrefix);
}

/** Whether `path` is under the route prefix (case-insensitive, as the Functions host routes). */
function underPrefix(path: string, routePrefix: string): boolean {
  if (routePrefix === '') return true;
  const lower = path.toLowerCase();
  const prefix = `/${routePrefix.toLowerCase()}`;
  return lower === prefix || lower.startsWith(`${prefix}/`);
}

/**
 * The absolute request URL; a malformed target is a KERNEL_BAD_URL (400), a malformed Host header
 * falls back to the loopback address.
 */
function requestUrl(req: IncomingMessage): URL {
  const target = requestTarget(req);
  const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  try {
    return new URL(`${target.pathname}${target.search}`, `${proto}://${req.headers.host ?? '127.0.0.1'}`);
  } catch {
    return target;
  }
}

/** Lower-case names of the query parameters given more than once. */
function repeatedNames(params: URLSearchParams): ReadonlySet<string> | undefined {
  const seen = new Set<string>();
  let repeated: Set<string> | undefined;
  for (const name of params.keys()) {
    const key = name.toLowerCase();
    if (seen.has(key)) {
      repeated ??= new Set();
      repeated.add(key);
    }
    seen.add(key);
  }
  return repeated;
}
