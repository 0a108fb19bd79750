/**
 * `@hubbub/bus/nats/testing` — NATS servers for the tests and benchmarks of the JetStream bus (and
 * of the parts that run on it): one server, or a cluster of three, with JetStream on loopback, each
 * on ports of its own with a fresh store directory under a temporary directory. Without `/usr/sbin/nats-server` (or `NATS_SERVER`) the tests skip — and
 * fail under `CI=true`, saying what to install.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';

export const natsServerPath = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

/** Why NATS tests cannot run here (undefined: they can). Under CI a missing server is an error. */
export function natsUnavailable(): string | undefined {
  if (existsSync(natsServerPath)) return undefined;
  const why = `${natsServerPath} is missing: install nats-server 2.9+ (Debian: apt-get install nats-server) or set NATS_SERVER`;
  if (process.env.CI) throw new Error(why);
  return why;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  process: ChildProcess | undefined;
  /** kill -9. */
  kill(): void;
  /** Starts it again on the same ports and store. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  /** `nats://a,b,c` */
  readonly url: string;
  stop(): Promise<void>;
}

async function waitReady(url: string, proc: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
    try {
      const nc = await connect({ servers: url, reconnect: false, timeout: 1_000 });
      await nc.close();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nats-server at ${url} did not start: ${String(last)}`);
}

/** Waits until a cluster's JetStream answers (its meta leader elected), up to `timeoutMs`. */
async function waitForJetStream(url: string, timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const reply = await nc.request('$JS.API.INFO', '', { timeout: 2_000 });
        if (reply.json<{ error?: unknown }>().error === undefined) return;
      } catch {
        // no responders yet
      }
      if (Date.now() > deadline) throw new Error(`JetStream at ${url} did not become available`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await nc.close();
  }
}

/** Resolves once a connection to `url` is told of `size` servers in all (itself and its routes' client URLs). */
async function waitForRoutes(url: string, size: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nc = await connect({ servers: url });
    const known = new Set([...(nc.info?.connect_urls ?? []), `${nc.info?.host}:${nc.info?.port}`]).size;
    await nc.close();
    if (known >= size) return;
    if (Date.now() > deadline) throw new Error(`the server at ${url} knows ${known} of ${size} servers`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Servers this process started and has not stopped: killed when it exits, whatever the way. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Starts `size` JetStream servers (1, or 3 as a cluster) on loopback. */
export async function startNats(size = 1): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'hubbub-nats-'));
  const ports = await Promise.all(Array.from({ length: size }, freePort));
  const routes = size > 1 ? await Promise.all(Array.from({ length: size }, freePort)) : [];
  const nodes: NatsNode[] = ports.map((port, i) => {
    const name = `n${i + 1}`;
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-n', name, '-sd', join(dir, name)];
    if (size > 1) {
      args.push(
        '--cluster_name',
        'hubbub',
        '--cluster',
        `nats://127.0.0.1:${routes[i]}`,
        '--routes',
        routes.map((r) => `nats://127.0.0.1:${r}`).join(','),
      );
    }
    const node: NatsNode = {
      name,
      port,
      url: `nats://127.0.0.1:${port}`,
      process: undefined,
      kill() {
        node.process?.kill('SIGKILL');
        node.process = undefined;
      },
      async restart() {
        const proc = spawn(natsServerPath, args, { stdio: 'ignore' });
        node.process = proc;
        live.add(proc);
        proc.once('exit', () => live.delete(proc));
        await waitReady(node.url, proc);
      },
    };
    return node;
  });
  try {
    await Promise.all(nodes.map((n) => n.restart()));
    if (size > 1) {
      // Every node routed to every other first: a bus sizes its streams' replicas from the servers
      // its connection's INFO names (clusterReplicas), which lists only the routes formed so far.
      await Promise.all(nodes.map((n) => waitForRoutes(n.url, size)));
      await waitForJetStream(nodes[0]!.url);
    }
  } catch (err) {
    for (const n of nodes) n.kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes,
    url: `nats://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    async stop() {
      await Promise.all(
        nodes.map(
          (n) =>
            new Promise<void>((resolve) => {
              const p = n.process;
              if (p === undefined || p.exitCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}
