/**
 * The push service's installations ({@link InstallationRepository}) and notification outcomes
 * ({@link OutcomeStore}) on Hubbub's document store, so both outlive the process (PGlite under
 * `npm start`, PostgreSQL when several processes share them).
 *
 * Layout, in one database (`push` by default):
 * - `installations`, partitioned by `/id`: one item per installation, `{ id, installation,
 *   tags, platform, order }`. The item id is a hash of the installation id (which may hold `/`,
 *   `?` or `#` and run to 256 characters; the store takes neither), `tags` the installation's
 *   index tags ({@link indexTags}: its own, its templates', `$InstallationId:{…}`, `$UserId:{…}`),
 *   and `order` the id's UTF-16 code units in hex, so `ORDER BY c.order` is the code-unit order the
 *   port promises. A tag fan-out is one query, `ARRAY_CONTAINS(c.tags, @t0) OR …`, which the SQL
 *   drivers answer from the container's GIN index (`doc @> …`) in pages, keyset-paged by `order`
 *   — never every installation loaded to pick a few.
 * - `outcomes`, partitioned by `/id`: one item per notification, `{ id, record, endTime }`;
 *   `create` inserts (replacing only when the record exists), `createMany` inserts a group the
 *   push service's ledger gathered with one `items.bulk` (one statement), `update` replaces the version this
 *   process wrote last with `ifMatch`, or reads, applies the change and replaces — again on a
 *   conflicting write.
 * @module
 */
import { createHash } from 'node:crypto';
import {
  type Installation,
  type InstallationQuery,
  type InstallationRepository,
  indexTags,
  type OutcomeRecord,
  type OutcomeStore,
} from '@hubbub/push';
import { type Container, isStoreError, MAX_BULK_OPERATIONS, type Store, StoreError } from '@hubbub/store';

export interface PushStoreOptions {
  /** The database holding the containers; created when missing. @default 'push' */
  database?: string;
  /** Rows per page of a fan-out query. @default 500 */
  pageSize?: number;
  /**
   * Installations kept in this process for point reads (the lookup of every direct send), at most
   * this many, each for at most 10 s. Used only on a store with one owner process (`pglite://`,
   * `memory://`), where every write of the push service goes through this repository; on
   * PostgreSQL other processes write too, and reads go to the store. A write made around the push
   * service (the store's HTTP API) is seen within 10 s. @default 0 (off)
   */
  cachedInstallations?: number;
}

interface InstallationItem {
  id: string;
  installation: Installation;
  tags: string[];
  platform: string;
  order: string;
}

interface OutcomeItem {
  id: string;
  record: OutcomeRecord;
  endTime: number | null;
}

/** The store's item id for an outside id: fixed length, none of the characters the store refuses. */
const itemId = (text: string): string => createHash('sha256').update(text).digest('base64url');

/** The id's UTF-16 code units as hex: sorts (as the store sorts strings) in code-unit order. */
const orderKey = (text: string): string => {
  let out = '';
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
};

/** Opens (creating when missing) a container of the push database, once; a failed attempt is tried again. */
function containerOf(store: Store, database: string, id: string): () => Promise<Container> {
  let opening: Promise<Container> | undefined;
  return () => {
    opening ??= (async () => {
      const { database: db } = await store.databases.createIfNotExists({ id: database });
      const { container } = await db.containers.createIfNotExists({ id, partitionKey: '/id' });
      return container;
    })();
    opening.catch(() => {
      opening = undefined;
    });
    return opening;
  };
}

/**
 * Installations on the store. The store is the caller's; `close()` releases nothing of it.
 */
