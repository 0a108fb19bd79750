/**
 * `container.items` (create, upsert, query, batch) and `container.item(id, partitionKey)` (read,
 * replace, patch, delete), in the shape of `@azure/cosmos`.
 * @module
 */
import type { ContainerDefinition, PartitionRef, WriteOp, WriteResult } from '../driver.ts';
import { StoreError } from '../errors.ts';
import { checkId, type PartitionKey } from '../item.ts';
import type { JsonObject } from '../json.ts';
import { itemExists, itemNotFound } from '../mutation.ts';
import type { QuerySpec } from '../query/bind.ts';
import type { StoreCore } from './core.ts';
import { type Prepared, partitionFromOption, prepareItem, preparePatch } from './prepare.ts';
import { QueryIterator } from './query-iterator.ts';
import {
  type BulkOperationInput,
  type FeedOptions,
  type ItemResponse,
  ifMatchOf,
  type OperationInput,
  type OperationResponse,
  type PatchRequest,
  type RequestOptions,
  type Resource,
} from './types.ts';

/** Most operations in one transactional batch (the Cosmos DB limit). */
export const MAX_BATCH_OPERATIONS = 100;

/** Most operations in one bulk request. */
export const MAX_BULK_OPERATIONS = 1_000;

/** A response whose `resource` is parsed from the stored JSON only when first read. */
function response<T>(statusCode: number, etag: string | undefined, json?: string, doc?: JsonObject): ItemResponse<T> {
  let parsed: (T & Resource) | undefined = doc as (T & Resource) | undefined;
  return {
    statusCode,
    etag,
    get resource() {
      if (parsed === undefined && json !== undefined) parsed = JSON.parse(json) as T & Resource;
      return parsed;
    },
  };
}

export class Items {
  readonly #core: StoreCore;
  readonly #database: string;
  readonly #container: string;

  constructor(core: StoreCore, database: string, container: string) {
    this.#core = core;
    this.#database = database;
    this.#container = container;
  }

