/**
 * Plain `ws`: every broadcast loops over `wss.clients` and calls `send(payload)` (a text frame,
 * framed and written per recipient), as in the peers harness (research/peers.md §2.3).
 * @module
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { serveContender } from './server-harness.ts';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await new Promise<void>((resolve) => wss.once('listening', () => resolve()));

serveContender({
  port: (wss.address() as AddressInfo).port,
  ready: () => wss.clients.size,
  burst: (payload, count) => {
    for (let i = 0; i < count; i++) for (const client of wss.clients) client.send(payload);
  },
});
