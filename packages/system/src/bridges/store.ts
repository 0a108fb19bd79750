/**
 * Hubbub's store as the functions host's Cosmos DB extension sees it ({@link StorePort}): point
 * reads (from memory the change feed keeps coherent for the containers the app names in
 * `CosmosDBCachedReads`: `read-cache.ts`), parameterised queries, upserts (an array's new documents created in one bulk; system properties of a document read earlier dropped, as
 * Cosmos DB does; the database and container created once when the binding asks), and change-feed
 * subscriptions on the store's `ChangeFeedProcessor`, whose leases may live in another bridged
 * store (`leaseConnection`). {@link storeConnections} resolves connection settings: the system's
 * own store for its URL (or a Cosmos DB connection string), another store URL opened on demand.
 * @module
 */
import {
  FunctionsError,
  type StoreChangeBatch,
  type StoreChangeOptions,
  type StorePort,
  type StoreResolver,
  type StoreTarget,
} from '@hubbub/functions';
import type { ChangeFeedProcessor, Container, Store } from '@hubbub/store';
import { StoreError } from '@hubbub/store';
import { ReadCache } from './read-cache.ts';

/** The store behind each bridge, so a subscription can find the store its leases live in. */
const storeOfPort = new WeakMap<StorePort, Store>();

const SYSTEM_PROPERTIES = ['_etag', '_ts', '_rid', '_self', '_attachments', '_lsn'];

const withoutSystemProperties = (doc: Record<string, unknown>): Record<string, unknown> => {
  if (!SYSTEM_PROPERTIES.some((p) => p in doc)) return doc;
  const copy = { ...doc };
  for (const p of SYSTEM_PROPERTIES) delete copy[p];
  return copy;
};

export function bridgeStore(store: Store): StorePort {
  const containerOf = (t: StoreTarget): Container => store.database(t.database).container(t.container);
  /** Containers created for outputs with createIfNotExists, by target; a failed creation is tried again. */
  const created = new Map<string, Promise<void>>();
  const ensure = (t: StoreTarget, partitionKeyPath: string): Promise<void> => {
    const key = `${t.database}\u0000${t.container}`;
    let done = created.get(key);
    if (done === undefined) {
      done = (async () => {
        const { database } = await store.databases.createIfNotExists({ id: t.database });
        await database.containers.createIfNotExists({ id: t.container, partitionKey: partitionKeyPath });
      })();
      done.catch(() => created.delete(key));
      created.set(key, done);
    }
    return done;
  };

  /** Containers whose reads the app asked to be cached (`CosmosDBCachedReads`), by target. */
  const readCaches = new Map<string, ReadCache>();
  const port: StorePort = {
    async read(target, id, partitionKey, options) {
      const container = containerOf(target);
      if (partitionKey !== undefined) {
        const load = async () => (await container.item(id, partitionKey).read()).resource;
        if (options?.cached !== true) return load();
        const key = `${target.database}\u0000${target.container}`;
        let cache = readCaches.get(key);
        if (cache === undefined) {
          cache = new ReadCache(container);
          readCaches.set(key, cache);
        }
        return cache.read(id, partitionKey, load);
      }
      const { resources } = await container.items
        .query<Record<string, unknown>>({
          query: 'SELECT * FROM c WHERE c.id = @id',
          parameters: [{ name: '@id', value: id }],
        })
        .fetchAll();
      return resources[0];
    },
    async query(target, query, options) {
      const { resources } = await containerOf(target)
        .items.query({ query: query.query, parameters: [...query.parameters] }, options)
        .fetchAll();
      return resources;
    },
    async upsert(target, documents, options) {
      if (options.createIfNotExists !== undefined) await ensure(target, options.createIfNotExists.partitionKeyPath);
      const container = containerOf(target);
      if (documents.length === 1) {
        await container.items.upsert(withoutSystemProperties(documents[0]!));
        return;
      }
      await upsertMany(container, documents.map(withoutSystemProperties));
    },
    changes(target, options) {
      return subscribe(containerOf(target), options);
    },
  };
  storeOfPort.set(port, store);
  return port;
}

/** Most documents handed to one `items.bulk` (its limit). */
const BULK_SIZE = 1_000;

/**
 * Several documents upserted as the Azure extension upserts an array output, one after another in
 * order, but in one statement when they are new: the creates go as one `items.bulk` (one SQL
 * statement on PostgreSQL and PGlite), and only the documents whose id was taken (409: written
 * before, such as by an earlier delivery, or earlier in the same array) are upserted then, in
 * order — so each ends as the last of its id in the array, as the upserts one by one leave it.
 * Another failure of a create is left to the upsert, which throws the error one by one would.
 */
