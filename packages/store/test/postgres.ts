/**
 * The machine's PostgreSQL for tests: a fresh schema per driver, dropped afterwards. When the
 * server cannot be reached, tests skip saying why — or, under CI, fail saying what to start.
 */
import { after } from 'node:test';
import pg from 'pg';

export const POSTGRES_URL = process.env.HUBBUB_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly url: string;
  /** Set when PostgreSQL is unreachable (outside CI): why every test skips. */
  readonly unavailable: string | undefined;
  /** A new schema name, dropped when the file's tests end. */
  schema(): string;
  /** An admin pool beside the store (terminating backends, holding transactions). */
  readonly admin: pg.Pool;
  drop(schema: string): Promise<void>;
}

export async function testDatabase(): Promise<TestDatabase> {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 4, connectionTimeoutMillis: 3_000 });
  admin.on('error', () => {});
  let unavailable: string | undefined;
  try {
    await admin.query('SELECT 1');
  } catch (err) {
    const what = `PostgreSQL is not reachable at ${POSTGRES_URL} (${(err as Error).message})`;
    if (process.env.CI) {
      throw new Error(
        `${what}. Start it (e.g. \`service postgresql start\`, trust auth for 127.0.0.1, database "test") or set HUBBUB_TEST_POSTGRES_URL.`,
      );
    }
    unavailable = `${what}; start PostgreSQL or set HUBBUB_TEST_POSTGRES_URL`;
  }
  const run = Math.random().toString(36).slice(2, 8);
  const created = new Set<string>();
  let n = 0;
  const drop = async (schema: string): Promise<void> => {
    created.delete(schema);
    if (unavailable === undefined) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  };
  after(async () => {
    for (const schema of [...created]) await drop(schema).catch(() => {});
    await admin.end();
  });
  return {
    url: POSTGRES_URL,
    unavailable,
    admin,
    schema() {
      const name = `hubbub_store_${run}_${++n}`;
      created.add(name);
      return name;
    },
    drop,
  };
}
