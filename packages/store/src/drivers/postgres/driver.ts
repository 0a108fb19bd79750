/**
 * `postgres://…`: the SQL driver over a `pg` pool. `pg` is imported when the driver opens, so a
 * store that never uses PostgreSQL never loads it. A connection that dies (server restart,
 * `pg_terminate_backend`, network) fails the operations on it with STORE_UNAVAILABLE and leaves
 * the pool; the next operation opens a fresh one. An idle connection's error is reported through
 * `onError`, never thrown.
 * @module
 */
import { InvalidOptionError } from '@hubbub/kernel';
import type { Pool, PoolClient } from 'pg';
import { SqlDriver } from '../sql/driver.ts';
import type { SqlExecutor, SqlQuery, SqlResult } from '../sql/executor.ts';
import { isConnectionFailure } from '../sql/executor.ts';
import { DEFAULT_SCHEMA } from '../sql/schema.ts';

export interface PostgresDriverOptions {
  /** `postgres://user@host:port/db`. */
  readonly connectionString: string;
  /** The schema the store's tables live in. @default 'hubbub_store' */
  readonly schema?: string;
  /** Pool size. @default 10 */
  readonly maxConnections?: number;
  /** Time to wait for a connection before STORE_UNAVAILABLE. @default 10_000 */
  readonly connectTimeoutMs?: number;
  /** The connections' `application_name`. @default 'hubbub-store' */
  readonly applicationName?: string;
  /** Idle connections that fail (the server went away) are reported here. @default ignore */
  readonly onError?: (error: Error) => void;
}

function poolExecutor(pool: Pool): SqlExecutor {
  const run =
    (client: Pool | PoolClient): SqlQuery =>
    async (text, values = [], name) => {
      const result = await client.query(
        name === undefined ? { text, values: [...values] } : { name, text, values: [...values] },
      );
      return { rows: result.rows, rowCount: result.rowCount ?? 0 } satisfies SqlResult;
    };
  return {
    query: run(pool),
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(run(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (isConnectionFailure(err)) broken = err as Error;
        else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

export class PostgresDriver extends SqlDriver {
  constructor(options: PostgresDriverOptions) {
    if (typeof options?.connectionString !== 'string')
      throw new InvalidOptionError('connectionString', 'must be a postgres:// URL');
    const max = options.maxConnections ?? 10;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new InvalidOptionError('maxConnections', 'must be a positive integer');
    super({
      kind: 'postgres',
      schema: options.schema ?? DEFAULT_SCHEMA,
      connect: async () => {
        const pg = await import('pg');
        const Pool = pg.default?.Pool ?? (pg as unknown as typeof import('pg')).Pool;
        const pool = new Pool({
          connectionString: options.connectionString,
          max,
          connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
          idleTimeoutMillis: 30_000,
          application_name: options.applicationName ?? 'hubbub-store',
        });
        pool.on('error', (err) => options.onError?.(err));
        return poolExecutor(pool);
      },
    });
  }
}

/** A driver for the PostgreSQL at `connectionString`. */
export function createPostgresDriver(options: PostgresDriverOptions): PostgresDriver {
  return new PostgresDriver(options);
}
