/**
 * The port `cosmosDB` bindings and triggers reach a document store through: a point read, a
 * parameterised query, upserts, and a change-feed subscription with leases. The composition root
 * adapts a store to it (`@hubbub/system` bridges Hubbub's store); tests use a small in-memory one.
 * Query text reaches the port with every binding expression already turned into a parameter.
 * @module
 */
import type { Connection } from '../../connections.ts';

/** A container of a database. */
export interface StoreTarget {
  readonly database: string;
  readonly container: string;
}

/** A query in the Cosmos SQL subset with its `@name` parameters. */
export interface StoreQuery {
  readonly query: string;
  readonly parameters: readonly { readonly name: string; readonly value: unknown }[];
}

/** A document as stored (system properties included). */
export type StoreDocument = Record<string, unknown>;

export interface StoreReadOptions {
  readonly cached?: boolean;
}

export interface StoreUpsertOptions {
  /** Create the database and the container (partitioned by this path) when they are missing. */
  readonly createIfNotExists?: { readonly partitionKeyPath: string };
}

/** Where a subscription's leases live, and whether to create their container. */
export interface StoreLeaseOptions {
  /** The store holding the lease container (the same port, or that of `leaseConnection`). */
  readonly port: StorePort;
  readonly database: string;
  readonly container: string;
  /** Create the lease container (partitioned by `/id`) and its database when missing. */
  readonly createIfNotExists: boolean;
}

export interface StoreChangeOptions {
  /** Subscribers with the same name share the feed through the leases (several host instances). */
  readonly processorName: string;
  readonly leases: StoreLeaseOptions;
  /** Where a range without a checkpoint begins: `'beginning'`, `'now'`, or a time (ms since epoch). */
  readonly startFrom: 'beginning' | 'now' | { readonly time: number };
  /** Most documents in one batch. */
  readonly maxItems: number;
  /** How long to wait between looks for changes made elsewhere once the feed is drained, in ms. */
  readonly pollDelayMs: number;
  /** Lease timings (ms) where the binding sets them; the port's defaults otherwise. */
  readonly leaseExpirationMs?: number | undefined;
  readonly leaseRenewIntervalMs?: number | undefined;
  readonly leaseAcquireIntervalMs?: number | undefined;
  /** A background lease operation failed (the subscription keeps going and retries it). */
  readonly onLeaseError?: (error: unknown) => void;
  /** Ends the iteration (a batch being handled may still be completed). */
  readonly signal: AbortSignal;
}

/** Changed documents of one feed range, latest version of each, in the order they changed. */
export interface StoreChangeBatch {
  readonly documents: readonly StoreDocument[];
  /**
   * Checkpoints past this batch. A batch not completed before the next one is asked for comes again
   * (from the last checkpoint); it rejects when another subscriber took the range over.
   */
  complete(): Promise<void>;
}

export interface StorePort {
  /**
   * One document by id and partition key value; undefined when there is none. Without a partition
   * key, looked up by id alone. `cached`: the app asked for this container's reads to be cached
   * (`CosmosDBCachedReads`); a port may serve them from memory it keeps coherent, or ignore it.
   */
  read(
    target: StoreTarget,
    id: string,
    partitionKey: string | undefined,
    options?: StoreReadOptions,
  ): Promise<StoreDocument | undefined>;
  /** Every result of a query, across partitions unless `partitionKey` is given. */
  query(target: StoreTarget, query: StoreQuery, options: { readonly partitionKey?: string }): Promise<unknown[]>;
  /** Creates or replaces documents (by id within their partition). */
  upsert(target: StoreTarget, documents: readonly StoreDocument[], options: StoreUpsertOptions): Promise<void>;
  /**
   * Batches of changes until `signal` aborts. Rejects (or throws from the iteration) when the
   * watched or the lease container is missing, or the store fails; the trigger subscribes again.
   */
  changes(target: StoreTarget, options: StoreChangeOptions): AsyncIterable<StoreChangeBatch>;
}

/** Picks the store for a connection setting (`{ name, value }`, e.g. CosmosDBConnection = memory://); undefined for none. */
export type StoreResolver = (connection: Connection) => StorePort | undefined | Promise<StorePort | undefined>;
