/**
 * The REST API's boundary chores: a JSON body read under a limit and parsed by a schema (errors
 * name the field), the session token from `Authorization: Bearer` or the `hubbub_session` cookie,
 * the cookie itself, and ETags.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, requestTarget } from '@hubbub/kernel';
import type { z } from 'zod';
import { DeliveryError } from './errors.ts';
import { issuesOf } from './schemas.ts';

export const SESSION_COOKIE = 'hubbub_session';

/** The body as JSON, validated by `schema`; DELIVERY_UNSUPPORTED_MEDIA_TYPE, _INVALID_JSON or _INVALID_BODY otherwise. */
export async function readJson<S extends z.ZodType>(
  request: IncomingMessage,
  schema: S,
  limit: number,
): Promise<z.output<S>> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new DeliveryError('DELIVERY_UNSUPPORTED_MEDIA_TYPE', 'Send the body as Content-Type: application/json.', {
      detail: { contentType: type.slice(0, 100) },
    });
  }
  const bytes = await readBody(request, limit);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DeliveryError('DELIVERY_INVALID_JSON', 'The body is not valid JSON.');
  }
  return parseWith(schema, value, 'DELIVERY_INVALID_BODY');
}

/** `value` parsed by `schema`, or the error `code` naming the first bad field (`detail.issues`: all of them). */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: 'DELIVERY_INVALID_BODY' | 'DELIVERY_INVALID_QUERY',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = issuesOf(result.error).slice(0, 20);
  const first = issues[0] ?? { field: '', message: 'invalid' };
  throw new DeliveryError(code, `${first.field === '' ? 'The body' : first.field}: ${first.message}`, {
    detail: { field: first.field, issues },
  });
}

/** The session token a request carries: the bearer token first, else the session cookie. */
export function tokenOf(request: IncomingMessage): { token: string; via: 'bearer' | 'cookie' } | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return { token: match?.[1] ?? '', via: 'bearer' };
  }
  const cookie = cookieOf(request, SESSION_COOKIE);
  return cookie === undefined ? undefined : { token: cookie, via: 'cookie' };
}

function cookieOf(request: IncomingMessage, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** `Set-Cookie` for a session: HttpOnly, SameSite=Lax, Path=/, Secure when the server is reached over https. */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

/** A store etag without its quotes (the store's are quoted, as Cosmos DB's). */
export const unquote = (etag: string): string =>
  etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');

/** An ETag header value for a store etag: one pair of quotes. */
export const etagHeader = (etag: string): string => `"${unquote(etag)}"`;

/** The etag `If-Match` names (quotes and a weak prefix removed), or undefined when absent or `*`. */
export function ifMatchOf(request: IncomingMessage): string | undefined {
  const value = request.headers['if-match'];
  // `*` matches any current version: the order must exist, which every transition checks anyway.
  if (value === undefined || value.trim() === '*') return undefined;
  return unquote(value);
}

export function sendNoContent(response: ServerResponse, headers: Record<string, string> = {}): void {
  response.writeHead(204, { ...headers, 'Cache-Control': 'no-store' }).end();
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,128}$/;

/** The `Idempotency-Key` header: required, 8–128 visible ASCII characters. */
export function idempotencyKeyOf(request: IncomingMessage): string {
  const key = request.headers['idempotency-key'];
  if (key === undefined) {
    throw new DeliveryError(
      'DELIVERY_IDEMPOTENCY_KEY_REQUIRED',
      'Send an Idempotency-Key header (a UUID will do) with each new order.',
      {
        detail: { field: 'Idempotency-Key' },
      },
    );
  }
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new DeliveryError(
      'DELIVERY_INVALID_IDEMPOTENCY_KEY',
      'The Idempotency-Key must be 8-128 visible ASCII characters.',
      {
        detail: { field: 'Idempotency-Key' },
      },
    );
  }
  return key;
}

/** The same server reached through another loopback name (localhost vs 127.0.0.1) is the same site. */
export function isLoopbackOrigin(from: string, own: string): boolean {
  try {
    const a = new URL(from);
    const b = new URL(own);
    const loopback = (h: string) => h === 'localhost' || h === '127.0.0.1' || h === '[::1]';
    return a.protocol === b.protocol && a.port === b.port && loopback(a.hostname) && loopback(b.hostname);
  } catch {
    return false;
  }
}

/** The query parameters as one value each; a parameter given twice is DELIVERY_INVALID_QUERY naming it. */
export function queryOf(request: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of requestTarget(request).searchParams) {
    if (Object.hasOwn(out, name)) {
      throw new DeliveryError('DELIVERY_INVALID_QUERY', `The query parameter '${name.slice(0, 64)}' is given twice.`, {
        detail: { field: name.slice(0, 64) },
      });
    }
    out[name] = value;
  }
  return out;
}
