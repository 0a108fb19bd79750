/**
 * A whole Hubbub cluster on one machine, with one command (`npm run cluster`):
 *
 *   3 NATS servers      /usr/sbin/nats-server, JetStream, one cluster, store dirs in a temp dir
 *   Redis, PostgreSQL   the machine's (127.0.0.1:6379, 127.0.0.1:5432; database hubbub_cluster)
 *   2 hub nodes         `hubbub hub --backplane redis://…`: they hold the clients' connections
 *   2 application nodes the delivery app (function host, REST API, web app) on the shared store,
 *                       cache and backplane; their hubs take no clients (--no-hub-clients)
 *   1 front             a round-robin load balancer for the web app and API
 *
 * It prints where to open it; Ctrl-C stops everything and removes the temp dir. Options:
 * --port N (the front's, default 8080), --redis URL, --postgres URL, --keep (keep the temp dir).
 * docs/deploy.md describes the same on real machines.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { engineScheme } from '@hubbub/system';
import { createFront } from './front.ts';
import { cmdlineOf, forgetRun, type RecordedChild, recordFile, recordRun, stopAllLeftovers } from './leftovers.ts';

const root = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/hubbub_cluster' },
    keep: { type: 'boolean', default: false },
  },
});

const dir = mkdtempSync(join(tmpdir(), 'hubbub-cluster-'));
/**
 * The application's secrets kept between runs, one file per database (git ignores `.data/`): the
 * demo accounts a run creates in PostgreSQL keep working in the next run, which would otherwise
 * print a newly generated password those accounts do not have.
 */
const secretsFile = (() => {
  let where = values.postgres;
  try {
    const url = new URL(values.postgres);
    where = `${url.hostname}-${url.port || '5432'}${url.pathname}`;
  } catch {}
  return join(root, '.data', 'cluster', where.replace(/[^A-Za-z0-9._-]+/g, '_'), 'keys.json');
})();
const children: Array<{ name: string; child: ChildProcess }> = [];
/** Where each run records its children, so a run after one killed with -9 can stop what it left. */
const runRecords = join(root, '.data', 'cluster', 'runs');
const runRecord = recordFile(runRecords);
const recorded: RecordedChild[] = [];
const say = (text: string) => process.stdout.write(`${text}\n`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1_000 });
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    const died = children.find(({ child }) => child.exitCode !== null || child.signalCode !== null);
    if (died !== undefined) throw new Error(`${died.name} exited while starting; see ${join(dir, `${died.name}.log`)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s (logs in ${dir})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts a process whose output goes to `<dir>/<name>.log`; `output()` is what it printed so far. */
function run(name: string, command: string, args: string[], env: Record<string, string> = {}) {
  const log = createWriteStream(join(dir, `${name}.log`));
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    log.write(d);
  });
  child.stderr!.on('data', (d: Buffer) => log.write(d));
  child.once('exit', (code, signal) => {
    if (!stopping) say(`! ${name} exited (${signal ?? code}); see ${join(dir, `${name}.log`)}`);
  });
  children.push({ name, child });
  if (child.pid !== undefined) {
    recorded.push({ pid: child.pid, cmdline: cmdlineOf(command, args) });
    recordRun(runRecord, dir, recorded);
  }
  return { child, output: () => out };
}

const tsx = ['--conditions=source', '--import', 'tsx'];
const hubbub = join(root, 'packages/cli/src/main.ts');

async function startNats(): Promise<string> {
  const nodes = await Promise.all(
    [0, 1, 2].map(async (i) => ({ i, client: await freePort(), route: await freePort(), monitor: await freePort() })),
  );
  for (const node of nodes) {
    const store = join(dir, `nats-${node.i}`);
    mkdirSync(store);
    const routes = nodes.filter((n) => n !== node).map((n) => `"nats-route://127.0.0.1:${n.route}"`);
    const config = join(dir, `nats-${node.i}.conf`);
    writeFileSync(
      config,
      `server_name: n${node.i}\nhost: 127.0.0.1\nport: ${node.client}\nhttp: "127.0.0.1:${node.monitor}"\n` +
        `jetstream { store_dir: "${store}" }\n` +
        `cluster { name: hubbub, host: 127.0.0.1, port: ${node.route}, routes: [${routes.join(', ')}] }\n`,
    );
    run(`nats-${node.i}`, '/usr/sbin/nats-server', ['-c', config]);
  }
  for (const node of nodes) await until(`NATS server ${node.i} to listen`, () => reachable(node.client));
  natsMonitors = nodes.map((n) => `http://127.0.0.1:${n.monitor}`);
  return `nats://${nodes.map((n) => `127.0.0.1:${n.client}`).join(',')}`;
}

