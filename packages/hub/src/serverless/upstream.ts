/**
 * Upstream webhooks, as Azure SignalR calls them in serverless mode: `connected` and `disconnected`
 * events (category `connections`) and client invocations (category `messages`, event = target) are
 * POSTed to the first rule whose patterns match, with the `X-ASRS-*` headers and an
 * `X-ASRS-Signature` (HMAC-SHA256 of the connection id, one entry per access key). An invocation's
 * reply body is framed hub-protocol bytes, forwarded to the caller as is.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type InvocationMessage, readVarInt } from '@hubbub/hub-protocol';
import { type BackoffOptions, backoffDelay, type Clock, InvalidOptionError } from '@hubbub/kernel';
import type { HubConnection } from '../connection.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import { type AccessKey, keyBytes } from './tokens.ts';

/** One upstream setting; patterns are `*`, a name, or a comma-separated list of names. */
export interface UpstreamRule {
  /** URL with optional `{hub}`, `{category}` and `{event}` placeholders. */
  urlTemplate: string;
  /** @default '*' */
  hubPattern?: string;
  /** `connections`, `messages` or `*`. @default '*' */
  categoryPattern?: string;
  /** `connected`, `disconnected`, a target name, or `*`. @default '*' */
  eventPattern?: string;
}

export interface UpstreamOptions {
  rules: readonly UpstreamRule[];
  /** Access keys; each signs one entry of `X-ASRS-Signature`. */
  keys: readonly AccessKey[];
  /** Time an upstream has to answer, in ms. @default 30_000 */
  timeoutMs?: number;
  /** Retries of a failed connection event (network error, timeout, 5xx, 429). @default 3 */
  retries?: number;
  /** Delays between retries. @default { initialMs: 200, maxMs: 5_000 } */
  backoff?: BackoffOptions;
  /** Largest invocation reply accepted, in bytes. @default 16_777_216 */
  maxResponseBytes?: number;
  clock: Clock;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

export type Category = 'connections' | 'messages';

export type EventOutcome = { ok: true } | { ok: false; error: HubError; rejected: boolean };

interface CompiledRule {
  template: string;
  hub: (name: string) => boolean;
  category: (name: string) => boolean;
  event: (name: string) => boolean;
}

/** `sha256=HEX,sha256=HEX`: HMAC-SHA256 of the connection id under each key, upper-case hex as .NET writes it. */
export function upstreamSignature(connectionId: string, keys: readonly AccessKey[]): string {
  return keys
    .map((key) => `sha256=${createHmac('sha256', keyBytes(key)).update(connectionId).digest('hex').toUpperCase()}`)
    .join(',');
}

/** Whether any entry of an `X-ASRS-Signature` header was made with one of `keys` (case-insensitive hex). */
export function verifyUpstreamSignature(header: string, connectionId: string, keys: readonly AccessKey[]): boolean {
  const expected = keys.map((key) => createHmac('sha256', keyBytes(key)).update(connectionId).digest());
  for (const entry of header.split(',')) {
    const match = /^\s*sha256=([0-9a-f]{64})\s*$/i.exec(entry);
    if (match === null) continue;
    const given = Buffer.from(match[1]!, 'hex');
    if (expected.some((e) => timingSafeEqual(e, given))) return true;
  }
  return false;
}

function pattern(value: string | undefined, field: string): (name: string) => boolean {
  const text = (value ?? '*').trim();
  if (text === '') throw new InvalidOptionError(field, 'must not be empty');
  if (text === '*') return () => true;
  const names = new Set(text.split(',').map((n) => n.trim().toLowerCase()));
  return (name) => names.has(name.toLowerCase());
}

export class UpstreamClient {
  readonly #rules: readonly CompiledRule[];
  readonly #keys: readonly AccessKey[];
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoff: BackoffOptions;
  readonly #maxResponseBytes: number;
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #inFlight = new Set<AbortController>();
  #closed = false;