export function createStoreInstallationRepository(
  store: Store,
  options: PushStoreOptions = {},
): InstallationRepository {
  const container = containerOf(store, options.database ?? 'push', 'installations');
  const pageSize = options.pageSize ?? 500;
  const cache = new ReadCache<Installation | undefined>(options.cachedInstallations ?? 0, 10_000);
  const singleOwner = () => store.driverKind === 'pglite' || store.driverKind === 'memory';
  // Point reads asked for in one turn of the event loop (the fan-outs of jobs taken together) go to
  // the store as one bulk read: on PostgreSQL one round trip for them all.
  let asked: { id: string; resolve: (item: InstallationItem | undefined) => void; reject: (e: unknown) => void }[] = [];
  const readAsked = async () => {
    const batch = asked;
    asked = [];
    try {
      const c = await container();
      if (batch.length === 1) {
        const { id, resolve } = batch[0]!;
        resolve((await c.item(id, id).read<InstallationItem>()).resource);
        return;
      }
      for (let at = 0; at < batch.length; at += MAX_BULK_OPERATIONS) {
        const part = batch.slice(at, at + MAX_BULK_OPERATIONS);
        const answers = await c.items.bulk(part.map(({ id }) => ({ operationType: 'Read', id, partitionKey: id })));
        for (const [n, answer] of answers.entries()) {
          const { resolve, reject } = part[n]!;
          if (answer.statusCode === 200) resolve(answer.resourceBody as unknown as InstallationItem);
          else if (answer.statusCode === 404) resolve(undefined);
          else
            reject(
              new StoreError(
                'STORE_DRIVER_FAILURE',
                `Reading an installation failed with status ${answer.statusCode}.`,
                { detail: { status: answer.statusCode } },
              ),
            );
        }
      }
    } catch (err) {
      for (const { reject } of batch) reject(err);
    }
  };
  const read = (id: string) =>
    new Promise<InstallationItem | undefined>((resolve, reject) => {
      if (asked.push({ id, resolve, reject }) === 1) setImmediate(() => void readAsked());
    });
  return {
    kind: 'store',

    async get(installationId) {
      const cached = singleOwner() ? cache.get(installationId) : undefined;
      if (cached !== undefined) return cached.value === undefined ? undefined : structuredClone(cached.value);
      // A write that lands while this read is in flight makes the read's answer stale: not cached.
      const version = cache.version;
      const resource = await read(itemId(installationId));
      const installation = resource?.installation;
      if (cache.version === version && singleOwner()) cache.set(installationId, installation);
      return installation === undefined ? undefined : structuredClone(installation);
    },

    async put(installation) {
      const item: InstallationItem = {
        id: itemId(installation.installationId),
        installation,
        tags: [...indexTags(installation)],
        platform: installation.platform,
        order: orderKey(installation.installationId),
      };
      cache.forget(installation.installationId);
      try {
        await (await container()).items.upsert(item);
      } finally {
        cache.forget(installation.installationId);
      }
    },

    async delete(installationId) {
      const id = itemId(installationId);
      cache.forget(installationId);
      try {
        await (await container()).item(id, id).delete();
        return true;
      } catch (err) {
        if (isStoreError(err) && err.code === 'STORE_NOT_FOUND') return false;
        throw err;
      } finally {
        cache.forget(installationId);
      }
    },

    async *find(query: InstallationQuery = {}) {
      const { tags, platform, after } = query;
      if (tags !== undefined && tags.length === 0) return;
      const where: string[] = [];
      const parameters: { name: string; value: string }[] = [];
      if (tags !== undefined) {
        const unique = [...new Set(tags)];
        where.push(`(${unique.map((_, n) => `ARRAY_CONTAINS(c.tags, @t${n})`).join(' OR ')})`);
        for (const [n, tag] of unique.entries()) parameters.push({ name: `@t${n}`, value: tag });
      }
      if (platform !== undefined) {
        where.push('c.platform = @platform');
        parameters.push({ name: '@platform', value: platform });
      }
      if (after !== undefined) {
        where.push('c.order > @after');
        parameters.push({ name: '@after', value: orderKey(after) });
      }
      const text = `SELECT c.installation FROM c${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY c.order`;
      const pages = (await container()).items.query<{ installation: Installation }>(
        { query: text, parameters },
        { maxItemCount: pageSize },
      );
      for await (const page of pages) for (const row of page.resources) yield row.installation;
    },

    async close() {},
  };
}

/**
 * Notification outcomes on the store. The store is the caller's; `close()` releases nothing of it.
 */
