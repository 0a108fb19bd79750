/**
 * Socket.IO, WebSocket transport only: clients join room `g` by emitting `join`, broadcasts are
 * `io.to('g').emit('m', payload)`. Other options are the defaults.
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { serveContender } from './server-harness.ts';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (group: string, ack?: () => void) => {
    void socket.join(group);
    ack?.();
  });
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
const room = io.to('g');

serveContender({
  port: (http.address() as AddressInfo).port,
  ready: () => io.of('/').adapter.rooms.get('g')?.size ?? 0,
  burst: (payload, count) => {
    for (let i = 0; i < count; i++) room.emit('m', payload);
  },
});
