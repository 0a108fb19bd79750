/**
 * The tables, in one schema: `databases`, `containers` (the catalog) and one `items_<n>` table per
 * container, plus the `changes` sequence. Names in SQL text are only ever the schema name
 * (checked against `[a-z_][a-z0-9_]*` and quoted) and numbers the catalog assigned.
 *
 * Why a table per container: its primary key (partition key, id) is the point-operation index,
 * its GIN index on `doc` serves only its own items, its change-feed indexes `(txid, seq)` and
 * `(range, txid, seq)` order only its own changes, and deleting a container is a DROP.
 * @module
 */
import { InvalidOptionError } from '@hubbub/kernel';

export const DEFAULT_SCHEMA = 'hubbub_store';

export function checkSchema(schema: string): string {
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new InvalidOptionError('schema', 'must match [a-z_][a-z0-9_]* (at most 63 characters)');
  }
  return schema;
}

export class Names {
  readonly schema: string;
  readonly databases: string;
  readonly containers: string;
  readonly changes: string;

  constructor(schema: string) {
    this.schema = `"${checkSchema(schema)}"`;
    this.databases = `${this.schema}.databases`;
    this.containers = `${this.schema}.containers`;
    this.changes = `${this.schema}.changes`;
  }

  /** The items table of the container the catalog numbered `serial`. */
  items(serial: string): string {
    if (!/^[0-9]{1,18}$/.test(serial)) throw new Error(`not a container serial: ${serial}`);
    return `${this.schema}.items_${serial}`;
  }
}

/** Creates the schema and the catalog (idempotent; run in a transaction after {@link lockStatement}). */
export function schemaDdl(n: Names): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${n.schema}`,
    `CREATE TABLE IF NOT EXISTS ${n.databases} (id text COLLATE "C" PRIMARY KEY, created bigint NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${n.containers} (
       database text COLLATE "C" NOT NULL REFERENCES ${n.databases} (id) ON DELETE CASCADE,
       id text COLLATE "C" NOT NULL,
       serial bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
       definition jsonb NOT NULL,
       PRIMARY KEY (database, id))`,
    `CREATE SEQUENCE IF NOT EXISTS ${n.changes}`,
  ];
}

/** Serialises schema changes between processes: `SELECT pg_advisory_xact_lock(hashtext($1))`, $1 the lock's name. */
export const lockStatement = 'SELECT pg_advisory_xact_lock(hashtext($1::text))';

/** The items table of one container and its indexes. */
export function containerDdl(n: Names, serial: string): string[] {
  const t = n.items(serial);
  const short = `items_${serial}`;
  return [
    `CREATE TABLE ${t} (
       pk text COLLATE "C" NOT NULL,
       id text COLLATE "C" NOT NULL,
       range integer NOT NULL,
       doc jsonb NOT NULL,
       etag text NOT NULL,
       expires_at bigint,
       txid xid8 NOT NULL,
       seq bigint NOT NULL,
       PRIMARY KEY (pk, id))`,
    `CREATE INDEX ${short}_feed ON ${t} (txid, seq)`,
    `CREATE INDEX ${short}_range ON ${t} (range, txid, seq)`,
    `CREATE INDEX ${short}_expiry ON ${t} (expires_at) WHERE expires_at IS NOT NULL`,
    `CREATE INDEX ${short}_doc ON ${t} USING gin (doc jsonb_path_ops)`,
  ];
}
