/**
 * The HTTP trigger: routes (`{param}`, `{param?}`, `{param:int}`, `{*rest}`), methods, auth levels
 * with function keys, the request handed to the library as RPC http data (so user code gets the
 * library's own `HttpRequest` with every body kind), and the library's response written back.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HubbubError, isHubbubError, readBody as readLimitedBody } from '@hubbub/kernel';
import type { BindingScope, BindingType, FunctionEntry } from './bindings.ts';
import type { RpcBindingInfo, RpcHttpCookie, RpcHttpData } from './core-types.ts';
import { FunctionsError } from './errors.ts';
import { authorize, type FunctionKeys } from './keys.ts';
import { type CompiledRoute, compareRoutes, compileRoute, RouteError } from './route.ts';

export interface HttpRoute {
  readonly entry: FunctionEntry;
  readonly route: CompiledRoute;
  readonly methods: ReadonlySet<string>;
  readonly authLevel: string;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);

function invalid(scope: BindingScope, message: string, property: string): FunctionsError {
  return new FunctionsError(
    'FUNCTIONS_INVALID_BINDING',
    `Function "${scope.functionName}", binding "${scope.binding}": ${message}`,
    {
      detail: { function: scope.functionName, binding: scope.binding, property },
    },
  );
}

export const httpTriggerBinding: BindingType = {
  type: 'httpTrigger',
  direction: 'trigger',
  validate(binding, scope) {
    const methods = binding.methods;
    if (
      methods !== undefined &&
      (!Array.isArray(methods) || methods.some((m) => !METHODS.has(String(m).toUpperCase())))
    ) {
      throw invalid(scope, `"methods" must list HTTP methods, got ${JSON.stringify(methods)}.`, 'methods');
    }
    const level = String(binding.authLevel ?? 'anonymous').toLowerCase();
    if (!['anonymous', 'function', 'admin'].includes(level)) {
      throw invalid(
        scope,
        `"authLevel" must be anonymous, function or admin, got "${binding.authLevel}".`,
        'authLevel',
      );
    }
    try {
      compileRoute(typeof binding.route === 'string' ? binding.route : scope.functionName);
    } catch (err) {
      if (err instanceof RouteError) throw invalid(scope, err.message, 'route');
      throw err;
    }
  },
};

/** The `http` output binding: its value is the HTTP response, written by the trigger. */
export const httpOutputBinding: BindingType = { type: 'http', direction: 'out' };

export function compileHttpRoutes(entries: readonly FunctionEntry[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const entry of entries) {
    const info: RpcBindingInfo = entry.trigger.info;
    if (String(info.type).toLowerCase() !== 'httptrigger') continue;
    const methods = Array.isArray(info.methods) ? info.methods.map((m) => String(m).toUpperCase()) : ['GET', 'POST'];
    routes.push({
      entry,
      route: compileRoute(typeof info.route === 'string' ? info.route : entry.name),
      methods: new Set(methods),
      authLevel: String(info.authLevel ?? 'anonymous'),
    });
  }
  return routes.sort((a, b) => compareRoutes(a.route, b.route));
}

export interface RouteMatch {
  readonly route: HttpRoute;
  readonly params: Record<string, string>;
}

/** Finds the route for `method` and `path` (without the prefix); 404 and 405 as FunctionsErrors. */
export function matchRoute(routes: readonly HttpRoute[], method: string, path: string): RouteMatch {
  const allowed = new Set<string>();
  for (const route of routes) {
    const params = route.route.match(path);
    if (params === undefined) continue;
    if (route.methods.has(method) || (method === 'HEAD' && route.methods.has('GET'))) return { route, params };
    for (const m of route.methods) allowed.add(m);
  }
  if (allowed.size > 0) {
    throw new FunctionsError('FUNCTIONS_METHOD_NOT_ALLOWED', `Method ${method} is not allowed on ${path}.`, {
      detail: { method, path, allow: [...allowed].sort() },
    });
  }
  throw new FunctionsError('FUNCTIONS_NOT_FOUND', `No function is routed at ${path}.`, { detail: { path } });
}

