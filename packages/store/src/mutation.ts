/**
 * The meaning of each write operation against the current version of an item: the reference the
 * memory driver runs for every write and the SQL drivers run inside a transaction for patches and
 * batches (their single-statement fast paths must agree; the conformance suite checks that).
 * @module
 */
import type { ContainerDefinition, ItemVersion, StoredItem, WriteContext, WriteOp, WriteResult } from './driver.ts';
import { conflict, isStoreError, notFound, preconditionFailed, StoreError } from './errors.ts';
import { expiryOf, stampItem, withoutSystemProperties } from './item.ts';
import type { JsonObject } from './json.ts';
import { applyPatch } from './patch.ts';
import { matches } from './query/evaluate.ts';

export interface Outcome {
  readonly result: WriteResult;
  /** The new version; null = delete; absent = unchanged. */
  readonly next?: ItemVersion | null;
}

export const itemNotFound = (id: string): StoreError => notFound(`The item '${id}'`, { id });
export const itemExists = (id: string): StoreError => conflict(`The item '${id}'`, { id });

/** Applies `op` to `existing` (undefined when absent or expired). Throws the operation's StoreError. */
export function applyWrite(
  existing: StoredItem | undefined,
  op: WriteOp,
  container: ContainerDefinition,
  context: WriteContext,
): Outcome {
  const checkMatch = (ifMatch: string | undefined): void => {
    if (ifMatch !== undefined && existing?.etag !== ifMatch) throw preconditionFailed(op.id);
  };
  switch (op.op) {
    case 'create':
      if (existing !== undefined) throw itemExists(op.id);
      return { result: { status: 201, etag: op.item.etag }, next: op.item };
    case 'upsert':
      checkMatch(op.ifMatch);
      return { result: { status: existing === undefined ? 201 : 200, etag: op.item.etag }, next: op.item };
    case 'read':
      if (existing === undefined) throw itemNotFound(op.id);
      return { result: { status: 200, etag: existing.etag, doc: existing.doc } };
    default:
      break;
  }
  if (existing === undefined) throw itemNotFound(op.id);
  checkMatch(op.ifMatch);
  switch (op.op) {
    case 'replace':
      return { result: { status: 200, etag: op.item.etag }, next: op.item };
    case 'delete':
      return { result: { status: 204 }, next: null };
    default: {
      if (op.condition !== undefined && !matches(op.condition, existing.doc)) throw preconditionFailed(op.id);
      const doc = applyPatch(withoutSystemProperties(existing.doc), op.operations);
      const json = stampItem(doc, op.stamp.etag, op.stamp.ts, context.maxItemBytes);
      const expiresAt = expiryOf(doc, container.defaultTtl, context.now);
      return {
        result: { status: 200, etag: op.stamp.etag, doc: JSON.parse(json) as JsonObject },
        next: { json, etag: op.stamp.etag, expiresAt },
      };
    }
  }
}

/** The error of operation `index` of a batch, with the index in its detail. */
export function atIndex(err: unknown, index: number, count: number): unknown {
  if (count <= 1 || !isStoreError(err)) return err;
  return new StoreError(err.code, `Batch operation ${index}: ${err.message}`, {
    detail: { ...err.detail, index },
    cause: err,
  });
}
