/**
 * The driver for both PostgreSQL drivers — one dialect: the `pg` pool (`postgres://…`) and PGlite
 * (`pglite://DIR`) differ only in the {@link SqlExecutor} they hand this class. Point operations
 * are single statements (`statements.ts`); batches and patches lock the partition and its rows in
 * a transaction and apply the reference semantics (`mutation.ts`) in process; queries are
 * translated (`translate.ts`); the change feed is commit-safe (`feed.ts`).
 * @module
 */
import { createHash } from 'node:crypto';
import type {
  CatalogOp,
  CatalogResults,
  ChangesPage,
  ChangesRequest,
  ContainerDefinition,
  DocumentDriver,
  ItemVersion,
  PartitionRef,
  QueryPage,
  QueryRequest,
  StoredItem,
  WriteContext,
  WriteOp,
  WriteResult,
} from '../../driver.ts';
import { closedError, notFound, preconditionFailed, StoreError } from '../../errors.ts';
import { fnv1a, type Json, type JsonObject } from '../../json.ts';
import { applyWrite, atIndex, itemExists, itemNotFound } from '../../mutation.ts';
import { runCatalog } from './catalog.ts';
import { isConnectionFailure, type SqlExecutor, type SqlQuery, sqlState, toStoreFailure } from './executor.ts';
import { readChanges } from './feed.ts';
import { lockStatement, Names, schemaDdl } from './schema.ts';
import { type ContainerStatements, containerStatements } from './statements.ts';
import { translateQuery, validAfter } from './translate.ts';

export interface SqlDriverOptions {
  readonly kind: string;
  /** @default 'hubbub_store' */
  readonly schema: string;
  /** Opens the connection(s); called by `open()`. */
  readonly connect: () => Promise<SqlExecutor>;
}

/** How often a read is tried when connections turn out dead. */
const READ_ATTEMPTS = 3;

/** How often a batch or patch is retried when a concurrent insert of one of its ids beat it. */
const BATCH_ATTEMPTS = 3;

export class SqlDriver implements DocumentDriver {
  readonly kind: string;
  readonly names: Names;
  readonly #connect: () => Promise<SqlExecutor>;
  #executor: SqlExecutor | undefined;
  readonly #statements = new Map<string, ContainerStatements>();
  readonly #statementPrefix: string;

  constructor(options: SqlDriverOptions) {
    this.kind = options.kind;
    this.names = new Names(options.schema);
    this.#connect = options.connect;
    this.#statementPrefix = `hs_${createHash('sha256').update(options.schema).digest('hex').slice(0, 10)}_`;
  }

  async open(): Promise<void> {
    if (this.#executor !== undefined) return;
    const executor = await this.#connect();
    try {
      await executor.transaction(async (q) => {
        await q(lockStatement, [`hubbub-store:${this.names.schema}`]);
        for (const ddl of schemaDdl(this.names)) await q(ddl);
      });
    } catch (err) {
      await executor.close().catch(() => {});
      throw toStoreFailure(err);
    }
    this.#executor = executor;
  }

  async close(): Promise<void> {
    const executor = this.#executor;
    this.#executor = undefined;
    this.#statements.clear();
    await executor?.close();
  }

  /** The executor, for tests that need to reach the database beside the driver. */
  get executor(): SqlExecutor {
    if (this.#executor === undefined) throw closedError();
    return this.#executor;
  }

  async catalog<O extends CatalogOp>(op: O): Promise<CatalogResults[O['op']]> {
    return (await this.#guard(undefined, () => runCatalog(this.executor, this.names, op))) as CatalogResults[O['op']];
  }

  async read(
    def: ContainerDefinition,
    partition: PartitionRef,
    id: string,
    now: number,
  ): Promise<StoredItem | undefined> {
    return this.#guard(def, async () => {
      const s = this.#for(def);
      const { rows } = await this.#reading(() =>
        this.executor.query(s.read, [partition.key, id, now], `${this.#prefix(def)}r`),
      );
      const row = rows[0];
      return row === undefined ? undefined : { doc: row.doc as JsonObject, etag: row.etag as string };
    });
  }

