/**
 * The in-process driver: the reference every other driver is checked against. Items live in one
 * Map per container whose insertion order is change order (a changed item is deleted and set
 * again), so the change feed is that order; writes are synchronous, so it is also commit order.
 * Queries run the in-process evaluator over every item of the container (or partition). State
 * survives `close()` and `open()` of the same instance, which is how tests restart it.
 * @module
 */
import type {
  CatalogOp,
  CatalogResults,
  ChangesPage,
  ChangesRequest,
  ContainerDefinition,
  DatabaseDefinition,
  DocumentDriver,
  PartitionRef,
  QueryPage,
  QueryRequest,
  StoredItem,
  WriteContext,
  WriteOp,
  WriteResult,
} from '../../driver.ts';
import { closedError, conflict, notFound, StoreError } from '../../errors.ts';
import type { Json, JsonObject } from '../../json.ts';
import { applyWrite, atIndex } from '../../mutation.ts';
import { compareSortKeys, evaluate, matches, project, sortKey } from '../../query/evaluate.ts';

interface Row {
  readonly pk: string;
  readonly id: string;
  readonly range: number;
  readonly doc: JsonObject;
  readonly json: string;
  readonly etag: string;
  readonly expiresAt: number | null;
  readonly seq: number;
}

interface Container {
  readonly definition: ContainerDefinition;
  /** `pk \0 id` → row, in change order. */
  readonly rows: Map<string, Row>;
}

const rowKey = (pk: string, id: string): string => `${pk}\u0000${id}`;
const live = (row: Row | undefined, now: number): row is Row =>
  row !== undefined && (row.expiresAt === null || row.expiresAt > now);

export class MemoryDriver implements DocumentDriver {
  readonly kind = 'memory';
  readonly #databases = new Map<string, DatabaseDefinition>();
  /** handle → container. */
  readonly #containers = new Map<string, Container>();
  #handles = 0;
  #seq = 0;
  #open = false;

  async open(): Promise<void> {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.#open = false;
  }

  async catalog<O extends CatalogOp>(op: O): Promise<CatalogResults[O['op']]> {
    this.#check();
    return this.#catalog(op) as CatalogResults[O['op']];
  }

