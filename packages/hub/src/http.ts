/**
 * Small HTTP helpers shared by the hub's endpoints.
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { HubError } from './errors.ts';

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, no-store',
  });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** Answers with a HubError's status and `{code, message}` body (plain text for transport errors clients print). */
export function sendError(response: ServerResponse, error: HubError): void {
  sendJson(response, error.status ?? 500, error.toJSON());
}