async function upsertMany(container: Container, documents: readonly Record<string, unknown>[]): Promise<void> {
  for (let start = 0; start < documents.length; start += BULK_SIZE) {
    const chunk = documents.slice(start, start + BULK_SIZE);
    let responses: readonly { readonly statusCode: number }[];
    try {
      responses = await container.items.bulk(chunk.map((resourceBody) => ({ operationType: 'Create', resourceBody })));
    } catch (err) {
      // A malformed document fails the whole bulk before anything is written (or the store failed
      // part way; an upsert again is harmless): one by one, the documents before it are written
      // and it throws its own error.
      if (!(err instanceof StoreError)) throw err;
      responses = chunk.map(() => ({ statusCode: 0 }));
    }
    for (const [i, r] of responses.entries()) {
      if (r.statusCode < 200 || r.statusCode > 299) await container.items.upsert(chunk[i]!);
    }
  }
}

async function* subscribe(container: Container, options: StoreChangeOptions): AsyncGenerator<StoreChangeBatch> {
  const { leases, signal } = options;
  const leaseStore = storeOfPort.get(leases.port);
  if (leaseStore === undefined) {
    throw new StoreError('STORE_INVALID_REQUEST', 'The lease connection does not name a Hubbub store.', {
      detail: { option: 'leaseConnection' },
    });
  }
  if (leases.createIfNotExists) {
    const { database } = await leaseStore.databases.createIfNotExists({ id: leases.database });
    await database.containers.createIfNotExists({ id: leases.container, partitionKey: '/id' });
  }
  await container.read(); // STORE_NOT_FOUND now, rather than from the first read of the feed
  const start = options.startFrom;
  const processor: ChangeFeedProcessor = container.changeFeedProcessor({
    processorName: options.processorName,
    leaseContainer: leaseStore.database(leases.database).container(leases.container),
    // From a time: from the beginning, skipping documents last written before it (the feed has the latest version of each).
    startFrom: start === 'now' ? 'now' : 'beginning',
    maxItemCount: options.maxItems,
    pollIntervalMs: options.pollDelayMs,
    ...(options.leaseExpirationMs === undefined ? {} : { leaseExpirationMs: options.leaseExpirationMs }),
    ...(options.leaseRenewIntervalMs === undefined ? {} : { leaseRenewIntervalMs: options.leaseRenewIntervalMs }),
    ...(options.leaseAcquireIntervalMs === undefined ? {} : { leaseAcquireIntervalMs: options.leaseAcquireIntervalMs }),
  });
  const since = typeof start === 'object' ? Math.floor(start.time / 1000) : undefined;
  const unsubscribe = processor.on('error', (err) => options.onLeaseError?.(err));
  // Closing waits for a batch being handled: the trigger completes it, then asks for no more.
  let handling = false;
  const stop = () => {
    if (!handling) void processor.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    if (signal.aborted) return; // aborted while the containers were looked up: the listener came too late
    await processor.start();
    for await (const batch of processor) {
      const documents =
        since === undefined ? batch.items : batch.items.filter((d) => typeof d._ts === 'number' && d._ts >= since);
      if (documents.length === 0) {
        await batch.complete();
        continue;
      }
      handling = true;
      yield { documents, complete: () => batch.complete() };
      handling = false;
      if (signal.aborted) break;
    }
  } finally {
    signal.removeEventListener('abort', stop);
    unsubscribe();
    await processor.close();
  }
}

export interface StoreConnections {
  /** The resolver to give the functions host as `store`. */
  readonly resolve: StoreResolver;
  /** Closes the stores it opened (not the system's). */
  close(): Promise<void>;
}

const STORE_URL = /^(memory|pglite|postgres|postgresql):\/\//;

/**
 * Connection settings → stores. The system's store serves a setting holding its URL, or a value
 * that is no store URL at all (a Cosmos DB `AccountEndpoint=…;AccountKey=…` string written for
 * Azure or its emulator); another store URL opens that store, once, closed by `close()`.
 */
export function storeConnections(
  own: { readonly url: string; readonly store: Store },
  open: (url: string) => Promise<Store>,
): StoreConnections {
  const ownPort = bridgeStore(own.store);
  const opened = new Map<string, Promise<Store>>();
  return {
    async resolve({ name, value }) {
      const url = value.trim();
      if (!STORE_URL.test(url) || url === own.url) return ownPort;
      let store = opened.get(url);
      if (store === undefined) {
        store = open(url);
        opened.set(url, store);
        store.catch(() => opened.delete(url));
      }
      try {
        return bridgeStore(await store);
      } catch (err) {
        throw new FunctionsError(
          'FUNCTIONS_INVALID_SETTING',
          `Connection setting "${name}" names a store that cannot be used: ${(err as Error)?.message ?? err}`,
          { cause: err, detail: { setting: name } },
        );
      }
    },
    async close() {
      const stores = [...opened.values()];
      opened.clear();
      await Promise.allSettled(stores.map(async (s) => (await s).close()));
    },
  };
}
