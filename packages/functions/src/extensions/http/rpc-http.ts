/**
 * A request as the RPC http data the library turns into its `HttpRequest` (every body kind as
 * bytes), and the library's http response written back.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isHubbubError, readBody as readLimitedBody } from '@hubbub/kernel';
import type { RpcHttpCookie, RpcHttpData } from '../../core-types.ts';
import { FunctionsError } from '../../errors.ts';

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
