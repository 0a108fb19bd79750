/**
 * Request bodies with a size cap, JSON answers, and the HTTP-only errors of the bus API.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubbubError, isHubbubError, readBody as readLimitedBody } from '@hubbub/kernel';
import { BusError } from '../errors.ts';

/** Errors that exist only at the HTTP boundary (the rest are {@link BusError}s). */
export const BusHttpErrorStatus = {
  /** Missing, malformed, expired or wrongly signed SharedAccessSignature. */
  BUS_UNAUTHORIZED: 401,
  /** No bus API route has this path. */
  BUS_ROUTE_NOT_FOUND: 404,
  /** The route exists but not with this HTTP method. */
  BUS_METHOD_NOT_ALLOWED: 405,
} as const;
export type BusHttpErrorCode = keyof typeof BusHttpErrorStatus;

export class BusHttpError extends HubbubError {
  declare readonly code: BusHttpErrorCode;
  constructor(code: BusHttpErrorCode, message: string, detail?: Record<string, unknown>) {
    super(code, message, { status: BusHttpErrorStatus[code], ...(detail === undefined ? {} : { detail }) });
  }
}

/**
 * Reads the whole body with the kernel's `readBody` (bounded, never buffered past the limit); too
 * large stays BUS_MESSAGE_TOO_LARGE (413) as Service Bus clients expect.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readLimitedBody(req, limit);
  } catch (err) {
    if (!isHubbubError(err, 'KERNEL_BODY_TOO_LARGE')) throw err;
    const declared = Number(req.headers['content-length']);
    const size = Number.isFinite(declared) && declared > limit ? declared : limit + 1;
    throw new BusError('BUS_MESSAGE_TOO_LARGE', `The request body (${size} bytes or more) exceeds ${limit} bytes.`, {
      detail: { size, maxSize: limit },
    });
  }
}

/** Parses a JSON request body; `what` names it in the error (BUS_INVALID_MESSAGE or BUS_INVALID_OPTION). */
export function parseJson(bytes: Buffer, code: 'BUS_INVALID_MESSAGE' | 'BUS_INVALID_OPTION', what: string): unknown {
  if (bytes.length === 0) throw new BusError(code, `${what}: the request body is empty`, { detail: { field: what } });
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BusError(code, `${what}: the request body is not valid JSON`, { detail: { field: what }, cause: err });
  }
}

const replacer = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? Number(value) : value);

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value, replacer);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}

/** Answers an error as `{code, message, detail}` with its status (500 for anything unexpected). */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const known = isHubbubError(err) && err.status !== undefined;
  const status = known ? (err.status as number) : 500;
  const body = known
    ? err.toJSON()
    : { code: 'BUS_INTERNAL_ERROR', message: 'The bus failed to process the request.', detail: {} };
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'SharedAccessSignature';
  if (status === 413) headers.connection = 'close';
  const retryAfter = known ? err.detail?.retryAfterSeconds : undefined;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter);
  sendJson(res, status, { detail: {}, ...body }, headers);
}
