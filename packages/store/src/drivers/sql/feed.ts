/**
 * The change feed on PostgreSQL, and why it never skips a change.
 *
 * The problem: a sequence number is taken when a row is written, but becomes visible when its
 * transaction commits. Transaction A takes seq 10, B takes seq 11, B commits first; a reader that
 * reads "seq > 9" now sees 11, moves its cursor to 11, and never sees 10 once A commits.
 *
 * The choice: every write also stores its transaction id, `txid = pg_current_xact_id()` (an
 * `xid8`, which never wraps), and the feed is ordered by `(txid, seq)`. Every writer of a container
 * first takes a transaction-scoped advisory lock on (container, partition key), before its
 * transaction has an xid, and holds it until it ends (`statements.ts`). A read of the feed then
 * takes two statements. The first computes a horizon H: the snapshot's `xmax` (no transaction that
 * starts later gets a smaller xid), lowered to the xid of every transaction that holds one of the
 * container's advisory locks right now. The second reads rows with `txid < H`, in a newer snapshot.
 * Why nothing is skipped: a writer whose txid is below H did not hold the lock during the first
 * statement (else H would be at most its txid) and did not start after it (else its txid would be
 * at least xmax), so it had ended before — and PostgreSQL releases locks only after a commit is
 * visible, so the second statement sees its rows. Writers that end later all have txids of H or
 * more and land after the reader's cursor. Rows of one transaction keep their write order by
 * `seq`. Per partition the order is also commit order: the partition's lock makes its writers take
 * their txids one after another, each after the previous one committed.
 *
 * Why not the alternatives: a commit-ordered log written under a lock (take a lock, then the
 * sequence number) serialises every writer of a container through one lock held until commit;
 * logical decoding is exact but needs server configuration and is not available in PGlite; the
 * plain horizon `pg_snapshot_xmin(pg_current_snapshot())` is simpler but every long transaction
 * anywhere in the cluster (xids are cluster-wide) would hold every feed back. Here only a long
 * transaction of the container's own writers delays its feed — it delays changes, never loses
 * them. PGlite has one connection, so its horizon is always the present.
 *
 * Positions are `<txid>:<seq>` after the last row returned; the item row carries only its latest
 * version (latest-version mode), deletes leave nothing, expired rows are skipped.
 * @module
 */
import type { ChangesPage, ChangesRequest } from '../../driver.ts';
import { StoreError } from '../../errors.ts';
import type { JsonObject } from '../../json.ts';
import type { SqlQuery } from './executor.ts';

const badPosition = (): StoreError =>
  new StoreError('STORE_INVALID_CONTINUATION', 'The change-feed position is not one this driver wrote.');

/** `<txid>:<seq>` → its parts, checked. */
export function parsePosition(text: string): [string, string] {
  const m = /^([0-9]{1,19}):(-1|[0-9]{1,19})$/.exec(text);
  if (m === null) throw badPosition();
  return [m[1]!, m[2]!];
}

const horizonStatement = `WITH l AS MATERIALIZED (SELECT locktype, classid, objsubid, transactionid, pid, granted FROM pg_locks)
  SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax,
    ARRAY(SELECT x.transactionid::text FROM l AS a JOIN l AS x ON x.pid = a.pid AND x.locktype = 'transactionid' AND x.granted
          WHERE a.locktype = 'advisory' AND a.classid = $1::oid AND a.objsubid = 2) AS xids`;

const WRAP = 1n << 32n;
const HALF = 1n << 31n;

/** A 32-bit xid as the xid8 nearest to `near` (xid8s within 2^31 of each other). */
export function widenXid(xid: bigint, near: bigint): bigint {
  let x = (near / WRAP) * WRAP + xid;
  if (x > near + HALF) x -= WRAP;
  else if (x < near - HALF) x += WRAP;
  return x;
}

/** Below this xid every writer of the container has ended (see the module comment). */
async function horizon(query: SqlQuery, lockKey: number): Promise<bigint> {
  const { rows } = await query(horizonStatement, [String(lockKey >>> 0)]);
  const xmax = BigInt(rows[0]!.xmax as string);
  let h = xmax;
  for (const x of rows[0]!.xids as string[]) {
    const held = widenXid(BigInt(x), xmax);
    if (held < h) h = held;
  }
  return h;
}

/**
 * One page of the feed of the container whose table is `table` and whose writers lock with
 * `lockKey` as the first key.
 */
export async function readChanges(
  query: SqlQuery,
  table: string,
  lockKey: number,
  request: ChangesRequest,
): Promise<ChangesPage> {
  const h = await horizon(query, lockKey);
  if (request.after === 'now') return { items: [], position: `${h}:-1` };
  const [txid, seq] = request.after === 'beginning' ? ['0', '0'] : parsePosition(request.after);
  const values: unknown[] = [txid, seq, request.now, request.limit, h.toString()];
  const filters: string[] = [];
  if (request.range !== undefined) filters.push(`AND range = $${values.push(request.range)}::int`);
  if (request.partitionKey !== undefined) filters.push(`AND pk = $${values.push(request.partitionKey)}::text`);
  const { rows } = await query(
    `SELECT doc, txid::text AS txid, seq::text AS seq FROM ${table}
     WHERE (txid, seq) > ($1::xid8, $2::bigint) AND txid < $5::xid8
       AND (expires_at IS NULL OR expires_at > $3::bigint) ${filters.join(' ')}
     ORDER BY txid, seq LIMIT $4::int`,
    values,
  );
  const last = rows[rows.length - 1];
  return {
    items: rows.map((r) => r.doc as JsonObject),
    position: last === undefined ? (request.after === 'beginning' ? '0:0' : request.after) : `${last.txid}:${last.seq}`,
  };
}
