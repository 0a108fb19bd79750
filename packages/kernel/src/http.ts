/**
 * The HTTP boundary, where hostile input arrives: one way for every part to read a request target,
 * a path segment, a query parameter and a body under a limit, to answer with a coded JSON error,
 * and to guard a request or upgrade handler so that no throw escapes into the process.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HubbubError, type HubbubErrorOptions } from './errors.ts';

/** An error meant for the HTTP caller: a stable code, a status, and detail naming what was wrong. */
export class HttpError extends HubbubError {
  constructor(code: string, status: number, message: string, options: Omit<HubbubErrorOptions, 'status'> = {}) {
    super(code, message, { ...options, status });
  }
}

const origin = 'http://localhost';

/**
 * The request target as a URL (origin `http://localhost`, path and query as sent). Only origin-form
 * targets (`/path?query`) are served; anything else — absolute-form, `*`, a target `new URL` cannot
 * parse — is a KERNEL_BAD_URL (400). `//x` stays the path `//x`, never a host.
 */
export function requestTarget(request: IncomingMessage): URL {
  const target = request.url ?? '/';
  if (!target.startsWith('/')) throw badUrl('The request target must be a path starting with "/".');
  try {
    return new URL(`${origin}${target}`);
  } catch (cause) {
    throw badUrl('The request target is not a valid URL path.', cause);
  }
}

/** `decodeURIComponent` for one path segment; malformed percent-encoding is a KERNEL_BAD_URL (400). */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (cause) {
    throw badUrl(`The path segment '${segment.slice(0, 64)}' has malformed percent-encoding.`, cause);
  }
}

/**
 * The one value of query parameter `name`, or undefined when absent. A parameter given twice is a
 * KERNEL_REPEATED_PARAMETER (400): validating one copy and using another is how checks get bypassed.
 * With `ignoreCase`, `Hub` and `hub` are the same parameter (and so count as a repeat).
 */
export function queryParam(params: URLSearchParams, name: string, options: { ignoreCase?: boolean } = {}) {
  let value: string | undefined;
  let seen = false;
  const wanted = options.ignoreCase ? name.toLowerCase() : name;
  for (const [key, v] of params) {
    if ((options.ignoreCase ? key.toLowerCase() : key) !== wanted) continue;
    if (seen) {
      throw new HttpError('KERNEL_REPEATED_PARAMETER', 400, `The query parameter '${name}' is given more than once.`, {
        detail: { parameter: name },
      });
    }
    seen = true;
    value = v;
  }
  return value;
}

/** How much of an oversized body is read and thrown away so that the 413 reaches the client. */
const discardBytes = 4 * 1_048_576;

/**
 * Reads a request body of at most `limit` bytes. A larger one — announced by Content-Length or
 * found while reading — rejects with KERNEL_BODY_TOO_LARGE (413) without buffering it; the rest
 * is discarded (up to a few MiB, then the connection is dropped) so the error reply can be read.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new HttpError('KERNEL_BODY_TOO_LARGE', 413, `The request body exceeds ${limit} bytes.`, { detail: { limit } });
  const announced = Number(request.headers['content-length']);
  if (announced > limit) {
    discard(request);
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData).off('end', onEnd);
      chunks.length = 0;
      discard(request);
      reject(tooLarge());
    };
    const onEnd = () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    request.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

/**
 * For a route that reads no body: a request that carries one anyway gets its reply with
 * `Connection: close`, and the connection is dropped once the reply is out, so an ignored body is
 * never read to its end (Node would otherwise read and discard it all to reuse the connection).
 */
export function ignoreBody(request: IncomingMessage, response: ServerResponse): void {
  const length = request.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return;
  response.shouldKeepAlive = false;
  response.once('finish', () => {
    if (!request.complete) request.socket.destroy();
  });
}

/** Reads and drops what the client still sends, up to {@link discardBytes}; then drops the connection. */
function discard(request: IncomingMessage): void {
  let dropped = 0;
  request.on('error', () => {});
  request.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > discardBytes) request.destroy();
  });
  request.resume();
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  response.end(text);
}

type Headers = Record<string, string | number>;

/** The coded error an unexpected failure is answered with; its cause stays on the server. */
export function internalError(cause: unknown): HttpError {
  return new HttpError('KERNEL_INTERNAL_ERROR', 500, 'The server failed to handle the request.', { cause });
}

/**
 * Answers with a coded error `{code, message, detail?}` and its status (500 for an error without
 * one). A 413 or 429 closes the connection after the reply, and so does any error to a request
 * whose body was not read; a 429 carries `Retry-After`. Once the headers are out, the response can
 * only be dropped.
 */
export function sendError(response: ServerResponse, error: unknown): void {
  const coded = error instanceof HubbubError && error.status !== undefined ? error : internalError(error);
  if (response.headersSent || response.destroyed) {
    response.destroy();
    return;
  }
  // An error reply ends the exchange: a body the handler never read is not read to its end either.
  if (response.req !== undefined) ignoreBody(response.req, response);
  const headers: Headers = {};
  const status = coded.status ?? 500;
  const retryAfter = coded.detail?.retryAfterSeconds;
  if (typeof retryAfter === 'number') headers['Retry-After'] = retryAfter;
  if (status === 413 || status === 429) headers.Connection = 'close';
  sendJson(response, status, coded.toJSON(), headers);
}

/** Refuses an upgrade with a plain HTTP response and closes the socket. */
export function refuseUpgrade(socket: Duplex, error: unknown): void {
  const coded = error instanceof HubbubError && error.status !== undefined ? error : internalError(error);
  if (socket.destroyed) return;
  const body = JSON.stringify(coded.toJSON());
  const retryAfter = coded.detail?.retryAfterSeconds;
  socket.end(
    `HTTP/1.1 ${coded.status} ${statusText(coded.status ?? 500)}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `${typeof retryAfter === 'number' ? `Retry-After: ${retryAfter}\r\n` : ''}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function badUrl(message: string, cause?: unknown): HttpError {
  return new HttpError('KERNEL_BAD_URL', 400, message, cause === undefined ? {} : { cause });
}

export function statusText(status: number): string {
  return statusTexts[status] ?? 'Error';
}

const statusTexts: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
