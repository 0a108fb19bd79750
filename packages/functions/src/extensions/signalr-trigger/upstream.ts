/**
 * What an upstream request of Azure SignalR Service (serverless mode) says, read and checked:
 * the `X-ASRS-*` headers, the signature (`X-ASRS-Signature: sha256=HEX,…`, the HMAC-SHA256 of the
 * connection id under an access key) and the body — the client's hub message without its framing
 * (an Invocation for `messages`, `{type:10}` / `{type:11,error}` for `connections`). Replies to
 * an invocation are framed JSON Completions. Only the JSON hub protocol is read here; a
 * MessagePack body is FUNCTIONS_UNSUPPORTED_MEDIA_TYPE (415).
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { FunctionsError } from '../../errors.ts';
import type { Category } from './bindings.ts';

/** An upstream request: lower-cased header names and the raw body. */
export interface UpstreamRequest {
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Uint8Array;
}

/** The answer to an upstream request. */
export interface UpstreamReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** An upstream request, read and verified: what the trigger's InvocationContext is made of. */
export interface UpstreamCall {
  readonly hub: string;
  readonly category: Category;
  readonly event: string;
  readonly connectionId: string;
  readonly userId: string | undefined;
  /** Messages: the client's invocation id, when it waits for a Completion. */
  readonly invocationId: string | undefined;
  readonly arguments: readonly unknown[];
  /** Disconnected: the error the connection closed with. */
  readonly error: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly claims: Readonly<Record<string, string>>;
}

const bad = (message: string, detail: Record<string, unknown>) =>
  new FunctionsError('FUNCTIONS_BAD_REQUEST', message, { detail });

function header(request: UpstreamRequest, name: string): string {
  const value = request.headers[name.toLowerCase()];
  if (value === undefined || value.trim() === '') {
    throw bad(`The upstream request lacks the ${name} header.`, { header: name });
  }
  return value.trim();
}

/** Whether an entry of `signature` is the HMAC-SHA256 of `connectionId` under one of `keys`. */
export function signatureValid(signature: string | undefined, connectionId: string, keys: readonly string[]): boolean {
  if (signature === undefined) return false;
  const expected = keys.map((key) => createHmac('sha256', Buffer.from(key, 'utf8')).update(connectionId).digest());
  for (const entry of signature.split(',')) {
    const match = /^\s*sha256=([0-9a-f]{64})\s*$/i.exec(entry);
    if (match === null) continue;
    const given = Buffer.from(match[1]!, 'hex');
    if (expected.some((e) => timingSafeEqual(e, given))) return true;
  }
  return false;
}

/** The `X-ASRS-*` routing headers (400 when one is missing; 404 for a category no trigger has). */
export function readUpstreamHeaders(request: UpstreamRequest) {
  const connectionId = header(request, 'X-ASRS-Connection-Id');
  const hub = header(request, 'X-ASRS-Hub');
  const category = header(request, 'X-ASRS-Category').toLowerCase();
  const event = header(request, 'X-ASRS-Event');
  if (category !== 'connections' && category !== 'messages') {
    throw new FunctionsError(
      'FUNCTIONS_NOT_FOUND',
      `No signalRTrigger handles the category "${category.slice(0, 64)}".`,
      { detail: { category: category.slice(0, 64) } },
    );
  }
  if (category === 'connections' && !/^(connected|disconnected)$/i.test(event)) {
    throw bad(`A connections event is connected or disconnected, not "${event.slice(0, 64)}".`, {
      header: 'X-ASRS-Event',
    });
  }
  return { connectionId, hub, category: category as Category, event };
}

export type UpstreamHeaders = ReturnType<typeof readUpstreamHeaders>;

/** Throws FUNCTIONS_UNAUTHORIZED (401) unless the request is signed with one of `keys`. */
export function checkSignature(request: UpstreamRequest, head: UpstreamHeaders, keys: readonly string[]): void {
  if (!signatureValid(request.headers['x-asrs-signature'], head.connectionId, keys)) {
    throw new FunctionsError(
      'FUNCTIONS_UNAUTHORIZED',
      'The upstream request is not signed with an access key of this app.',
      { detail: { header: 'X-ASRS-Signature' } },
    );
  }
}

