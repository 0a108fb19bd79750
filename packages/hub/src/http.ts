/**
 * Small HTTP helpers shared by the hub's endpoints.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError, HubErrorCode } from './errors.ts';

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

/** Reads a request body, refusing more than `limit` bytes with HUB_BAD_REQUEST (413). */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HubError(HubErrorCode.BadRequest, `The request body exceeds ${limit} bytes.`, { status: 413 }));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    request.on('error', reject);
  });
}
