/**
 * `ws` with per-turn corking: each burst corks every client's socket, sends as plain `ws` does,
 * then uncorks, so the frames of one turn leave in one write per socket (DESIGN.md's ~2.3 µs
 * reference). `ws` does not expose its socket; `_socket` is its internal field.
 * @module
 */
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { serveContender } from './server-harness.ts';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
const socketOf = (client: WebSocket) => (client as unknown as { _socket: Socket })._socket;

serveContender({
  port: (wss.address() as AddressInfo).port,
  ready: () => wss.clients.size,
  burst: (payload, count) => {
    for (const client of wss.clients) socketOf(client).cork();
    for (let i = 0; i < count; i++) for (const client of wss.clients) client.send(payload);
    for (const client of wss.clients) socketOf(client).uncork();
  },
});