/** A JSON object's property, its name matched case-insensitively (the emulator writes `Type`, `Error`). */
function property(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}

function parseBody(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (_err) {
    throw bad('The upstream request body is not JSON.', { field: 'body' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('The upstream request body must be a hub message object.', { field: 'body' });
  }
  return value as Record<string, unknown>;
}

/** `type: value, type: value` (.NET's Claim.ToString, comma-joined) as a dictionary. */
function parseClaims(text: string | undefined): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    const at = part.indexOf(': ');
    if (at > 0) claims[part.slice(0, at).trim()] = part.slice(at + 2).trim();
  }
  return claims;
}

/** Reads the body of a signed upstream request (415 when it is not JSON, 400 when it is not the message its category calls for). */
export function readUpstreamCall(request: UpstreamRequest, head: UpstreamHeaders): UpstreamCall {
  const contentType = (request.headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\b/.test(contentType)) {
    throw new FunctionsError(
      'FUNCTIONS_UNSUPPORTED_MEDIA_TYPE',
      `An upstream request must be application/json (the JSON hub protocol), got "${contentType.slice(0, 64)}".`,
      { detail: { contentType: contentType.slice(0, 64) } },
    );
  }
  const message = parseBody(request.body);
  const type = property(message, 'type');
  let invocationId: string | undefined;
  let args: readonly unknown[] = [];
  let error: string | undefined;
  if (head.category === 'messages') {
    if (type !== 1) throw bad('A messages upstream request must carry an Invocation (type 1).', { field: 'type' });
    const target = property(message, 'target');
    if (typeof target !== 'string' || target.toLowerCase() !== head.event.toLowerCase()) {
      throw bad("The invocation's target is not the request's X-ASRS-Event.", { field: 'target' });
    }
    const given = property(message, 'arguments') ?? [];
    if (!Array.isArray(given)) throw bad("The invocation's arguments must be an array.", { field: 'arguments' });
    args = given;
    const id = property(message, 'invocationId');
    if (id !== undefined && id !== null && typeof id !== 'string') {
      throw bad("The invocation's invocationId must be a string.", { field: 'invocationId' });
    }
    invocationId = id ?? undefined;
  } else {
    const expected =
      head.event.toLowerCase() === 'connected' ? 10 : head.event.toLowerCase() === 'disconnected' ? 11 : 0;
    if (expected === 0 || type !== expected) {
      throw bad('A connections upstream request is connected ({type:10}) or disconnected ({type:11}).', {
        field: 'type',
      });
    }
    const e = property(message, 'error');
    error = typeof e === 'string' && e !== '' ? e : undefined;
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = value;
  const rawQuery = request.headers['x-asrs-client-query'] ?? '';
  return {
    ...head,
    userId: request.headers['x-asrs-user-id'] || undefined,
    invocationId,
    arguments: args,
    error,
    headers,
    query: Object.fromEntries(new URLSearchParams(rawQuery.replace(/^\?/, ''))),
    claims: parseClaims(request.headers['x-asrs-user-claims']),
  };
}

const json = { 'content-type': 'application/json' } as const;
const empty = new Uint8Array(0);

/** 200 with nothing to send back (a void completion, or an event handled). */
export const handled: UpstreamReply = { status: 200, headers: {}, body: empty };

/** A framed JSON Completion (`{type:3}` + 0x1E) for the invocation `invocationId`. */
export function completion(invocationId: string, outcome: { result?: unknown; error?: string }): UpstreamReply {
  const message =
    outcome.error !== undefined
      ? { type: 3, invocationId, error: outcome.error }
      : outcome.result === undefined
        ? { type: 3, invocationId }
        : { type: 3, invocationId, result: outcome.result };
  return { status: 200, headers: json, body: Buffer.from(`${JSON.stringify(message)}\u001e`) };
}

/** An error reply: the status of the error and its JSON body. */
export function errorReply(err: FunctionsError): UpstreamReply {
  return {
    status: err.status ?? 500,
    headers: json,
    body: Buffer.from(JSON.stringify(err.toJSON())),
  };
}