  /** Creates an item; STORE_CONFLICT when one with its id exists in its partition. */
  create<T extends object>(body: T, options: { partitionKey?: PartitionKey } = {}): Promise<ItemResponse<T>> {
    return this.#write((def) => {
      const p = prepareItem(this.#core.settings, def, body, { partitionKey: options.partitionKey });
      return [p, { op: 'create', id: p.id, item: p.item }];
    });
  }

  /** Creates or replaces an item (201 or 200). With `ifMatch`, only replaces that version. */
  upsert<T extends object>(
    body: T,
    options: RequestOptions & { partitionKey?: PartitionKey } = {},
  ): Promise<ItemResponse<T>> {
    const ifMatch = ifMatchOf(options);
    return this.#write((def) => {
      const p = prepareItem(this.#core.settings, def, body, { partitionKey: options.partitionKey });
      return [p, { op: 'upsert', id: p.id, item: p.item, ...(ifMatch === undefined ? {} : { ifMatch }) }];
    });
  }

  /** A query in the Cosmos SQL subset; nothing runs until the first page is fetched. */
  query<T = unknown>(spec: QuerySpec, options: FeedOptions = {}): QueryIterator<T> {
    return new QueryIterator<T>(this.#core, this.#database, this.#container, spec, options);
  }

  /** Every item (of one partition, when given), page by page. */
  readAll<T = unknown>(options: FeedOptions = {}): QueryIterator<T> {
    return this.query<T>('SELECT * FROM c', options);
  }

  /**
   * A transactional batch in one partition: every operation applies, or none does. A failing
   * operation rejects the whole batch with its error code and `detail.index`.
   */
  batch(operations: readonly OperationInput[], partitionKey: PartitionKey): Promise<{ result: OperationResponse[] }> {
    if (!Array.isArray(operations) || operations.length === 0 || operations.length > MAX_BATCH_OPERATIONS) {
      return Promise.reject(
        new StoreError('STORE_INVALID_BATCH', `A batch holds 1 to ${MAX_BATCH_OPERATIONS} operations.`, {
          detail: { index: -1 },
        }),
      );
    }
    const settings = this.#core.settings;
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      const partition = partitionFromOption(def, partitionKey);
      const ops = operations.map((o, index) => {
        try {
          return batchOp(
            o,
            (body, id) => prepareItem(settings, def, body, { partitionKey, ...(id === undefined ? {} : { id }) }),
            (id, patch, ifMatch) => preparePatch(settings, def, id, patch, ifMatch),
          );
        } catch (err) {
          if (!(err instanceof StoreError)) throw err;
          throw new StoreError(err.code, `Batch operation ${index}: ${err.message}`, {
            detail: { ...err.detail, index },
            cause: err,
          });
        }
      });
      const results = await driver.write(def, partition, ops, {
        now: settings.clock.now(),
        maxItemBytes: settings.maxItemBytes,
      });
      if (ops.some((o) => o.op !== 'read')) this.#core.changed(def.handle);
      return {
        result: results.map((r, i) => {
          const op = ops[i]!;
          const json = op.op === 'create' || op.op === 'upsert' || op.op === 'replace' ? op.item.json : undefined;
          const body = r.doc ?? (json === undefined ? undefined : (JSON.parse(json) as JsonObject));
          return { statusCode: r.status, eTag: r.etag, resourceBody: body };
        }),
      };
    });
  }

  /**
   * Operations on items of any partitions, each on its own, as `@azure/cosmos`'s bulk: not a
   * transaction — every operation answers its own status code, in order (201, 200, 204, or its
   * failure's: 409 an id taken, 404, 412 …); a malformed operation rejects the whole call before
   * anything is written (STORE_INVALID_BATCH, `detail.index`). Operations other than `Create` name
   * their item's `partitionKey`. A request of creates only, or of reads only, reaches the database
   * as one statement on PostgreSQL and PGlite; any other runs one operation after another, in order.
   */
  bulk(operations: readonly BulkOperationInput[]): Promise<OperationResponse[]> {
    if (!Array.isArray(operations) || operations.length === 0 || operations.length > MAX_BULK_OPERATIONS) {
      return Promise.reject(
        new StoreError('STORE_INVALID_BATCH', `A bulk request holds 1 to ${MAX_BULK_OPERATIONS} operations.`, {
          detail: { index: -1 },
        }),
      );
    }
    const settings = this.#core.settings;
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      const ops = operations.map((o, index) => {
        try {
          const pk = (o as { partitionKey?: PartitionKey } | null)?.partitionKey;
          if (o?.operationType !== 'Create' && pk === undefined) {
            throw new StoreError('STORE_INVALID_BATCH', 'partitionKey is required but for Create.', { detail: {} });
          }
          let partition = pk === undefined ? undefined : partitionFromOption(def, pk);
          const op = batchOp(
            o,
            (body, id) => {
              const p = prepareItem(settings, def, body, {
                ...(pk === undefined ? {} : { partitionKey: pk }),
                ...(id === undefined ? {} : { id }),
              });
              partition = p.partition;
              return p;
            },
            (id, patch, ifMatch) => preparePatch(settings, def, id, patch, ifMatch),
          );
          return { op, partition: partition as PartitionRef };
        } catch (err) {
          if (!(err instanceof StoreError)) throw err;
          throw new StoreError(err.code, `Bulk operation ${index}: ${err.message}`, {
            detail: { ...err.detail, index },
            cause: err,
          });
        }
      });
      const context = { now: settings.clock.now(), maxItemBytes: settings.maxItemBytes };
      const out: OperationResponse[] = new Array(ops.length);
      const fail = (err: unknown): OperationResponse => {
        if (!(err instanceof StoreError)) throw err;
        return { statusCode: err.status ?? 500, eTag: undefined, resourceBody: undefined };
      };
      const answer = (op: WriteOp, r: WriteResult): OperationResponse => {
        const json = op.op === 'create' || op.op === 'upsert' || op.op === 'replace' ? op.item.json : undefined;
        const body = r.doc ?? (json === undefined ? undefined : (JSON.parse(json) as JsonObject));
        return { statusCode: r.status, eTag: r.etag, resourceBody: body };
      };
      // A request of creates only, or of reads only, goes to the database together where the driver
      // can (a repeated partition and id among creates conflicts with the first); any other runs
      // one operation after another, in order.
      const only = ops.every(({ op }) => op.op === ops[0]!.op.op) ? ops[0]!.op.op : undefined;
      const creates: number[] = [];
      const taken = new Set<string>();
      for (const [i, { op, partition }] of ops.entries()) {
        if (only !== 'create' || driver.createMany === undefined) break;
        const key = `${partition.key}\u0000${op.id}`;
        if (taken.has(key)) out[i] = fail(itemExists(op.id));
        else {
          taken.add(key);
          creates.push(i);
        }
      }
      let wrote = false;
      if (creates.length > 0 && driver.createMany !== undefined) {
        const items = creates.map((i) => {
          const { op, partition } = ops[i]!;
          return { partition, id: op.id, item: (op as Extract<WriteOp, { op: 'create' }>).item };
        });
        const done = await driver.createMany(def, items, context);
        wrote = done.some((d) => d);
        for (const [n, i] of creates.entries()) {
          const op = ops[i]!.op;
          out[i] = done[n] ? answer(op, { status: 201, etag: items[n]!.item.etag }) : fail(itemExists(op.id));
        }
      }
      const reads = only === 'read' ? ops.map((_, i) => i) : [];
      if (reads.length > 1 && driver.readMany !== undefined) {
        const found = await driver.readMany(
          def,
          reads.map((i) => ({ partition: ops[i]!.partition, id: ops[i]!.op.id })),
          context.now,
        );
        for (const [n, i] of reads.entries()) {
          const item = found[n];
          out[i] =
            item === undefined
              ? fail(itemNotFound(ops[i]!.op.id))
              : { statusCode: 200, eTag: item.etag, resourceBody: item.doc };
        }
      }
      for (const [i, { op, partition }] of ops.entries()) {
        if (out[i] !== undefined) continue;
        try {
          const [r] = await driver.write(def, partition, [op], context);
          out[i] = answer(op, r!);
          if (op.op !== 'read') wrote = true;
        } catch (err) {
          out[i] = fail(err);
        }
      }
      if (wrote) this.#core.changed(def.handle);
      return out;
    });
  }

  #write<T>(build: (def: ContainerDefinition) => [Prepared, WriteOp]): Promise<ItemResponse<T>> {
    const settings = this.#core.settings;
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      const [p, op] = build(def);
      const [result] = await driver.write(def, p.partition, [op], {
        now: settings.clock.now(),
        maxItemBytes: settings.maxItemBytes,
      });
      this.#core.changed(def.handle);
      return response<T>(result!.status, result!.etag, 'item' in op ? op.item.json : undefined);
    });
  }
}

