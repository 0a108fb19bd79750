/**
 * Serves HTTP-triggered functions: prefix, route, method and key checks, then one invocation whose
 * http output becomes the response.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type IdSource, type Logger, requestTarget } from '@hubbub/kernel';
import type { RpcHttpData } from './core-types.ts';
import { FunctionsError, isFunctionsError } from './errors.ts';
import type { Executor } from './executor.ts';
import {
  checkKey,
  flatHeaders,
  type HttpRoute,
  matchRoute,
  readBody,
  toRpcHttpRequest,
  writeRpcHttpResponse,
} from './http-trigger.ts';
import type { FunctionKeys } from './keys.ts';

export interface HttpHandlerDeps {
  readonly routePrefix: string;
  readonly routes: readonly HttpRoute[];
  readonly keys: FunctionKeys;
  readonly maxBodyBytes: number;
  readonly ids: IdSource;
  readonly logger: Logger;
  readonly executor: Executor;
  /** Registers an in-flight invocation so `close()` can wait for it. */
  readonly track: <T>(work: Promise<T>) => Promise<T>;
}

/** Handles one request; rejects with a FunctionsError the caller writes as a JSON error. */
export async function serveHttp(deps: HttpHandlerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = requestUrl(req);
  const prefix = deps.routePrefix === '' ? '' : `/${deps.routePrefix}`;
  const path = url.pathname;
  const lowerPath = path.toLowerCase();
  if (prefix !== '' && lowerPath !== prefix.toLowerCase() && !lowerPath.startsWith(`${prefix.toLowerCase()}/`)) {
    throw new FunctionsError('FUNCTIONS_NOT_FOUND', `No function is routed at ${path}.`, { detail: { path } });
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const match = matchRoute(deps.routes, method, path.slice(prefix.length));
  checkKey(deps.keys, match, req, url.searchParams);
  const body = await readBody(req, deps.maxBodyBytes);
  const headers = flatHeaders(req);
  const entry = match.route.entry;
  const invocationId = deps.ids.uuid();
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
  const response = await deps
    .track(
      deps.executor.execute(entry, {
        invocationId,
        triggerData: { http: toRpcHttpRequest(req, url.href, headers, match.params, body) },
        triggerMetadata: {},
        data: {
          invocationId,
          expressions: { headers, query, repeatedQuery, values: { ...bodyValues, ...match.params, query, headers } },
        },
        retry: false,
      }),
    )
    .catch((err: unknown) => {
      if (isFunctionsError(err)) throw err;
      deps.logger.error({ err, function: entry.name, invocationId }, 'HTTP function failed.');
      throw new FunctionsError(
        'FUNCTIONS_INVOCATION_FAILED',
        `Function "${entry.name}" failed (invocation ${invocationId}).`,
        {
          cause: err,
          detail: { function: entry.name, invocationId },
        },
      );
    });
  const httpOut = entry.outputs.find((o) => String(o.info.type).toLowerCase() === 'http');
  const data =
    httpOut === undefined
      ? undefined
      : httpOut.name === '$return'
        ? response.returnValue
        : response.outputData?.find((o) => o.name === httpOut.name)?.data;
  writeRpcHttpResponse(res, (data?.http ?? undefined) as RpcHttpData | undefined, method === 'HEAD');
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