  constructor(options: UpstreamOptions) {
    this.#rules = options.rules.map((rule, i) => {
      const probe = expand(rule.urlTemplate ?? '', 'hub', 'messages', 'event');
      let url: URL | undefined;
      try {
        url = new URL(probe);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new InvalidOptionError(`upstream[${i}].urlTemplate`, `must be an http(s) URL, got '${rule.urlTemplate}'`);
      }
      return {
        template: rule.urlTemplate,
        hub: pattern(rule.hubPattern, `upstream[${i}].hubPattern`),
        category: pattern(rule.categoryPattern, `upstream[${i}].categoryPattern`),
        event: pattern(rule.eventPattern, `upstream[${i}].eventPattern`),
      };
    });
    this.#keys = options.keys;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    if (!(this.#timeoutMs > 0)) throw new InvalidOptionError('upstream.timeoutMs', 'must be a positive number');
    this.#retries = options.retries ?? 3;
    if (!Number.isInteger(this.#retries) || this.#retries < 0) {
      throw new InvalidOptionError('upstream.retries', 'must be a whole number ≥ 0');
    }
    this.#backoff = options.backoff ?? { initialMs: 200, maxMs: 5_000 };
    this.#maxResponseBytes = options.maxResponseBytes ?? 16_777_216;
    this.#clock = options.clock;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  get configured(): boolean {
    return this.#rules.length > 0;
  }

  /** The URL of the first rule matching, or undefined. */
  urlFor(hub: string, category: Category, event: string): string | undefined {
    const rule = this.#rules.find((r) => r.hub(hub) && r.category(category) && r.event(event));
    return rule === undefined ? undefined : expand(rule.template, hub, category, event);
  }

  /**
   * Forwards a client invocation. Resolves with the framed reply (or undefined for a void
   * completion); rejects with HUB_UPSTREAM_FAILED, whose message the client sees.
   */
  async invoke(connection: HubConnection, message: InvocationMessage): Promise<Uint8Array | undefined> {
    const protocol = connection.protocol!;
    const url = this.urlFor(connection.hubName, 'messages', message.target);
    if (url === undefined) {
      throw new HubError(HubErrorCode.UpstreamFailed, `Invocation failed, no upstream handles '${message.target}'.`);
    }
    if (message.streamIds !== undefined && message.streamIds.length > 0) {
      throw new HubError(
        HubErrorCode.UpstreamFailed,
        'Invocation failed, streaming is not supported in serverless mode.',
      );
    }
    const body = unframe(protocol.writeMessage(message), protocol.transferFormat === 'Binary');
    const contentType = protocol.transferFormat === 'Binary' ? 'application/x-msgpack' : 'application/json';
    const response = await this.#post(url, connection, 'messages', message.target, body, contentType);
    if (response.status === 204) return undefined;
    if (response.status !== 200) {
      throw new HubError(HubErrorCode.UpstreamFailed, `Invocation failed, status code ${response.status}`, {
        detail: { status: response.status },
      });
    }
    const reply = response.body;
    if (reply.byteLength === 0) return undefined;
    try {
      protocol.parseMessages(reply, this.#maxResponseBytes);
    } catch (err) {
      throw new HubError(HubErrorCode.UpstreamFailed, 'Invocation failed, the upstream reply is not a hub message.', {
        cause: err,
      });
    }
    return reply;
  }

  /**
   * Delivers `connected` or `disconnected`, retrying transient failures a bounded number of times.
   * Never rejects; `rejected` says the upstream answered with a non-retryable 4xx.
   */
  async connectionEvent(
    connection: HubConnection,
    event: 'connected' | 'disconnected',
    error?: string,
  ): Promise<EventOutcome | undefined> {
    const url = this.urlFor(connection.hubName, 'connections', event);
    if (url === undefined) return undefined;
    const payload = event === 'connected' ? { type: 10 } : { type: 11, ...(error === undefined ? {} : { error }) };
    const body = new TextEncoder().encode(JSON.stringify(payload));
    let last: HubError | undefined;
    for (let attempt = 0; attempt <= this.#retries && !this.#closed; attempt++) {
      if (attempt > 0) await this.#sleep(backoffDelay(attempt, this.#backoff));
      try {
        const response = await this.#post(url, connection, 'connections', event, body, 'application/json');
        if (response.status >= 200 && response.status < 300) return { ok: true };
        last = new HubError(HubErrorCode.UpstreamFailed, `Upstream '${event}' answered ${response.status}.`, {
          detail: { status: response.status },
        });
        if (response.status < 500 && response.status !== 429 && response.status !== 408) {
          return { ok: false, error: last, rejected: true };
        }
      } catch (err) {
        last = err instanceof HubError ? err : new HubError(HubErrorCode.UpstreamFailed, String(err), { cause: err });
      }
    }
    return {
      ok: false,
      error: last ?? new HubError(HubErrorCode.UpstreamFailed, 'The upstream client is closed.'),
      rejected: false,
    };
  }

  /** Aborts requests in flight and stops retrying. */
  close(): void {
    this.#closed = true;
    for (const controller of this.#inFlight) controller.abort();
    this.#inFlight.clear();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }

  async #post(
    url: string,
    connection: HubConnection,
    category: Category,
    event: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<{ status: number; body: Uint8Array }> {
    if (this.#closed) throw new HubError(HubErrorCode.UpstreamFailed, 'Invocation failed, the service is closing.');
    const controller = new AbortController();
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeoutMs);
    this.#inFlight.add(controller);
    try {
      const response = await this.#fetch(url, {
        method: 'POST',
        headers: this.#headers(connection, category, event, contentType),
        body,
        signal: controller.signal,
      });
      const length = Number(response.headers.get('content-length') ?? 0);
      if (length > this.#maxResponseBytes) {
        await response.body?.cancel();
        throw new HubError(HubErrorCode.UpstreamFailed, 'Invocation failed, response too large.');
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.byteLength > this.#maxResponseBytes) {
        throw new HubError(HubErrorCode.UpstreamFailed, 'Invocation failed, response too large.');
      }
      return { status: response.status, body: bytes };
    } catch (err) {
      if (err instanceof HubError) throw err;
      const message = timedOut
        ? `Invocation failed, the upstream did not answer within ${this.#timeoutMs} ms.`
        : 'Invocation failed, the upstream could not be reached.';
      throw new HubError(HubErrorCode.UpstreamFailed, message, { cause: err, detail: { timedOut } });
    } finally {
      timer.cancel();
      this.#inFlight.delete(controller);
    }
  }

  #headers(connection: HubConnection, category: Category, event: string, contentType: string): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      'X-ASRS-Connection-Id': connection.connectionId,
      'X-ASRS-Hub': connection.hubName,
      'X-ASRS-Category': category,
      'X-ASRS-Event': event,
      'X-ASRS-Signature': upstreamSignature(connection.connectionId, this.#keys),
    };
    if (connection.userId !== undefined) headers['X-ASRS-User-Id'] = headerSafe(connection.userId);
    const claims = claimsHeader(connection.principal.claims);
    if (claims !== '') headers['X-ASRS-User-Claims'] = claims;
    const query = clientQuery(connection.query);
    if (query !== '') headers['X-ASRS-Client-Query'] = headerSafe(query);
    return headers;
  }
}

