/**
 * Replies of the Notification Hubs front. Every failure is the XML error body Notification Hubs
 * answers with (`<Error><Code>status</Code><Detail>CODE: message TrackingId:…</Detail></Error>`), so
 * the SDK's `RestError` carries the status and a message naming Hubbub's code; the code is also in
 * the `x-hubbub-error-code` header. An error that is not a coded one is a 500 whose cause stays on
 * the server.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { HubbubError, ignoreBody, internalError } from '@hubbub/kernel';
import { PushError } from '../errors.ts';
import { errorXml } from './xml.ts';

/** Status of push codes raised without one (the service's validation errors are the caller's fault). */
const statusOf: Record<string, number> = {
  PUSH_INSTALLATION_NOT_FOUND: 404,
  PUSH_CLOSED: 503,
  PUSH_PAYLOAD_TOO_LARGE: 413,
  PUSH_TLS_UNAVAILABLE: 500,
  PUSH_PROVIDER_CLOSED: 503,
};

/** The coded error to answer with, and its status. */
export function codedError(error: unknown): { error: HubbubError; status: number } {
  if (error instanceof HubbubError) {
    return { error, status: error.status ?? statusOf[error.code] ?? (error instanceof PushError ? 400 : 500) };
  }
  return { error: internalError(error), status: 500 };
}

export function trackingIdOf(response: ServerResponse): string {
  const id = response.getHeader('TrackingId');
  return typeof id === 'string' ? id : '';
}

export function replyError(response: ServerResponse, failure: unknown): void {
  if (response.headersSent || response.destroyed) {
    response.destroy();
    return;
  }
  const { error, status } = codedError(failure);
  if (response.req !== undefined) ignoreBody(response.req, response);
  const message =
    status >= 500 && error.code === 'KERNEL_INTERNAL_ERROR'
      ? 'The server failed to handle the request.'
      : error.message;
  const body = errorXml(status, error.code, message, trackingIdOf(response));
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/xml; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'x-hubbub-error-code': error.code,
  };
  if (status === 413 || status === 429) headers.Connection = 'close';
  const retryAfter = error.detail?.retryAfterSeconds;
  if (typeof retryAfter === 'number') headers['Retry-After'] = retryAfter;
  else if (status === 503) headers['Retry-After'] = 1;
  response.writeHead(status, headers);
  response.end(body);
}

export function replyXml(response: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}) {
  const body = `<?xml version="1.0" encoding="utf-8"?>${xml}`;
  response.writeHead(status, {
    ...headers,
    'Content-Type': 'application/xml; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

export function replyJson(response: ServerResponse, status: number, value: unknown) {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

export function replyEmpty(response: ServerResponse, status: number, headers: Record<string, string> = {}) {
  response.writeHead(status, status === 204 ? headers : { ...headers, 'Content-Length': 0 });
  response.end();
}

/** A 400 naming the field that was wrong. */
export function invalidRequest(message: string, field: string, cause?: unknown): PushError {
  return new PushError('PUSH_INVALID_REQUEST', message, {
    status: 400,
    detail: { field },
    ...(cause === undefined ? {} : { cause }),
  });
}
