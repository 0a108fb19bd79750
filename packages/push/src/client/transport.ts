/**
 * One HTTPS exchange with a Notification Hubs front: the request signed with a fresh shared access
 * signature (the kernel's `signSasToken`, as the Azure SDK makes it), TLS trusting the given CA,
 * the answer read under a limit and a timeout. Every failure is a `PushError`: the front's own code
 * (its `x-hubbub-error-code` header) when it answered one, `PUSH_CERTIFICATE_UNTRUSTED` when its
 * certificate is not trusted, `PUSH_UNREACHABLE` when nothing answered, and
 * `PUSH_UNEXPECTED_RESPONSE` when what answered is not Hubbub's front.
 * @module
 */
import { type Agent, request } from 'node:https';
import { signSasToken } from '@hubbub/kernel';
import { PushError, type PushErrorCode } from '../errors.ts';

export const API_VERSION = '2020-06';
/** The largest answer read (a registration page of 100 entries is far below). */
const MAX_ANSWER = 4 * 1024 * 1024;
/** A token's lifetime; one is signed per request. */
const TOKEN_SECONDS = 600;

export interface Endpoint {
  /** `https://127.0.0.1:7443` */
  readonly origin: string;
  readonly hubName: string;
  readonly keyName: string;
  readonly key: string;
  readonly ca: string | Buffer | undefined;
  readonly timeoutMs: number;
  readonly agent: Agent;
  readonly now: () => number;
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Node's codes for a certificate chain the client does not trust. */
const untrusted = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function unreachable(e: Endpoint, why: string, cause: unknown): PushError {
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string' && untrusted.has(code)) {
    return new PushError(
      'PUSH_CERTIFICATE_UNTRUSTED',
      `The front at ${e.origin} has a certificate this client does not trust (${code}); give the local CA (<data>/tls/ca.pem) as the ca option.`,
      { cause, detail: { origin: e.origin, reason: code } },
    );
  }
  return new PushError('PUSH_UNREACHABLE', `The Notification Hubs front at ${e.origin} ${why}.`, {
    cause,
    detail: { origin: e.origin, ...(typeof code === 'string' ? { reason: code } : {}) },
  });
}

export function unexpected(e: Endpoint, why: string, status?: number): PushError {
  return new PushError('PUSH_UNEXPECTED_RESPONSE', `What answered at ${e.origin} is not Hubbub's front: ${why}.`, {
    detail: { origin: e.origin, ...(status === undefined ? {} : { status }) },
  });
}

/** `path` is below the hub (`/installations/x`), `query` without `api-version`. */
export function exchange(
  e: Endpoint,
  method: string,
  path: string,
  init: { query?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const url = `${e.origin}/${encodeURIComponent(e.hubName)}${path}?${init.query === undefined ? '' : `${init.query}&`}api-version=${API_VERSION}`;
  const token = signSasToken(
    `${e.origin}/`.toLowerCase(),
    { name: e.keyName, key: e.key },
    e.now() / 1000 + TOKEN_SECONDS,
  );
  const headers: Record<string, string> = {
    ...init.headers,
    Authorization: token,
    ...(init.body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(init.body)) }),
  };
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      url,
      { method, headers, agent: e.agent, timeout: e.timeoutMs, ...(e.ca === undefined ? {} : { ca: e.ca }) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER) {
            req.destroy();
            reject(unexpected(e, 'its answer is over 4 MiB', res.statusCode));
          } else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (err) => reject(unreachable(e, `broke off its answer (${err.message})`, err)));
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`no answer within ${e.timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err) => reject(unreachable(e, `could not be reached (${err.message})`, err)));
    req.end(init.body);
  });
}

const codeShape = /^[A-Z][A-Z0-9]*_[A-Z0-9_]{1,60}$/;

/** The front's coded error for an answer that is not the success expected. */
export function failure(e: Endpoint, answer: Answer): PushError {
  const code = answer.headers['x-hubbub-error-code'];
  if (typeof code !== 'string' || !codeShape.test(code)) {
    return unexpected(e, `it answered ${answer.status} without a Hubbub error code`, answer.status);
  }
  const said = /<Detail>([\s\S]*?)<\/Detail>/.exec(answer.body)?.[1];
  const message = (said ?? `HTTP ${answer.status}`)
    .replace(/ TrackingId:\S*$/, '')
    .replace(/^[A-Z][A-Z0-9_]*: /, '')
    .replace(/&(lt|gt|amp|quot|apos);/g, (_, n: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[n]!);
  const retryAfter = Number(answer.headers['retry-after']);
  const trackingId = answer.headers.trackingid;
  return new PushError(code as PushErrorCode, message.slice(0, 2048), {
    status: answer.status,
    detail: {
      status: answer.status,
      ...(typeof trackingId === 'string' ? { trackingId } : {}),
      ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
    },
  });
}
