/**
 * The push service's ports on Hubbub's engines, each running the push package's conformance
 * suite: the PushQueue on the bus (memory and file engines), the InstallationRepository and the
 * OutcomeStore on the store (memory, PGlite in a temporary directory, and the machine's PostgreSQL
 * — skipped saying why when it is down; under CI=true it fails instead).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type Bus, openBus } from '@hubbub/bus';
import { describeInstallationRepository, describeOutcomeStore, describePushQueue } from '@hubbub/push/conformance';
import { createStore, type Store } from '@hubbub/store';
import { createBusPushQueue } from '../src/bridges/push-queue.ts';
import { createStoreInstallationRepository, createStoreOutcomeStore } from '../src/bridges/push-store.ts';

const POSTGRES = process.env.HUBBUB_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresUp = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(POSTGRES);
  const socket = createConnection(Number(port || 5432), hostname);
  socket.once('connect', () => {
    socket.destroy();
    resolve(true);
  });
  socket.once('error', () => resolve(false));
  setTimeout(() => resolve(false), 1_000).unref();
});
if (!postgresUp && process.env.CI) {
  throw new Error(
    `PostgreSQL is not reachable at ${POSTGRES}: start it (service postgresql start; trust auth for 127.0.0.1, database "test") or set HUBBUB_TEST_POSTGRES_URL.`,
  );
}

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The queue: a fresh queue per case on one bus per engine.
for (const engine of ['memory', 'file'] as const) {
  let bus: Bus | undefined;
  let n = 0;
  describePushQueue({
    name: `bus (${engine})`,
    time: 'server',
    create: async () => {
      bus ??= await openBus({ url: engine === 'memory' ? 'memory://' : `file://${tempDir('hubbub-push-bus-')}` });
      return createBusPushQueue(bus, { queue: `push-deliveries-${++n}` });
    },
    cleanup: async () => {
      await bus?.close();
    },
  });
}

// The repository and the outcomes: a fresh database per case in one store per driver.
const drivers: { name: string; url: () => string; unavailable?: string }[] = [
  { name: 'memory', url: () => 'memory://' },
  { name: 'pglite', url: () => `pglite://${tempDir('hubbub-push-store-')}` },
  {
    name: 'postgres',
    // One schema for every run (no schema is left behind per run); each run's databases are its own and deleted.
    url: () => `${POSTGRES}?schema=hubbub_push_test`,
    ...(postgresUp
      ? {}
      : { unavailable: `PostgreSQL is not reachable at ${POSTGRES}; start it or set HUBBUB_TEST_POSTGRES_URL` }),
  },
];

for (const driver of drivers) {
  let store: Store | undefined;
  const databases: string[] = [];
  let n = 0;
  const open = () => {
    store ??= createStore({ url: driver.url() });
    const database = `push-${driver.name}-${process.pid}-${++n}`;
    databases.push(database);
    return { store, database };
  };
  const cleanup = async () => {
    if (store === undefined) return;
    for (const id of databases)
      await store.databases.createIfNotExists({ id }).then(({ database }) => database.delete());
    await store.close();
  };
  let closed = 0;
  const closeOnce = async () => {
    // Both suites share the store: the second to finish closes it.
    if (++closed === 2) await cleanup();
  };
  describeInstallationRepository({
    name: `store (${driver.name})`,
    create: () => {
      const { store: s, database } = open();
      // With the in-process read cache on: used on memory and PGlite (one owner), ignored on PostgreSQL.
      return createStoreInstallationRepository(s, { database, pageSize: 2, cachedInstallations: 100 });
    },
    cleanup: closeOnce,
    ...(driver.unavailable === undefined ? {} : { unavailable: driver.unavailable }),
  });
  describeOutcomeStore({
    name: `store (${driver.name})`,
    create: () => {
      const { store: s, database } = open();
      return createStoreOutcomeStore(s, { database });
    },
    // Two outcome stores over one database: what two processes sharing it see.
    createPair: async () => {
      const { store: s, database } = open();
      return [createStoreOutcomeStore(s, { database }), createStoreOutcomeStore(s, { database })] as const;
    },
    cleanup: closeOnce,
    ...(driver.unavailable === undefined ? {} : { unavailable: driver.unavailable }),
  });
}