async function ensureDatabase(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const target = new URL(url);
  const name = target.pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

/** Each NATS server's monitoring endpoint (/varz, /jsz: which server leads a stream). */
let natsMonitors: string[] = [];
let stopping = false;
let front: ReturnType<typeof createFront> | undefined;
/** Deletes the cluster's keys in Redis (node records, grants) once its processes are gone. */
let forgetKeys: () => Promise<void> = async () => {};

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nStopping the cluster…');
  await front?.close();
  // Application nodes first (they drain their functions), then hub nodes, then NATS.
  for (const group of [/^app/, /^hub/, /^nats/]) {
    await Promise.all(
      children
        .filter((c) => group.test(c.name) && c.child.exitCode === null && c.child.signalCode === null)
        .map(
          ({ child }) =>
            new Promise<void>((resolve) => {
              const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
              child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
    );
  }
  await forgetKeys().catch(() => undefined);
  forgetRun(runRecord);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  say(values.keep ? `Stopped. Logs and data kept in ${dir}` : 'Stopped.');
}

async function main(): Promise<void> {
  const redisPort = Number(new URL(values.redis).port || 6379);
  const postgresPort = Number(new URL(values.postgres).port || 5432);
  if (!(await reachable(redisPort)))
    throw new Error(`Redis is not reachable at ${values.redis}: start it (redis-server).`);
  if (!(await reachable(postgresPort))) {
    throw new Error(`PostgreSQL is not reachable at ${values.postgres}: start it (service postgresql start).`);
  }
  const left = await stopAllLeftovers(runRecords);
  if (left.length > 0) say(`Stopped ${left.length} processes an earlier run left behind when it was killed.`);
  await ensureDatabase(values.postgres);
  const cluster = randomUUID().slice(0, 8);
  const prefix = `hubbub-cluster:${cluster}:`;
  const backplane = `${values.redis}?prefix=${encodeURIComponent(prefix)}&heartbeatMs=1000&nodeTtlMs=5000`;
  forgetKeys = async () => {
    const { createClient } = await import('redis');
    const client = createClient({ url: values.redis });
    client.on('error', () => {});
    await client.connect();
    try {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await client.unlink(keys);
      }
    } finally {
      client.destroy();
    }
  };

  say(`Starting a Hubbub cluster (logs in ${dir})…`);
  const natsUrl = existsSync('/usr/sbin/nats-server') ? await startNats() : undefined;
  let natsBus = false;
  try {
    engineScheme('bus', 'nats://127.0.0.1:4222');
    natsBus = natsUrl !== undefined;
  } catch {
    natsBus = false;
  }

  // One set of keys for every node: the hub's access key, the bus's and the store's.
  const signalRKey = randomBytes(32).toString('base64');
  const env = {
    HUBBUB_SIGNALR_KEY: signalRKey,
    HUBBUB_BUS_KEY: `RootManageSharedAccessKey=${randomBytes(32).toString('base64')}`,
    HUBBUB_STORE_KEY: randomBytes(32).toString('base64'),
  };

  const hubs: string[] = [];
  for (const i of [1, 2]) {
    const port = await freePort();
    const node = run(`hub-${i}`, process.execPath, [
      ...tsx,
      hubbub,
      'hub',
      '--port',
      String(port),
      '--backplane',
      backplane,
      '--connection-string',
      `Endpoint=http://127.0.0.1:${port};AccessKey=${signalRKey};Version=1.0;`,
    ]);
    await until(`hub node ${i} to listen`, () => node.output().includes('listening on'));
    hubs.push(`http://127.0.0.1:${port}`);
  }

  const frontPort = Number(values.port);
  const publicUrl = `http://127.0.0.1:${frontPort}`;
  const apps: string[] = [];
  for (const i of [1, 2]) {
    const port = await freePort();
    const data = join(dir, `app-${i}`);
    mkdirSync(data);
    // The app's secrets (demo password, tracking key, VAPID keys) are the first node's, and the
    // same as the last run's on this database: its demo accounts were created with that password.
    if (i === 1 && existsSync(secretsFile)) copyFileSync(secretsFile, join(data, 'keys.json'));
    if (i === 2) copyFileSync(join(dir, 'app-1', 'keys.json'), join(data, 'keys.json'));
    const node = run(
      `app-${i}`,
      process.execPath,
      [
        ...tsx,
        join(root, 'apps/delivery/src/main.ts'),
        '--port',
        String(port),
        '--public-url',
        publicUrl,
        '--data',
        data,
        '--store',
        values.postgres,
        '--cache',
        values.redis,
        '--backplane',
        backplane,
        '--no-hub-clients',
        '--no-amqp',
        '--push-port',
        String(await freePort()),
        // Every server named, so a node that starts (or reconnects) while one is down finds another.
        ...(natsBus ? ['--bus', `${natsUrl}?replicas=3&namespace=cluster-${cluster}`] : []),
        ...(i === 2 ? ['--no-simulate'] : []),
      ],
      env,
    );
    await until(`application node ${i} to start`, () => node.output().includes('Press Ctrl-C'), 120_000);
    apps.push(`http://127.0.0.1:${port}`);
    if (i === 1) {
      mkdirSync(dirname(secretsFile), { recursive: true, mode: 0o700 });
      copyFileSync(join(data, 'keys.json'), secretsFile);
      chmodSync(secretsFile, 0o600);
    }
    if (i === 1)
      say(
        node
          .output()
          .replace(/^[\s\S]*?Demo accounts/m, '  Demo accounts')
          .split('\n  Couriers')[0]!,
      );
  }

  front = createFront(apps);
  await new Promise<void>((resolve, reject) => {
    front!.server.once('error', reject);
    front!.server.listen(frontPort, '127.0.0.1', resolve);
  });

  say(`
Hubbub cluster is running. Open ${publicUrl}/ (the front: round robin over the application nodes).

  Application nodes  ${apps.join('  ')}   (function host, REST API, web app; logs app-N.log)
  Hub nodes          ${hubs.join('  ')}   (clients connect here; negotiate spreads them)
  Backplane          ${backplane}
  Store, cache       ${values.postgres}, ${values.redis}
  NATS               ${natsUrl ?? 'not started (/usr/sbin/nats-server is missing)'}
  NATS monitoring    ${natsMonitors.join('  ') || '-'}   (servers n0 n1 n2: processes nats-0 nats-1 nats-2)
  Bus                ${natsBus ? 'NATS JetStream (streams replicated on all three servers), shared by both application nodes' : "each application node's own file:// bus (the NATS engine is not in this build)"}

Kill a hub node (kill -9 <pid>) and watch the map keep moving after the reconnect:
${children.map(({ name, child }) => `  ${name.padEnd(6)} pid ${child.pid}`).join('\n')}

Press Ctrl-C to stop the whole cluster.`);
}

// Started by a test (or a supervisor) that may die without a word: stop with it.
if (process.env.CLUSTER_STOP_WITH_PARENT === '1') {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop().then(() => process.exit(1));
  }, 1_000).unref();
}
process.once('SIGINT', () => void stop().then(() => process.exit(0)));
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
main().catch(async (err: unknown) => {
  process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  await stop();
  process.exit(1);
});
