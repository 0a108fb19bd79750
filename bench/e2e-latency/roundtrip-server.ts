/**
 * The system under test of the round trip: `startSystem` with the echo app (its `echo`
 * signalRTrigger function, fed by the serverless hub's upstream in process) and, on the same
 * server, a self-hosted hub `/hubs/echo` whose `echo` method returns its argument (the baseline).
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@hubbub/kernel';
import { startSystem } from '@hubbub/system';
import { serveIpc } from '../lib/ipc.ts';

export type RoundTripServerApi = {
  start(args: null): Promise<{ port: number }>;
  /** Connections of the serverless hub `echo` and of the self-hosted hub `echo`. */
  connections(args: null): { upstream: number; method: number };
  exit(args: null): Promise<null>;
};

if (process.send === undefined) throw new Error('This script is started by bench/e2e-latency/roundtrip.ts.');

let system: Awaited<ReturnType<typeof startSystem>> | undefined;
let dataDir: string | undefined;

serveIpc<RoundTripServerApi>({
  start: async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hubbub-roundtrip-'));
    system = await startSystem({
      port: 0,
      dataDir,
      busUrl: 'memory://',
      storeUrl: 'memory://',
      push: false,
      amqpPort: false,
      app: { dir: fileURLToPath(new URL('./echo-app', import.meta.url)) },
      // One load generator on one address opens every client.
      rateLimits: false,
      logger: silentLogger,
    });
    system.hubs.hub('echo').method('echo', (_ctx, value: unknown) => value);
    return { port: system.port };
  },
  connections: () => {
    if (system === undefined) throw new Error('not started');
    return { upstream: system.signalR.hub('echo').connectionCount, method: system.hubs.hub('echo').connectionCount };
  },
  exit: async () => {
    await system?.close();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    setTimeout(() => process.exit(0), 10).unref();
    return null;
  },
});
