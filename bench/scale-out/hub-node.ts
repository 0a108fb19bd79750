/**
 * One hub node for bench/scale-out's fan-out: the same server as bench/hub-fanout's Hubbub
 * contender (negotiate, WebSockets, JSON protocol, `join` by hub method, group sends), on the
 * backplane `HUB_BACKPLANE` names (`memory://` or `redis://…?prefix=…`). The node asked to
 * broadcast sends; on two nodes the other only receives through Redis, and its CPU counts too.
 * @module
 */
import { createHubServer } from '@hubbub/hub';
import { openBackplane } from '@hubbub/system';
import { serveContender } from '../hub-fanout/server-harness.ts';

const backplane = await openBackplane(process.env.HUB_BACKPLANE ?? 'memory://');
const server = createHubServer({ backplane });
const hub = server.hub('bench');
hub.method<[string]>('join', (ctx, group) => ctx.groups.add(ctx.connectionId, group));
const { port } = await server.listen({ port: 0, host: '127.0.0.1' });

serveContender({
  port,
  ready: () => hub.connectionCount,
  burst: (payload, count) => {
    for (let i = 0; i < count; i++) void hub.clients.group('g').send('m', payload);
  },
});