function batchOp(
  o: OperationInput,
  prepare: (body: unknown, id?: string) => Prepared,
  patch: (id: string, request: PatchRequest, ifMatch: string | undefined) => WriteOp,
): WriteOp {
  const ifMatch = (o as { ifMatch?: unknown } | null)?.ifMatch;
  if (ifMatch !== undefined && typeof ifMatch !== 'string') {
    throw new StoreError('STORE_INVALID_BATCH', 'ifMatch must be an etag string.', { detail: {} });
  }
  const cond = ifMatch === undefined ? {} : { ifMatch };
  switch (o?.operationType) {
    case 'Create': {
      const p = prepare(o.resourceBody);
      return { op: 'create', id: p.id, item: p.item };
    }
    case 'Upsert': {
      const p = prepare(o.resourceBody);
      return { op: 'upsert', id: p.id, item: p.item, ...cond };
    }
    case 'Replace': {
      const p = prepare(o.resourceBody, checkId(o.id));
      return { op: 'replace', id: p.id, item: p.item, ...cond };
    }
    case 'Delete':
      return { op: 'delete', id: checkId(o.id), ...cond };
    case 'Read':
      return { op: 'read', id: checkId(o.id) };
    case 'Patch':
      return patch(checkId(o.id), o.resourceBody, ifMatch as string | undefined);
    default:
      throw new StoreError(
        'STORE_INVALID_BATCH',
        'operationType must be Create, Upsert, Replace, Delete, Read or Patch.',
        {
          detail: {},
        },
      );
  }
}

/** One item, addressed by id and partition key. */
export class Item {
  readonly id: string;
  readonly partitionKey: PartitionKey;
  readonly #core: StoreCore;
  readonly #database: string;
  readonly #container: string;

  constructor(core: StoreCore, database: string, container: string, id: string, partitionKey: PartitionKey) {
    this.#core = core;
    this.#database = database;
    this.#container = container;
    this.id = id;
    this.partitionKey = partitionKey;
  }

  /** The item; `resource` undefined and statusCode 404 when it does not exist or has expired. */
  read<T = Record<string, unknown>>(): Promise<ItemResponse<T>> {
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      const id = checkId(this.id);
      const found = await driver.read(
        def,
        partitionFromOption(def, this.partitionKey),
        id,
        this.#core.settings.clock.now(),
      );
      return found === undefined ? response<T>(404, undefined) : response<T>(200, found.etag, undefined, found.doc);
    });
  }

  /** Replaces the item; STORE_NOT_FOUND when absent, STORE_PRECONDITION_FAILED on a stale `ifMatch`. */
  replace<T extends object>(body: T, options: RequestOptions = {}): Promise<ItemResponse<T>> {
    const ifMatch = ifMatchOf(options);
    return this.#apply<T>((def) => {
      const p = prepareItem(this.#core.settings, def, body, { partitionKey: this.partitionKey, id: checkId(this.id) });
      return { op: 'replace', id: p.id, item: p.item, ...(ifMatch === undefined ? {} : { ifMatch }) };
    });
  }

  /** Applies patch operations (`set`, `add`, `replace`, `remove`, `incr`, `move`) atomically. */
  patch<T = Record<string, unknown>>(request: PatchRequest, options: RequestOptions = {}): Promise<ItemResponse<T>> {
    return this.#apply<T>((def) =>
      preparePatch(this.#core.settings, def, checkId(this.id), request, ifMatchOf(options)),
    );
  }

  /** Deletes the item (statusCode 204). */
  delete(options: RequestOptions = {}): Promise<ItemResponse<never>> {
    const ifMatch = ifMatchOf(options);
    return this.#apply<never>(() => ({
      op: 'delete',
      id: checkId(this.id),
      ...(ifMatch === undefined ? {} : { ifMatch }),
    }));
  }

  #apply<T>(build: (def: ContainerDefinition) => WriteOp): Promise<ItemResponse<T>> {
    const settings = this.#core.settings;
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      const op = build(def);
      const partition = partitionFromOption(def, this.partitionKey);
      const [r] = (await driver.write(def, partition, [op], {
        now: settings.clock.now(),
        maxItemBytes: settings.maxItemBytes,
      })) as [WriteResult];
      this.#core.changed(def.handle);
      return response<T>(r.status, r.etag, 'item' in op ? op.item.json : undefined, r.doc);
    });
  }
}
