/**
 * One HTTP/1.1 exchange with a platform (Web Push endpoints, FCM, the OAuth token endpoint):
 * keep-alive agents the provider owns, a deadline and the caller's AbortSignal on every request,
 * and a bounded answer body. A failure below HTTP (refused, reset, timeout, abort) resolves as a
 * {@link TransportFailure} instead of rejecting, so that providers classify every way it can go.
 * @module
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface ExchangeRequest {
  readonly url: URL;
  readonly method: 'POST' | 'GET';
  readonly headers: Record<string, string | number>;
  readonly body?: Buffer | string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface ExchangeAnswer {
  readonly ok: true;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The answer body, cut at {@link maxAnswerBytes} (platforms answer errors with small JSON). */
  readonly body: string;
}

export interface TransportFailure {
  readonly ok: false;
  /** `timeout`: the deadline passed; `aborted`: the caller's signal fired; `network`: anything else. */
  readonly reason: 'timeout' | 'aborted' | 'network';
  readonly error?: Error;
}

/** The most of an answer body a provider reads: error bodies are small, a huge one is hostile. */
export const maxAnswerBytes = 64 * 1024;

export interface Agents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  destroy(): void;
}

export interface AgentOptions {
  /** Sockets per origin. */
  readonly maxSockets: number;
  /** Extra CA certificates (PEM) to trust for https endpoints, e.g. a local test CA. */
  readonly ca?: string | Buffer | undefined;
}

export function createAgents(options: AgentOptions): Agents {
  const common = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
    timeout: 30_000,
  };
  const http = new HttpAgent(common);
  const https = new HttpsAgent(options.ca === undefined ? common : { ...common, ca: options.ca });
  return {
    http,
    https,
    destroy() {
      http.destroy();
      https.destroy();
    },
  };
}

export function exchange(agents: Agents, req: ExchangeRequest): Promise<ExchangeAnswer | TransportFailure> {
  return new Promise((resolve) => {
    if (req.signal?.aborted) {
      resolve({ ok: false, reason: 'aborted' });
      return;
    }
    const secure = req.url.protocol === 'https:';
    let settled = false;
    const finish = (result: ExchangeAnswer | TransportFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const fail = (reason: TransportFailure['reason'], error?: Error) => {
      finish(error === undefined ? { ok: false, reason } : { ok: false, reason, error });
      outgoing.destroy();
    };
    const onAbort = () => fail('aborted');
    const timer = setTimeout(() => fail('timeout'), req.timeoutMs);
    const outgoing = (secure ? httpsRequest : httpRequest)(req.url, {
      method: req.method,
      headers: req.headers,
      agent: secure ? agents.https : agents.http,
    });
    req.signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', (error) => finish({ ok: false, reason: 'network', error }));
    outgoing.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size >= maxAnswerBytes) return;
        const room = maxAnswerBytes - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
      });
      response.on('error', (error) => finish({ ok: false, reason: 'network', error }));
      response.on('end', () =>
        finish({
          ok: true,
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks, size).toString('utf8'),
        }),
      );
    });
    outgoing.end(req.body);
  });
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP-date; undefined when absent
 * or unreadable. Capped at a day so that a hostile header cannot park a message forever.
 */
export function retryAfterMs(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  const day = 86_400_000;
  if (/^\d+$/.test(text.trim())) return Math.min(Number(text.trim()) * 1000, day);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), day);
}

/** True for 127.0.0.0/8, ::1 and `localhost`: the only hosts a plain-http endpoint may name. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
