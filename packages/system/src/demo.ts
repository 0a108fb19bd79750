/**
 * The demo hub behind the start page: visitors post messages that every open page shows live,
 * and the server announces arrivals, departures and the time.
 * @module
 */
import type { Hub } from '@hubbub/hub';

export function createDemoHub(hub: Hub): () => void {
  hub.method('send', async (_ctx, name: unknown, text: unknown) => {
    if (typeof name !== 'string' || typeof text !== 'string' || text.trim() === '') return false;
    await hub.clients.all.send('message', {
      from: name.slice(0, 40) || 'anonymous',
      text: text.slice(0, 500),
      at: Date.now(),
    });
    return true;
  });
  hub.method('count', () => hub.connectionCount);
  hub.method('transport', (ctx) => hub.connection(ctx.connectionId)?.transport?.kind ?? null);
  const presence = () => void hub.clients.all.send('presence', hub.connectionCount);
  const offConnected = hub.on('connected', presence);
  const offDisconnected = hub.on('disconnected', presence);
  const ticker = setInterval(() => void hub.clients.all.send('tick', new Date().toISOString()), 1_000);
  ticker.unref();
  return () => {
    clearInterval(ticker);
    offConnected();
    offDisconnected();
  };
}
