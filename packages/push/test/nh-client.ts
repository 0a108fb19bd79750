/** Raw HTTPS to the Notification Hubs front for hostile-input tests: any method, path, header and body, signed or not. */
import { request } from 'node:https';
import { connect } from 'node:tls';
import { createSasToken } from '../src/http/index.ts';

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The Hubbub code from the XML error body's Detail (`CODE: message`). */
  code: string | undefined;
}

export interface RawInit {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sign with this policy (default: the first given to {@link rawClient}); null sends no Authorization. */
  policy?: { name: string; key: string } | null;
  /** Token audience. @default the origin with a trailing slash */
  audience?: string;
  expiresAt?: number;
}

export function rawClient(port: number, ca: string, policy: { name: string; key: string }) {
  const origin = `https://127.0.0.1:${port}`;
  function send(method: string, path: string, init: RawInit = {}): Promise<RawReply> {
    const headers: Record<string, string | number> = { ...init.headers };
    const signer = init.policy === undefined ? policy : init.policy;
    if (signer !== null && headers.Authorization === undefined) {
      headers.Authorization = createSasToken(
        init.audience ?? `${origin}/`,
        signer,
        init.expiresAt ?? Date.now() / 1000 + 600,
      );
    }
    if (init.body !== undefined) headers['Content-Length'] = Buffer.byteLength(init.body);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            code: /<Detail>([A-Z_]+):/.exec(body)?.[1],
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      if (init.body !== undefined) req.write(init.body);
      req.end();
    });
  }
  /** Writes bytes over TLS and resolves with everything answered once the connection closes. */
  function raw(bytes: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => socket.write(bytes));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        text += d;
      });
      socket.on('error', () => resolve(text));
      socket.on('close', () => resolve(text));
    });
  }
  return { send, raw, origin };
}
