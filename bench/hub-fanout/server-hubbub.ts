/**
 * Hubbub through the full SignalR path: negotiate, WebSocket transport, JSON hub protocol, group
 * membership granted by a hub method, and `hub.clients.group('g').send('m', payload)` through the
 * in-process backplane. Server options are the defaults, but for the write delay
 * (`HUBBUB_BENCH_WRITE_DELAY_MS`, set by run.ts for the `hubbub-wdN` contenders).
 * @module
 */
import { createHubServer } from '@hubbub/hub';
import { serveContender } from './server-harness.ts';

const writeDelayMs = Number(process.env.HUBBUB_BENCH_WRITE_DELAY_MS ?? 0);
const server = createHubServer(writeDelayMs > 0 ? { writeDelayMs } : {});
const hub = server.hub('bench');
hub.method<[string]>('join', (ctx, group) => ctx.groups.add(ctx.connectionId, group));
// The kernel's default cap (10,000 sockets) would refuse part of the 15,000 idle connections.
const { port } = await server.listen({ port: 0, host: '127.0.0.1', limits: { maxConnections: 100_000 } });

serveContender({
  port,
  ready: () => hub.connectionCount,
  burst: (payload, count) => {
    for (let i = 0; i < count; i++) void hub.clients.group('g').send('m', payload);
  },
});
