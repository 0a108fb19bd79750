/**
 * Shapes the client exchanges with callers, after `@azure/cosmos`.
 * @module
 */
import type { PartitionKey } from '../item.ts';

/** An item as stored: whatever the caller wrote, plus the system properties. */
export interface Resource {
  readonly id: string;
  /** Changes on every write; give it back as `ifMatch` for optimistic concurrency. */
  readonly _etag: string;
  /** Last write, seconds since the epoch. */
  readonly _ts: number;
}

export interface ItemResponse<T> {
  /** The item; undefined after a delete, and from `read()` when it does not exist (statusCode 404). */
  readonly resource: (T & Resource) | undefined;
  readonly etag: string | undefined;
  /** 200 read/replaced/patched, 201 created, 204 deleted, 404 (read only) not found. */
  readonly statusCode: number;
}

/** Optimistic concurrency: `ifMatch: etag` (or the `@azure/cosmos` `accessCondition` shape). */
export interface RequestOptions {
  readonly ifMatch?: string;
  readonly accessCondition?: { readonly type: 'IfMatch'; readonly condition: string };
}

export interface FeedOptions {
  /** Restricts a query to one partition; absent = all partitions. */
  readonly partitionKey?: PartitionKey;
  /** Results per page. @default 100 (at most 10,000) */
  readonly maxItemCount?: number;
  /** Where a previous page left off. */
  readonly continuationToken?: string;
}

export interface FeedResponse<T> {
  readonly resources: T[];
  /** Pass it as `continuationToken` to resume after this page; undefined on the last page. */
  readonly continuationToken: string | undefined;
  readonly hasMoreResults: boolean;
}

export type OperationInput =
  | { readonly operationType: 'Create'; readonly resourceBody: object }
  | { readonly operationType: 'Upsert'; readonly resourceBody: object; readonly ifMatch?: string }
  | { readonly operationType: 'Replace'; readonly id: string; readonly resourceBody: object; readonly ifMatch?: string }
  | { readonly operationType: 'Delete'; readonly id: string; readonly ifMatch?: string }
  | { readonly operationType: 'Read'; readonly id: string }
  | {
      readonly operationType: 'Patch';
      readonly id: string;
      readonly resourceBody: PatchRequest;
      readonly ifMatch?: string;
    };

/** An operation of a bulk request: a batch operation with its item's partition key (not needed for `Create`). */
export type BulkOperationInput = OperationInput & { readonly partitionKey?: PartitionKey };

export interface OperationResponse {
  readonly statusCode: number;
  readonly eTag: string | undefined;
  readonly resourceBody: Record<string, unknown> | undefined;
}

/** Patch operations, with an optional SQL filter the item must pass (`FROM c WHERE c.status = 'open'`). */
export type PatchRequest =
  | readonly unknown[]
  | { readonly operations: readonly unknown[]; readonly condition?: string };

export function ifMatchOf(options: RequestOptions | undefined): string | undefined {
  if (options === undefined) return undefined;
  const value = options.ifMatch ?? options.accessCondition?.condition;
  return typeof value === 'string' ? value : undefined;
}