/** The connect query without the transport's secrets and noise (`id`, `access_token`, `_`). */
function clientQuery(query: string): string {
  if (query === '') return '';
  const params = new URLSearchParams(query);
  for (const name of ['id', 'access_token', '_']) params.delete(name);
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function expand(template: string, hub: string, category: string, event: string): string {
  return template
    .replaceAll('{hub}', encodeURIComponent(hub))
    .replaceAll('{category}', encodeURIComponent(category))
    .replaceAll('{event}', encodeURIComponent(event));
}

/** Upstream bodies carry the message without its framing (no 0x1E, no VarInt length). */
function unframe(framed: Uint8Array, binary: boolean): Uint8Array {
  if (!binary) return framed.subarray(0, framed.byteLength - 1);
  const prefix = readVarInt(framed, 0);
  return prefix === undefined ? framed : framed.subarray(prefix.size);
}

const registered = new Set(['aud', 'exp', 'iat', 'nbf', 'iss', 'jti']);

/** `type: value` pairs, comma-joined, as .NET's `Claim.ToString()` writes them; system claims left out. */
function claimsHeader(claims: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (const [type, value] of Object.entries(claims)) {
    if (registered.has(type) || type.startsWith('asrs.s.')) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      parts.push(`${type}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  }
  return headerSafe(parts.join(', '));
}

/** Header values must be Latin-1 without control characters; anything else is percent-encoded. */
function headerSafe(value: string): string {
  return /^[\u0020-\u007e\u00a0-\u00ff]*$/.test(value) ? value : encodeURIComponent(value);
}