export function checkKey(keys: FunctionKeys, match: RouteMatch, req: IncomingMessage, query: URLSearchParams): void {
  const header = req.headers['x-functions-key'];
  const presented = (Array.isArray(header) ? header[0] : header) ?? query.get('code') ?? undefined;
  if (!authorize(keys, match.route.authLevel, match.route.entry.name, presented)) {
    throw new FunctionsError(
      'FUNCTIONS_UNAUTHORIZED',
      `Function "${match.route.entry.name}" needs a ${match.route.authLevel === 'admin' ? 'master' : 'function'} key (x-functions-key header or code query parameter).`,
      { detail: { function: match.route.entry.name, authLevel: match.route.authLevel } },
    );
  }
}

/** The request body under `limit` (kernel's readBody), too large being FUNCTIONS_PAYLOAD_TOO_LARGE (413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readLimitedBody(req, limit);
  } catch (err) {
    if (!isHubbubError(err, 'KERNEL_BODY_TOO_LARGE')) throw err;
    throw new FunctionsError('FUNCTIONS_PAYLOAD_TOO_LARGE', `Request body exceeds ${limit} bytes.`, {
      detail: { limit },
    });
  }
}

export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  return out;
}

/** The RPC http data the library turns into its `HttpRequest`. */
export function toRpcHttpRequest(
  req: IncomingMessage,
  url: string,
  headers: Record<string, string>,
  params: Record<string, string>,
  body: Buffer,
): RpcHttpData {
  // `query` is left out on purpose: the library then reads it from the URL and keeps repeated keys.
  return { method: req.method ?? 'GET', url, headers, params, body: body.length > 0 ? { bytes: body } : null };
}

function cookieHeader(c: RpcHttpCookie): string {
  let s = `${c.name ?? ''}=${c.value ?? ''}`;
  if (c.domain?.value) s += `; Domain=${c.domain.value}`;
  if (c.path?.value) s += `; Path=${c.path.value}`;
  const expires = c.expires?.value?.seconds;
  if (typeof expires === 'number') s += `; Expires=${new Date(expires * 1000).toUTCString()}`;
  if (typeof c.maxAge?.value === 'number') s += `; Max-Age=${Math.round(c.maxAge.value)}`;
  if (c.secure?.value) s += '; Secure';
  if (c.httpOnly?.value) s += '; HttpOnly';
  if (c.sameSite === 'lax') s += '; SameSite=Lax';
  else if (c.sameSite === 'strict') s += '; SameSite=Strict';
  else if (c.sameSite === 'explicitNone') s += '; SameSite=None';
  return s;
}

/** Writes the library's http response (or, like the Functions host's OkResult, an empty 200 when the function set none). */
export function writeRpcHttpResponse(res: ServerResponse, http: RpcHttpData | undefined, head: boolean): void {
  if (http === undefined) {
    res.writeHead(200, { 'content-length': '0' }).end();
    return;
  }
  const status = Number(http.statusCode ?? 200) || 200;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    if (name.toLowerCase() !== 'content-length' && name.toLowerCase() !== 'transfer-encoding') headers[name] = value;
  }
  const cookies = (http.cookies ?? []).map(cookieHeader);
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = http.body?.bytes
    ? Buffer.from(http.body.bytes)
    : http.body?.string
      ? Buffer.from(http.body.string)
      : null;
  const nullBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  if (!nullBody) headers['content-length'] = String(body?.length ?? 0);
  res.writeHead(status, headers);
  res.end(head || nullBody ? undefined : (body ?? undefined));
}

/** Writes a JSON error body with the error's status. */
export function writeError(res: ServerResponse, err: HubbubError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: err.toJSON() });
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  };
  const allow = err.detail?.allow;
  if (Array.isArray(allow)) headers.allow = allow.join(', ');
  res.writeHead(err.status ?? 500, headers).end(body);
}
