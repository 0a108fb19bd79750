/**
 * `pglite://DIR`: the SQL driver over PGlite — PostgreSQL compiled to WebAssembly, in this process,
 * its data in `DIR/pgdata`, the same SQL as the PostgreSQL driver. PGlite is imported when the
 * driver opens. It has one connection and serialises queries and transactions itself; and since it
 * has no directory lock, this driver keeps one (`lock.ts`): one owner process per directory.
 * Without a directory (`pglite://`) the database lives in memory. Tests may hand in a running
 * PGlite (`instance`), which the driver then neither locks nor closes.
 *
 * PGlite runs in a worker thread of its own (`worker.ts`, `thread.ts`) unless `thread: false`:
 * its statements are synchronous WebAssembly, and on the process's main thread they took the
 * event loop from HTTP, the bus and the functions host (half of the delivery API's CPU per order,
 * bench/orders). The lock stays with the process; the thread is the database's one user.
 *
 * Memory: PGlite's defaults cost a Node process about 800 MB RSS on a fresh directory (measured:
 * initdb's WebAssembly instance stays reachable from the one PGlite hands back, and 128 MB of
 * shared buffers are touched). So a fresh directory is initialised by one instance that is then
 * closed and dropped, and the store's database runs with {@link DEFAULT_POSTGRESQL_CONF}: about
 * 190 MB reopening a directory, 350 MB right after creating one (bench/RESULTS.md, store memory).
 * @module
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite, Results, Transaction } from '@electric-sql/pglite';
import { SqlDriver } from '../sql/driver.ts';
import type { SqlExecutor, SqlQuery } from '../sql/executor.ts';
import { DEFAULT_SCHEMA } from '../sql/schema.ts';
import { lockDir } from './lock.ts';
import { openPgliteThread } from './worker.ts';

export interface PgliteDriverOptions {
  /** The data directory (created if missing). @default in memory */
  readonly dir?: string;
  /** The schema the store's tables live in. @default 'hubbub_store' */
  readonly schema?: string;
  /** A PGlite already open, shared with others; the driver does not lock or close it. */
  readonly instance?: PGlite;
  /** postgresql.conf lines for the database. @default {@link DEFAULT_POSTGRESQL_CONF} */
  readonly postgresqlConf?: readonly string[];
  /** Run PGlite in a worker thread (see the module comment); false: on the caller's thread. @default true */
  readonly thread?: boolean;
}

/**
 * What the store's embedded database runs with: shared buffers of 32 MB instead of PostgreSQL's
 * 128 MB, which PGlite would otherwise keep resident in this process.
 */
export const DEFAULT_POSTGRESQL_CONF: readonly string[] = ['shared_buffers = 32MB'];

const run =
  (db: Pick<PGlite | Transaction, 'query'>): SqlQuery =>
  async (text, values = []) => {
    const r: Results<Record<string, unknown>> = await db.query(text, [...values]);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  };

function pgliteExecutor(db: PGlite, release: () => Promise<void>): SqlExecutor {
  return {
    query: run(db),
    transaction: (work) => db.transaction((tx) => work(run(tx))),
    close: release,
  };
}

export class PgliteDriver extends SqlDriver {
  /** The data directory, when there is one. */
  readonly dir: string | undefined;

  constructor(options: PgliteDriverOptions = {}) {
    const { dir, instance } = options;
    super({
      kind: 'pglite',
      schema: options.schema ?? DEFAULT_SCHEMA,
      connect: async () => {
        if (instance !== undefined) return pgliteExecutor(instance, async () => {});
        let unlock: (() => Promise<void>) | undefined;
        if (dir !== undefined) {
          await mkdir(dir, { recursive: true });
          unlock = await lockDir(dir);
        }
        try {
          const dataDir = dir === undefined ? undefined : join(dir, 'pgdata');
          const postgresqlConf = options.postgresqlConf ?? DEFAULT_POSTGRESQL_CONF;
          if (options.thread !== false) {
            return await openPgliteThread({ dataDir, postgresqlConf }, async () => {
              await unlock?.();
            });
          }
          const { PGlite } = await import('@electric-sql/pglite');
          const settings = { postgresqlconf: [...postgresqlConf] };
          if (dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'))) {
            // initdb's instance stays reachable from the PGlite that ran it: create, close, reopen.
            await (await PGlite.create(dataDir, settings)).close();
          }
          const db = await PGlite.create(dataDir, settings);
          return pgliteExecutor(db, async () => {
            try {
              await db.close();
            } finally {
              await unlock?.();
            }
          });
        } catch (err) {
          await unlock?.();
          throw err;
        }
      },
    });
    this.dir = dir;
  }
}

/** A driver over PGlite in `dir` (or in memory). */
export function createPgliteDriver(options: PgliteDriverOptions = {}): PgliteDriver {
  return new PgliteDriver(options);
}
