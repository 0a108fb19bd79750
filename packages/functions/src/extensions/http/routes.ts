/**
 * The HTTP routes of an app: compiled once at start, most specific first; a request is matched to
 * one (404 and 405 otherwise) and its key checked against the function's auth level.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { FunctionEntry } from '../../bindings.ts';
import type { RpcBindingInfo } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';
import { authorize, type FunctionKeys } from '../../keys.ts';
import { type CompiledRoute, compareRoutes, compileRoute } from './route.ts';

export interface HttpRoute {
  readonly entry: FunctionEntry;
  readonly route: CompiledRoute;
  readonly methods: ReadonlySet<string>;
  readonly authLevel: string;
}

export function compileHttpRoutes(entries: readonly FunctionEntry[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const entry of entries) {
    const info: RpcBindingInfo = entry.trigger.info;
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