  #catalog(op: CatalogOp): CatalogResults[CatalogOp['op']] {
    switch (op.op) {
      case 'createDatabase': {
        if (this.#databases.has(op.id)) throw conflict(`The database '${op.id}'`, { database: op.id });
        const db = { id: op.id, created: op.created };
        this.#databases.set(op.id, db);
        return db;
      }
      case 'deleteDatabase':
        this.#database(op.id);
        this.#databases.delete(op.id);
        for (const [handle, c] of this.#containers)
          if (c.definition.database === op.id) this.#containers.delete(handle);
        return undefined;
      case 'listDatabases':
        return [...this.#databases.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      case 'createContainer': {
        const { database, id } = op.definition;
        this.#database(database);
        if (this.#find(database, id) !== undefined)
          throw conflict(`The container '${id}'`, { database, container: id });
        const definition = { ...op.definition, handle: String(++this.#handles) };
        this.#containers.set(definition.handle, { definition, rows: new Map() });
        return definition;
      }
      case 'deleteContainer': {
        const found = this.#find(op.database, op.id);
        if (found === undefined)
          throw notFound(`The container '${op.id}'`, { database: op.database, container: op.id });
        this.#containers.delete(found.definition.handle);
        return undefined;
      }
      default:
        if (op.database !== undefined) this.#database(op.database);
        return [...this.#containers.values()]
          .map((c) => c.definition)
          .filter((d) => op.database === undefined || d.database === op.database)
          .sort((a, b) => (a.database + a.id < b.database + b.id ? -1 : 1));
    }
  }

  async read(
    def: ContainerDefinition,
    partition: PartitionRef,
    id: string,
    now: number,
  ): Promise<StoredItem | undefined> {
    const row = this.#container(def).rows.get(rowKey(partition.key, id));
    return live(row, now) ? { doc: JSON.parse(row.json) as JsonObject, etag: row.etag } : undefined;
  }

  async write(
    def: ContainerDefinition,
    partition: PartitionRef,
    ops: readonly WriteOp[],
    context: WriteContext,
  ): Promise<WriteResult[]> {
    const { rows } = this.#container(def);
    const working = new Map<string, StoredItem | undefined>();
    const changed = new Map<string, { json: string; etag: string; expiresAt: number | null } | null>();
    const current = (id: string): StoredItem | undefined => {
      if (working.has(id)) return working.get(id);
      const row = rows.get(rowKey(partition.key, id));
      return live(row, context.now) ? { doc: row.doc, etag: row.etag } : undefined;
    };
    const results = ops.map((op, index) => {
      try {
        const outcome = applyWrite(current(op.id), op, def, context);
        if (outcome.next !== undefined) {
          changed.delete(op.id); // re-inserted below, so the last change of an item is its feed position
          changed.set(op.id, outcome.next);
          working.set(
            op.id,
            outcome.next === null ? undefined : { doc: JSON.parse(outcome.next.json), etag: outcome.next.etag },
          );
        }
        return op.op === 'read'
          ? { ...outcome.result, doc: JSON.parse(JSON.stringify(outcome.result.doc)) }
          : outcome.result;
      } catch (err) {
        throw atIndex(err, index, ops.length);
      }
    });
    for (const [id, next] of changed) {
      const key = rowKey(partition.key, id);
      rows.delete(key);
      if (next === null) continue;
      const doc = JSON.parse(next.json) as JsonObject;
      rows.set(key, { pk: partition.key, id, range: partition.range, doc, ...next, seq: ++this.#seq });
    }
    return results;
  }

  async query(def: ContainerDefinition, request: QueryRequest): Promise<QueryPage> {
    const { query } = request;
    const candidates = [...this.#container(def).rows.values()].filter(
      (row) =>
        live(row, request.now) &&
        (request.partitionKey === undefined || row.pk === request.partitionKey) &&
        matches(query, row.doc),
    );
    if (query.select.kind === 'count') {
      const { expr, name } = query.select;
      const n = candidates.filter((row) => evaluate(expr, row.doc) !== undefined).length;
      return { rows: [name === undefined ? n : { [name]: n }], more: false };
    }
    const after = request.after === undefined ? undefined : checkAfter(request.after, query.orderBy.length);
    const ordered = candidates
      .map((row) => ({ value: project(query, row.doc), key: sortKey(query, row.doc, row.pk, row.id) }))
      .filter((r) => r.value !== undefined && (after === undefined || compareSortKeys(query, r.key, after) > 0))
      .sort((a, b) => compareSortKeys(query, a.key, b.key))
      .slice(request.offset, request.offset + request.limit + 1);
    const page = ordered.slice(0, request.limit);
    const last = page[page.length - 1];
    return {
      rows: page.map((r) => structuredClone(r.value) as Json),
      ...(last === undefined ? {} : { last: last.key }),
      more: ordered.length > request.limit,
    };
  }

  async changes(def: ContainerDefinition, request: ChangesRequest): Promise<ChangesPage> {
    const { rows } = this.#container(def);
    if (request.after === 'now') return { items: [], position: String(this.#seq) };
    const after = request.after === 'beginning' ? 0 : position(request.after);
    const items: JsonObject[] = [];
    let at = this.#seq;
    for (const row of rows.values()) {
      if (row.seq <= after) continue;
      if (request.range !== undefined && row.range !== request.range) continue;
      if (request.partitionKey !== undefined && row.pk !== request.partitionKey) continue;
      if (!live(row, request.now)) continue;
      if (items.length === request.limit) {
        at = row.seq - 1;
        break;
      }
      items.push(JSON.parse(row.json) as JsonObject);
    }
    return { items, position: String(Math.max(at, after)) };
  }

  async sweep(def: ContainerDefinition, now: number, limit: number): Promise<number> {
    const { rows } = this.#container(def);
    let removed = 0;
    for (const [key, row] of rows) {
      if (removed >= limit) break;
      if (!live(row, now)) {
        rows.delete(key);
        removed++;
      }
    }
    return removed;
  }

  #check(): void {
    if (!this.#open) throw closedError();
  }

  #database(id: string): DatabaseDefinition {
    const db = this.#databases.get(id);
    if (db === undefined) throw notFound(`The database '${id}'`, { database: id });
    return db;
  }

  #find(database: string, id: string): Container | undefined {
    for (const c of this.#containers.values()) {
      if (c.definition.database === database && c.definition.id === id) return c;
    }
    return undefined;
  }

  #container(def: ContainerDefinition): Container {
    this.#check();
    const c = this.#containers.get(def.handle);
    if (c === undefined) throw notFound(`The container '${def.id}'`, { database: def.database, container: def.id });
    return c;
  }
}

function position(text: string): number {
  const n = Number(text);
  if (!/^[0-9]{1,15}$/.test(text) || !Number.isSafeInteger(n)) {
    throw new StoreError('STORE_INVALID_CONTINUATION', 'The change-feed position is not one this driver wrote.');
  }
  return n;
}

/** A sort key from a continuation: per ORDER BY item [rank, number, string], then partition key and id. */
function checkAfter(after: readonly Json[], orderItems: number): Json[] {
  const ok =
    Array.isArray(after) &&
    after.length === orderItems * 3 + 2 &&
    after.every((v, i) => {
      if (i >= orderItems * 3) return typeof v === 'string';
      const slot = i % 3;
      return slot === 2 ? typeof v === 'string' : typeof v === 'number' && Number.isFinite(v);
    });
  if (!ok) throw new StoreError('STORE_INVALID_CONTINUATION', 'The continuation token does not fit this query.');
  return after as Json[];
}

/** A fresh, empty memory driver. */
export function createMemoryDriver(): MemoryDriver {
  return new MemoryDriver();
}