  async write(
    def: ContainerDefinition,
    partition: PartitionRef,
    ops: readonly WriteOp[],
    context: WriteContext,
  ): Promise<WriteResult[]> {
    return this.#guard(def, async () => {
      const op = ops[0];
      if (ops.length === 1 && op !== undefined && op.op !== 'patch' && op.op !== 'read') {
        return [await this.#single(def, partition, op, context)];
      }
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.executor.transaction((q) => this.#batch(q, def, partition, ops, context));
        } catch (err) {
          // a concurrent insert of an id the batch found absent: read again and re-apply
          if (sqlState(err) !== '23505' || attempt >= BATCH_ATTEMPTS) throw err;
        }
      }
    });
  }

  /**
   * Creates rows of any partitions in one statement. PGlite runs one statement at a time, so it
   * needs no partition locks (its feed horizon is always the present); on PostgreSQL the
   * statement takes the partitions' locks first, in key order (no deadlock with another writer: a
   * batch or point write locks one partition), before its txid.
   */
  async createMany(
    def: ContainerDefinition,
    items: readonly { readonly partition: PartitionRef; readonly id: string; readonly item: ItemVersion }[],
    context: WriteContext,
  ): Promise<boolean[]> {
    return this.#guard(def, async () => {
      if (items.length === 0) return [];
      const s = this.#for(def);
      const values = [
        items.map((i) => i.partition.key),
        items.map((i) => i.id),
        items.map((i) => i.partition.range),
        items.map((i) => i.item.json),
        items.map((i) => i.item.etag),
        items.map((i) => i.item.expiresAt),
        context.now,
      ];
      const { rows } =
        this.kind === 'pglite'
          ? await this.executor.query(s.createMany, values)
          : await this.executor.query(s.createManyLocked, [...values, this.lockKey(def)]);
      const written = new Set(rows.map((r) => `${r.pk as string}\u0000${r.id as string}`));
      return items.map((i) => written.has(`${i.partition.key}\u0000${i.id}`));
    });
  }

  /** Point reads of rows of any partitions in one statement. */
  async readMany(
    def: ContainerDefinition,
    items: readonly { readonly partition: PartitionRef; readonly id: string }[],
    now: number,
  ): Promise<(StoredItem | undefined)[]> {
    return this.#guard(def, async () => {
      if (items.length === 0) return [];
      const s = this.#for(def);
      const { rows } = await this.#reading(() =>
        this.executor.query(s.readMany, [items.map((i) => i.partition.key), items.map((i) => i.id), now]),
      );
      const found = new Map<string, StoredItem>();
      for (const r of rows)
        found.set(`${r.pk as string}\u0000${r.id as string}`, { doc: r.doc as JsonObject, etag: r.etag as string });
      return items.map((i) => found.get(`${i.partition.key}\u0000${i.id}`));
    });
  }

  /** One create / upsert / replace / delete as one statement. */
  async #single(
    def: ContainerDefinition,
    partition: PartitionRef,
    op: Exclude<WriteOp, { op: 'patch' | 'read' }>,
    context: WriteContext,
  ): Promise<WriteResult> {
    const s = this.#for(def);
    const name = this.#prefix(def);
    const q = this.executor.query;
    if (op.op === 'delete') {
      const values = [partition.key, op.id, context.now, ...(op.ifMatch === undefined ? [] : [op.ifMatch])];
      const { rows } = await q(
        op.ifMatch === undefined ? s.delete : s.deleteIfMatch,
        values,
        `${name}d${values.length}`,
      );
      if (rows.length === 0) await this.#missOrStale(def, partition, op.id, op.ifMatch, context.now);
      return { status: 204 };
    }
    const { item } = op;
    const values = [
      partition.key,
      op.id,
      partition.range,
      item.json,
      item.etag,
      item.expiresAt,
      context.now,
      this.lockKey(def),
    ];
    if (op.op === 'create') {
      const { rows } = await q(s.create, values, `${name}c`);
      if (rows.length === 0) throw itemExists(op.id);
      return { status: 201, etag: item.etag };
    }
    if (op.op === 'upsert' && op.ifMatch === undefined) {
      const { rows } = await q(s.upsert, values, `${name}u`);
      return { status: rows[0]?.existed === 1 ? 200 : 201, etag: item.etag };
    }
    const ifMatch = op.ifMatch;
    const { rows } = await q(
      ifMatch === undefined ? s.replace : s.replaceIfMatch,
      ifMatch === undefined ? values : [...values, ifMatch],
      `${name}${ifMatch === undefined ? 'p' : 'pm'}`,
    );
    if (rows.length === 0) {
      if (op.op === 'upsert') throw preconditionFailed(op.id); // ifMatch on an absent or changed item
      await this.#missOrStale(def, partition, op.id, ifMatch, context.now);
    }
    return { status: 200, etag: item.etag };
  }

  /** After a conditional write matched no row: absent (404) or changed (412)? */
  async #missOrStale(
    def: ContainerDefinition,
    partition: PartitionRef,
    id: string,
    ifMatch: string | undefined,
    now: number,
  ): Promise<never> {
    if (ifMatch === undefined) throw itemNotFound(id);
    const current = await this.read(def, partition, id, now);
    throw current === undefined ? itemNotFound(id) : preconditionFailed(id);
  }

  async #batch(
    q: SqlQuery,
    def: ContainerDefinition,
    partition: PartitionRef,
    ops: readonly WriteOp[],
    context: WriteContext,
  ): Promise<WriteResult[]> {
    const s = this.#for(def);
    await q(s.lockPartition, [this.lockKey(def), partition.key]);
    const ids = [...new Set(ops.map((o) => o.id))];
    const { rows } = await q(s.selectForUpdate, [partition.key, ids]);
    const present = new Set(rows.map((r) => r.id as string));
    const working = new Map<string, StoredItem | undefined>();
    for (const r of rows) {
      const expired = r.expires_at !== null && Number(r.expires_at) <= context.now;
      working.set(r.id as string, expired ? undefined : { doc: r.doc as JsonObject, etag: r.etag as string });
    }
    const changed = new Map<string, { json: string; etag: string; expiresAt: number | null } | null>();
    const results = ops.map((op, index) => {
      try {
        const outcome = applyWrite(working.get(op.id), op, def, context);
        if (outcome.next !== undefined) {
          changed.delete(op.id);
          changed.set(op.id, outcome.next);
          working.set(
            op.id,
            outcome.next === null ? undefined : { doc: JSON.parse(outcome.next.json), etag: outcome.next.etag },
          );
        }
        return outcome.result;
      } catch (err) {
        throw atIndex(err, index, ops.length);
      }
    });
    for (const [id, next] of changed) {
      if (next === null) {
        if (present.has(id)) await q(s.deleteRow, [partition.key, id]);
      } else {
        const values = [partition.key, id, partition.range, next.json, next.etag, next.expiresAt];
        await q(present.has(id) ? s.update : s.insert, values);
      }
    }
    return results;
  }

  async query(def: ContainerDefinition, request: QueryRequest): Promise<QueryPage> {
    if (request.after !== undefined && !validAfter(request.after, request.query.orderBy.length)) {
      throw new StoreError('STORE_INVALID_CONTINUATION', 'The continuation token does not fit this query.');
    }
    return this.#guard(def, async () => {
      const statement = translateQuery(request.query, {
        table: this.names.items(def.handle),
        offset: request.offset,
        limit: request.limit,
        now: request.now,
        ...(request.partitionKey === undefined ? {} : { partitionKey: request.partitionKey }),
        ...(request.after === undefined ? {} : { after: request.after }),
      });
      const { rows } = await this.#reading(() => this.executor.query(statement.text, statement.values));
      if (request.query.select.kind === 'count') return { rows: rows.map((r) => r.v as Json), more: false };
      const page = rows.slice(0, request.limit);
      const keys = request.query.orderBy.length * 3;
      const lastRow = page[page.length - 1];
      const last =
        lastRow === undefined
          ? undefined
          : [
              ...Array.from({ length: keys }, (_, i) => lastRow[`k${i}`] as Json),
              lastRow.pk as string,
              lastRow.id as string,
            ];
      return {
        rows: page.map((r) => r.v as Json),
        ...(last === undefined ? {} : { last }),
        more: rows.length > request.limit,
      };
    });
  }

  async changes(def: ContainerDefinition, request: ChangesRequest): Promise<ChangesPage> {
    return this.#guard(def, () =>
      this.#reading(() => readChanges(this.executor.query, this.names.items(def.handle), this.lockKey(def), request)),
    );
  }

  async sweep(def: ContainerDefinition, now: number, limit: number): Promise<number> {
    return this.#guard(def, async () => (await this.executor.query(this.#for(def).sweep, [now, limit])).rowCount);
  }

  #for(def: ContainerDefinition): ContainerStatements {
    let s = this.#statements.get(def.handle);
    if (s === undefined) {
      s = containerStatements(this.names, def.handle);
      this.#statements.set(def.handle, s);
    }
    return s;
  }

  /**
   * The first key of a container's partition locks (`pg_advisory_xact_lock(key, hashtext(pk))`):
   * a hash of schema and serial, so containers of different schemas in one database do not share
   * locks (a collision would only make writers wait for each other and feeds more cautious).
   */
  lockKey(def: ContainerDefinition): number {
    return fnv1a(`${this.names.schema}.${def.handle}`) | 0;
  }

  /** Prepared-statement names: unique per schema and container. */
  #prefix(def: ContainerDefinition): string {
    return `${this.#statementPrefix}${def.handle}_`;
  }

  /**
   * Runs a read again when its connection turned out to be dead (a pooled connection the server
   * closed while it sat idle fails the first statement sent on it). Writes are never retried: their
   * outcome is unknown, and STORE_UNAVAILABLE says so.
   */
  async #reading<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (attempt >= READ_ATTEMPTS || !isConnectionFailure(err)) throw err;
      }
    }
  }

  /** Maps database failures: a dropped table is the container gone; the rest via {@link toStoreFailure}. */
  async #guard<T>(def: ContainerDefinition | undefined, work: () => Promise<T>): Promise<T> {
    if (this.#executor === undefined) throw closedError();
    try {
      return await work();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      if (def !== undefined && sqlState(err) === '42P01') {
        this.#statements.delete(def.handle);
        throw notFound(`The container '${def.id}'`, { database: def.database, container: def.id });
      }
      throw toStoreFailure(err);
    }
  }
}
