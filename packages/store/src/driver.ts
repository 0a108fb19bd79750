/**
 * The storage port of the store: what a driver (`memory://`, `pglite://DIR`, `postgres://…`) does.
 *
 * Where the line sits, and why: the client (`client/`) owns the Cosmos semantics that need no
 * storage — validating items, partition keys and system properties, stamping `_etag`/`_ts`,
 * computing TTL expiry, paging tokens, change-feed leases (plain items in a lease container) and
 * waking feed readers. A driver owns what must be atomic or close to the data: conditional writes
 * (etag checks, create-if-absent, transactional batches within one partition), queries (the SQL
 * drivers translate the parsed query to SQL, the memory driver evaluates it), the change feed in
 * commit-safe order, and deleting expired items. Every time-dependent call carries `now` from the
 * client's injected clock, so a driver never reads a clock of its own.
 *
 * Every implementation runs the conformance suite in `conformance/` (`@hubbub/store/driver`).
 * @module
 */
import type { Json, JsonObject } from './json.ts';
import type { PatchOperation } from './patch.ts';
import type { Query } from './query/ast.ts';

/** A container as stored in the catalog. */
export interface ContainerDefinition {
  readonly database: string;
  readonly id: string;
  /** The partition key path, e.g. `/customerId`. */
  readonly partitionKeyPath: string;
  /** Seconds; `-1` = TTL on without a default; absent = TTL off (item `ttl` is ignored). */
  readonly defaultTtl?: number;
  /** Number of change-feed ranges partitions are hashed into (what leases split). */
  readonly feedRanges: number;
  /** Creation time, seconds since the epoch (Cosmos `_ts`). */
  readonly created: number;
  /** The driver's own handle for the container's storage (opaque to the client). */
  readonly handle: string;
}

export interface DatabaseDefinition {
  readonly id: string;
  readonly created: number;
}

export type CatalogOp =
  | { readonly op: 'createDatabase'; readonly id: string; readonly created: number }
  | { readonly op: 'deleteDatabase'; readonly id: string }
  | { readonly op: 'listDatabases' }
  | { readonly op: 'createContainer'; readonly definition: Omit<ContainerDefinition, 'handle'> }
  | { readonly op: 'deleteContainer'; readonly database: string; readonly id: string }
  /** The containers of one database, or of all databases. */
  | { readonly op: 'listContainers'; readonly database?: string };

/** What each catalog operation resolves with. */
export interface CatalogResults {
  createDatabase: DatabaseDefinition;
  deleteDatabase: undefined;
  listDatabases: DatabaseDefinition[];
  createContainer: ContainerDefinition;
  deleteContainer: undefined;
  listContainers: ContainerDefinition[];
}

/** The logical partition an operation addresses. */
export interface PartitionRef {
  /** The partition key value, JSON-encoded (`"c-1"`, `42`, `true`, `null`). */
  readonly key: string;
  /** The change-feed range the partition hashes into. */
  readonly range: number;
}

/** A new version of an item, stamped by the client. */
export interface ItemVersion {
  /** The whole item as JSON text, system properties included. */
  readonly json: string;
  readonly etag: string;
  /** Expiry in ms since the epoch on the client's clock; null = never. */
  readonly expiresAt: number | null;
}

/** Fresh system properties for an item a driver computes itself (patch). */
export interface Stamp {
  readonly etag: string;
  /** `_ts`: seconds since the epoch. */
  readonly ts: number;
}

export type WriteOp =
  | { readonly op: 'create'; readonly id: string; readonly item: ItemVersion }
  | { readonly op: 'upsert'; readonly id: string; readonly item: ItemVersion; readonly ifMatch?: string }
  | { readonly op: 'replace'; readonly id: string; readonly item: ItemVersion; readonly ifMatch?: string }
  | { readonly op: 'delete'; readonly id: string; readonly ifMatch?: string }
  | {
      readonly op: 'patch';
      readonly id: string;
      readonly operations: readonly PatchOperation[];
      /** A filter the current item must pass (`FROM c WHERE …`), else STORE_PRECONDITION_FAILED. */
      readonly condition?: Query;
      readonly ifMatch?: string;
      readonly stamp: Stamp;
    }
  | { readonly op: 'read'; readonly id: string };

