/**
 * Stopping a Node HTTP server for good: `close()` alone waits for idle keep-alive sockets to time
 * out, so every server of the project closes its connections first.
 * @module
 */
import type { Server } from 'node:http';

/** Drops every connection (idle keep-alive ones included) and resolves once the server is closed. */
export async function closeHttpServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
