/**
 * The load balancer in front of the application nodes, for the example on one machine (on real
 * machines: nginx, HAProxy, Caddy or the cloud's, see docs/deploy.md). Round robin over the nodes
 * it holds healthy. A node that refuses the connection is taken out for `downMs` and the request
 * tried on the next, so losing one node costs no request that had not reached it. A request that
 * failed mid-flight (the node died with it) is tried on the next node only when repeating it is
 * safe: GET, HEAD, OPTIONS, or a POST with an Idempotency-Key; any other answers 502, since the
 * node may have acted on it. WebSocket upgrades go to the first healthy node that accepts them.
 * @module
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Front {
  readonly server: Server;
  close(): Promise<void>;
}

export interface FrontOptions {
  /** How long a node that failed a connection is skipped (default 2 s); then it is tried again. */
  readonly downMs?: number;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether a request may be repeated on another node after it failed mid-flight. */
export function retryable(incoming: IncomingMessage): boolean {
  return (
    SAFE.has(incoming.method ?? '') || (incoming.method === 'POST' && incoming.headers['idempotency-key'] !== undefined)
  );
}

export function createFront(targets: readonly string[], options: FrontOptions = {}): Front {
  const downMs = options.downMs ?? 2_000;
  const nodes = targets.map((t) => ({ url: new URL(t), downUntil: 0 }));
  let next = 0;
  /** Every node, starting at the next in turn, healthy ones first. */
  const order = (): URL[] => {
    const start = next++ % nodes.length;
    const turn = [...nodes.slice(start), ...nodes.slice(0, start)];
    const now = Date.now();
    return [...turn.filter((n) => n.downUntil <= now), ...turn.filter((n) => n.downUntil > now)].map((n) => n.url);
  };
  const markDown = (url: URL) => {
    const node = nodes.find((n) => n.url === url);
    if (node !== undefined) node.downUntil = Date.now() + downMs;
  };

  const forward = (incoming: IncomingMessage, body: Buffer, response: ServerResponse, tries: URL[]) => {
    const target = tries.shift();
    if (target === undefined) {
      response.writeHead(502, { 'Content-Type': 'text/plain' }).end('No application node answered.\n');
      return;
    }
    let reached = false;
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
        answer.once('aborted', () => response.destroy());
      },
    );
    outgoing.once('socket', (socket) => {
      if (!socket.connecting) reached = true;
      else socket.once('connect', () => (reached = true));
    });
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      markDown(target);
      if (!reached || err.code === 'ECONNREFUSED' || retryable(incoming)) forward(incoming, body, response, tries);
      else response.writeHead(502, { 'Content-Type': 'text/plain' }).end('The application node failed mid-request.\n');
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
    const tries = order();
    const attempt = () => {
      const target = tries.shift();
      if (target === undefined) {
        socket.destroy();
        return;
      }
      let connected = false;
      const upstream = connect(Number(target.port), target.hostname, () => {
        connected = true;
        const lines = [`${incoming.method} ${incoming.url} HTTP/1.1`];
        for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
          lines.push(`${incoming.rawHeaders[i]}: ${incoming.rawHeaders[i + 1]}`);
        }
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => {
        if (connected) socket.destroy();
        else {
          markDown(target);
          attempt();
        }
      });
      socket.on('error', () => upstream.destroy());
    };
    attempt();
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