export interface WriteContext {
  /** The client's clock: items with `expiresAt <= now` count as absent. */
  readonly now: number;
  /** Size limit for items a driver builds itself (patch), in UTF-8 bytes of their JSON. */
  readonly maxItemBytes: number;
}

export interface WriteResult {
  /** 201 created, 200 replaced/patched/read, 204 deleted. */
  readonly status: 200 | 201 | 204;
  readonly etag?: string;
  /** The item, for `read` and `patch` (the others return what the client sent). */
  readonly doc?: JsonObject;
}

export interface StoredItem {
  readonly doc: JsonObject;
  readonly etag: string;
}

export interface QueryRequest {
  /** The query with its parameters bound (no `param` nodes left). */
  readonly query: Query;
  /** Restricts to one partition (JSON-encoded key); absent = cross-partition. */
  readonly partitionKey?: string;
  /** The sort key of the last row of the previous page, as this driver returned it. */
  readonly after?: readonly Json[];
  /** Rows to skip first (OFFSET; only on the first page). */
  readonly offset: number;
  /** Rows to return at most. */
  readonly limit: number;
  readonly now: number;
}

export interface QueryPage {
  readonly rows: Json[];
  /** The sort key of the last row (give it back as `after`); absent when no row came back. */
  readonly last?: Json[];
  /** Whether rows beyond `limit` exist. */
  readonly more: boolean;
}

export interface ChangesRequest {
  /** Only this feed range; absent = the whole container. */
  readonly range?: number;
  /** Only this partition (JSON-encoded key). */
  readonly partitionKey?: string;
  /** A position this driver returned, or where to begin. */
  readonly after: string | 'beginning' | 'now';
  readonly limit: number;
  readonly now: number;
}

export interface ChangesPage {
  /** The latest version of each changed item, in change order (per partition, and per container). */
  readonly items: JsonObject[];
  /** Where to continue from; the same position when nothing changed. */
  readonly position: string;
}

/** A storage driver. See the module comment for what belongs here. */
export interface DocumentDriver {
  /** `memory`, `pglite`, `postgres` … */
  readonly kind: string;
  /** Connects, creates the schema if missing. */
  open(): Promise<void>;
  /** Releases connections, files and locks. Idempotent. */
  close(): Promise<void>;
  /** Databases and containers. Fails with STORE_NOT_FOUND / STORE_CONFLICT. */
  catalog<O extends CatalogOp>(op: O): Promise<CatalogResults[O['op']]>;
  /** One item, or undefined when it does not exist or has expired. */
  read(
    container: ContainerDefinition,
    partition: PartitionRef,
    id: string,
    now: number,
  ): Promise<StoredItem | undefined>;
  /**
   * Applies the operations in order, atomically: all or none. A failing operation rejects with its
   * StoreError (`detail.index` set when there is more than one operation).
   */
  write(
    container: ContainerDefinition,
    partition: PartitionRef,
    ops: readonly WriteOp[],
    context: WriteContext,
  ): Promise<WriteResult[]>;
  /**
   * Optional: creates items of any partitions together (the client's `bulk` hands its creates
   * here) — each is created unless a live item with its id exists in its partition (`false` at its
   * index; an expired one is overwritten, as `create` does). Items repeat no (partition, id). Not
   * promised atomic: when it rejects, some of the items may have been written. Without it the
   * client creates them one by one.
   */
  createMany?(
    container: ContainerDefinition,
    items: readonly { readonly partition: PartitionRef; readonly id: string; readonly item: ItemVersion }[],
    context: WriteContext,
  ): Promise<boolean[]>;
  /**
   * Optional: point reads of items of any partitions together (the client's `bulk` hands its
   * reads here) — each answers as `read` does, at its index. Without it the client reads one by one.
   */
  readMany?(
    container: ContainerDefinition,
    items: readonly { readonly partition: PartitionRef; readonly id: string }[],
    now: number,
  ): Promise<(StoredItem | undefined)[]>;
  /** One page of a query. */
  query(container: ContainerDefinition, request: QueryRequest): Promise<QueryPage>;
  /** One page of the change feed. Never skips a change whose transaction commits late. */
  changes(container: ContainerDefinition, request: ChangesRequest): Promise<ChangesPage>;
  /** Deletes at most `limit` items expired at `now`; resolves with how many. */
  sweep(container: ContainerDefinition, now: number, limit: number): Promise<number>;
}
