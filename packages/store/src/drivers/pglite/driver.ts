/**
 * `pglite://DIR`: the SQL driver over PGlite — PostgreSQL compiled to WebAssembly, in this process,
 * its data in `DIR/pgdata`, the same SQL as the PostgreSQL driver. PGlite is imported when the
 * driver opens. It has one connection and serialises queries and transactions itself; and since it
 * has no directory lock, this driver keeps one (`lock.ts`): one owner process per directory.
 * Without a directory (`pglite://`) the database lives in memory. Tests may hand in a running
 * PGlite (`instance`), which the driver then neither locks nor closes.
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite, Results, Transaction } from '@electric-sql/pglite';
import { SqlDriver } from '../sql/driver.ts';
import type { SqlExecutor, SqlQuery } from '../sql/executor.ts';
import { DEFAULT_SCHEMA } from '../sql/schema.ts';
import { lockDir } from './lock.ts';

export interface PgliteDriverOptions {
  /** The data directory (created if missing). @default in memory */
  readonly dir?: string;
  /** The schema the store's tables live in. @default 'hubbub_store' */
  readonly schema?: string;
  /** A PGlite already open, shared with others; the driver does not lock or close it. */
  readonly instance?: PGlite;
}

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
          const { PGlite } = await import('@electric-sql/pglite');
          const db = await PGlite.create(dir === undefined ? undefined : join(dir, 'pgdata'));
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
