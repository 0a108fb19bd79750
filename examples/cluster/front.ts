/**
 * The load balancer in front of the application nodes, for the example on one machine (on real
 * machines: nginx, HAProxy, Caddy or the cloud's, see docs/deploy.md). Round robin over the nodes;
 * a node that refuses the connection is skipped and the request tried on the next, so losing one
 * node costs no request that had not reached it. WebSocket upgrades are piped the same way.
 * @module
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Front {
  readonly server: Server;
  close(): Promise<void>;
}

export function createFront(targets: readonly string[]): Front {
  let next = 0;
  const order = (): URL[] => {
    const start = next++ % targets.length;
    return [...targets.slice(start), ...targets.slice(0, start)].map((t) => new URL(t));
  };

  const forward = (
    incoming: IncomingMessage,
    body: Buffer,
    response: import('node:http').ServerResponse,
    tries: URL[],
  ) => {
    const target = tries.shift();
    if (target === undefined) {
      response.writeHead(502, { 'Content-Type': 'text/plain' }).end('No application node answered.\n');
      return;
    }
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, 'x-forwarded-for': incoming.socket.remoteAddress ?? '' },
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && !response.headersSent) forward(incoming, body, response, tries);
      else response.destroy();
    });
    outgoing.end(body);
  };

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 4 << 20) incoming.destroy();
      else chunks.push(chunk);
    });
    incoming.on('end', () => forward(incoming, Buffer.concat(chunks), response, order()));
  });

  server.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = order()[0]!;
    const upstream = connect(Number(target.port), target.hostname, () => {
      const lines = [`${incoming.method} ${incoming.url} HTTP/1.1`];
      for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
        lines.push(`${incoming.rawHeaders[i]}: ${incoming.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