export function createStoreOutcomeStore(store: Store, options: PushStoreOptions = {}): OutcomeStore {
  const container = containerOf(store, options.database ?? 'push', 'outcomes');
  // The last version this process wrote of each recent record, with its etag: an update tries a
  // replace of that version first (one write instead of a read and a write — a send updates its
  // record three times); a write by another process fails the etag, and the update reads again.
  const written = new Map<string, { record: OutcomeRecord; etag: string }>();
  const remember = (id: string, record: OutcomeRecord, etag: string | undefined) => {
    written.delete(id);
    if (etag === undefined) return;
    written.set(id, { record: structuredClone(record), etag });
    if (written.size > 10_000) written.delete(written.keys().next().value as string);
  };
  const itemOf = (record: OutcomeRecord): OutcomeItem => ({
    id: itemId(record.notificationId),
    record,
    endTime: record.endTime ?? null,
  });
  // Almost always a new record (the push service writes most once, when they are done): a plain
  // insert is the cheaper statement; an existing one is replaced.
  const create = async (record: OutcomeRecord) => {
    const c = await container();
    let etag: string | undefined;
    try {
      ({ etag } = await c.items.create(itemOf(record)));
    } catch (err) {
      if (!(isStoreError(err) && err.code === 'STORE_CONFLICT')) throw err;
      ({ etag } = await c.items.upsert(itemOf(record)));
    }
    remember(record.notificationId, record, etag);
  };
  return {
    kind: 'store',
    create,

    async createMany(records) {
      // One bulk request: its creates reach the database as one statement. A record that exists
      // (409) is replaced, as `create` does; any other failure rejects (the ledger writes again).
      const c = await container();
      const answers = await c.items.bulk(records.map((r) => ({ operationType: 'Create', resourceBody: itemOf(r) })));
      for (const [n, answer] of answers.entries()) {
        const record = records[n]!;
        if (answer.statusCode === 201) remember(record.notificationId, record, answer.eTag);
        else if (answer.statusCode === 409) await create(record);
        else {
          throw new StoreError(
            'STORE_DRIVER_FAILURE',
            `Writing the outcome of '${record.notificationId.slice(0, 80)}' failed with status ${answer.statusCode}.`,
            { detail: { status: answer.statusCode } },
          );
        }
      }
    },

    async get(notificationId) {
      const id = itemId(notificationId);
      const { resource } = await (await container()).item(id, id).read<OutcomeItem>();
      return resource?.record;
    },

    async update(notificationId, change) {
      const id = itemId(notificationId);
      const c = await container();
      let known = written.get(notificationId);
      for (;;) {
        let current = known;
        known = undefined;
        if (current === undefined) {
          const { resource } = await c.item(id, id).read<OutcomeItem>();
          if (resource === undefined) return undefined;
          current = { record: resource.record, etag: resource._etag };
        }
        const next = change(structuredClone(current.record));
        try {
          const { etag } = await c.item(id, id).replace(itemOf(next), { ifMatch: current.etag });
          remember(notificationId, next, etag);
          return structuredClone(next);
        } catch (err) {
          written.delete(notificationId);
          if (isStoreError(err) && err.code === 'STORE_PRECONDITION_FAILED') continue;
          if (isStoreError(err) && err.code === 'STORE_NOT_FOUND') return undefined;
          throw err;
        }
      }
    },

    async sweep(before) {
      const c = await container();
      const pages = c.items.query<{ id: string }>(
        {
          query: 'SELECT c.id FROM c WHERE IS_NUMBER(c.endTime) AND c.endTime < @before',
          parameters: [{ name: '@before', value: before }],
        },
        { maxItemCount: 500 },
      );
      const ids: string[] = [];
      for await (const page of pages) for (const row of page.resources) ids.push(row.id);
      let n = 0;
      written.clear();
      for (const id of ids) {
        try {
          await c.item(id, id).delete();
          n++;
        } catch (err) {
          if (!(isStoreError(err) && err.code === 'STORE_NOT_FOUND')) throw err;
        }
      }
      return n;
    },

    async close() {},
  };
}

/**
 * Point reads kept in process for `ttlMs`, least recently read dropped first. `version` moves on
 * every forget, so a read that started before a write does not cache what it read.
 */
class ReadCache<V> {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { value: V; until: number }>();
  version = 0;

  constructor(max: number, ttlMs: number) {
    this.#max = max;
    this.#ttlMs = ttlMs;
  }

  get(key: string): { value: V } | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.until <= performance.now()) return undefined;
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, value: V): void {
    if (this.#max <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value: structuredClone(value), until: performance.now() + this.#ttlMs });
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  forget(key: string): void {
    this.version++;
    this.#entries.delete(key);
  }
}
