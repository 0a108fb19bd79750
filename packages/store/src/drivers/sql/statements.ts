/**
 * The point-operation statements of one container, built once per container and reused (named
 * prepared statements on `pg`). Each write is one statement in its own transaction:
 *
 * - It first takes `pg_advisory_xact_lock(lockKey, hashtext(pk))` — the partition's write lock,
 *   held until commit — in a FROM subquery evaluated before the row's `pg_current_xact_id()`, so
 *   that one partition's changes take their txids in commit order (see `feed.ts`).
 * - `create` inserts, or overwrites only a row that has expired (`ON CONFLICT … WHERE
 *   expires_at <= now`): no row back means the id exists.
 * - `replace` / `delete` / conditional `upsert` match `etag = $ifMatch` in the WHERE clause: no row
 *   back means absent or stale, told apart by a read only on that path.
 * @module
 */
import type { Names } from './schema.ts';

export interface ContainerStatements {
  readonly read: string;
  readonly create: string;
  /**
   * `createMany`: one insert of every row (arrays $1 pk, $2 id, $3 range, $4 doc, $5 etag,
   * $6 expires_at; $7 now), in order, overwriting only expired rows; the rows it wrote come back.
   * `createManyLocked` first takes the partitions' locks ($8 lock key), in key order, all of them
   * before the row's txid is taken (PostgreSQL); `createMany` takes none (PGlite).
   */
  readonly createMany: string;
  readonly createManyLocked: string;
  /** `readMany`: the live rows of (arrays $1 pk, $2 id), $3 now. */
  readonly readMany: string;
  readonly upsert: string;
  readonly replace: string;
  readonly replaceIfMatch: string;
  readonly delete: string;
  readonly deleteIfMatch: string;
  /** Batch / patch path: the partition lock, then the rows named, locked. */
  readonly lockPartition: string;
  readonly selectForUpdate: string;
  /** Batch / patch path: insert a row that was absent (a concurrent insert makes it fail, and the batch retry). */
  readonly insert: string;
  /** Batch / patch path: overwrite a row held locked. */
  readonly update: string;
  readonly deleteRow: string;
  readonly sweep: string;
}

/**
 * Parameters of the write statements: $1 pk, $2 id, $3 range, $4 doc, $5 etag, $6 expires_at,
 * $7 now, $8 the container's lock key, $9 ifMatch.
 */
export function containerStatements(n: Names, serial: string): ContainerStatements {
  const t = n.items(serial);
  const live = '(expires_at IS NULL OR expires_at > $7::bigint)';
  const lock = '(SELECT pg_advisory_xact_lock($8::int, hashtext($1::text))) AS partition_lock';
  const row = `$1::text, $2::text, $3::int, $4::jsonb, $5::text, $6::bigint, pg_current_xact_id(), nextval('${n.changes}')`;
  const columns = '(pk, id, range, doc, etag, expires_at, txid, seq)';
  const overwrite =
    'range = EXCLUDED.range, doc = EXCLUDED.doc, etag = EXCLUDED.etag, expires_at = EXCLUDED.expires_at, ' +
    'txid = EXCLUDED.txid, seq = EXCLUDED.seq';
  const insertMany =
    `INSERT INTO ${t} AS t ${columns} ` +
    `SELECT x.pk, x.id, x.range, x.doc::jsonb, x.etag, x.expires_at, pg_current_xact_id(), nextval('${n.changes}')`;
  const rows =
    '(SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[]) ' +
    'WITH ORDINALITY AS u(pk, id, range, doc, etag, expires_at, ord) ORDER BY ord) AS x';
  const onConflictMany = `ON CONFLICT (pk, id) DO UPDATE SET ${overwrite} WHERE t.expires_at IS NOT NULL AND t.expires_at <= $7::bigint RETURNING t.pk, t.id`;
  const set = `range = $3::int, doc = $4::jsonb, etag = $5::text, expires_at = $6::bigint, txid = pg_current_xact_id(), seq = nextval('${n.changes}')`;
  return {
    read: `SELECT doc, etag FROM ${t} WHERE pk = $1::text AND id = $2::text AND (expires_at IS NULL OR expires_at > $3::bigint)`,
    create:
      `INSERT INTO ${t} AS t ${columns} SELECT ${row} FROM ${lock} ` +
      `ON CONFLICT (pk, id) DO UPDATE SET ${overwrite} WHERE t.expires_at IS NOT NULL AND t.expires_at <= $7::bigint RETURNING 1 AS ok`,
    readMany:
      `SELECT t.pk, t.id, t.doc, t.etag FROM ${t} AS t JOIN unnest($1::text[], $2::text[]) AS u(pk, id) ` +
      'ON t.pk = u.pk AND t.id = u.id WHERE (t.expires_at IS NULL OR t.expires_at > $3::bigint)',
    createMany: `${insertMany} FROM ${rows} ${onConflictMany}`,
    // The one-row lock subquery is evaluated in full (an aggregate) before the join yields a row,
    // so every lock is held before pg_current_xact_id() runs, as in `create`.
    createManyLocked:
      `${insertMany} FROM (SELECT count(pg_advisory_xact_lock($8::int, hashtext(k.pk))) AS n ` +
      `FROM (SELECT DISTINCT u.pk COLLATE "C" AS pk FROM unnest($1::text[]) AS u(pk) ORDER BY 1) AS k) AS partition_locks, ` +
      `${rows} ${onConflictMany}`,
    upsert:
      `WITH previous AS (SELECT 1 FROM ${t} WHERE pk = $1::text AND id = $2::text AND ${live}) ` +
      `INSERT INTO ${t} AS t ${columns} SELECT ${row} FROM ${lock} ` +
      `ON CONFLICT (pk, id) DO UPDATE SET ${overwrite} RETURNING (SELECT count(*) FROM previous)::int AS existed`,
    replace: `UPDATE ${t} SET ${set} FROM ${lock} WHERE pk = $1::text AND id = $2::text AND ${live} RETURNING 1 AS ok`,
    replaceIfMatch: `UPDATE ${t} SET ${set} FROM ${lock} WHERE pk = $1::text AND id = $2::text AND ${live} AND etag = $9::text RETURNING 1 AS ok`,
    delete: `DELETE FROM ${t} WHERE pk = $1::text AND id = $2::text AND (expires_at IS NULL OR expires_at > $3::bigint) RETURNING 1 AS ok`,
    deleteIfMatch: `DELETE FROM ${t} WHERE pk = $1::text AND id = $2::text AND (expires_at IS NULL OR expires_at > $3::bigint) AND etag = $4::text RETURNING 1 AS ok`,
    lockPartition: 'SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', // $1 lock key, $2 pk
    selectForUpdate: `SELECT id, doc, etag, expires_at::text AS expires_at FROM ${t} WHERE pk = $1::text AND id = ANY($2::text[]) FOR UPDATE`,
    insert: `INSERT INTO ${t} ${columns} VALUES (${row.replace(', pg_current_xact_id()', ', pg_current_xact_id()')})`,
    update: `UPDATE ${t} SET ${set} WHERE pk = $1::text AND id = $2::text`,
    deleteRow: `DELETE FROM ${t} WHERE pk = $1::text AND id = $2::text`,
    sweep:
      `DELETE FROM ${t} WHERE (pk, id) IN (SELECT pk, id FROM ${t} WHERE expires_at <= $1::bigint LIMIT $2::int) ` +
      'AND expires_at <= $1::bigint',
  };
}
