/**
 * The functions host's error reply: `{ code, message, detail }` — the one error shape of every
 * part on the system's port — with the error's status (and `Allow` for a 405).
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { HubbubError } from '@hubbub/kernel';

/** Writes a JSON error body with the error's status. */
export function writeError(res: ServerResponse, err: HubbubError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
  };
  const allow = err.detail?.allow;
  if (Array.isArray(allow)) headers.allow = allow.join(', ');
  res.writeHead(err.status ?? 500, headers).end(body);
}
