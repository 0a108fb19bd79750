/**
 * The system's document store: the store `storeUrl` names, its HTTP API (at `/store`, Cosmos DB
 * master-key signatures with the store key), the stores function apps' connection settings name,
 * and its open in the background — PGlite loads its WASM and, on an empty directory, initialises
 * the database (seconds), which must not delay the server's first answer.
 * @module
 */
import type { Logger } from '@hubbub/kernel';
import { createStoreHttpHandler, type Store, type StoreHttpHandler } from '@hubbub/store';
import type { StoreConnections } from './bridges/store.ts';
import { createStoreAt } from './engines.ts';

export interface SystemStore {
  readonly store: Store;
  /** The HTTP API, a part for the one port. */
  readonly api: StoreHttpHandler;
  /** Connection settings → stores, for the functions host (its bridge's code imported on first use). */
  connections(): Promise<StoreConnections>;
  /** Starts opening the store without waiting; a failure is logged, and each operation tries again. */
  openInBackground(): void;
  /** Closes the stores the connections opened, then the store. */
  close(): Promise<void>;
}

/** A store URL fit for a log line: a PostgreSQL password is masked. */
export const withoutPassword = (url: string): string => url.replace(/^(\w+:\/\/[^:/@]+):[^@/]*@/, '$1:***@');

export async function createSystemStore(url: string, key: string, logger: Logger): Promise<SystemStore> {
  const store = await createStoreAt(url, { logger: logger.child({ part: 'store' }) });
  const api = createStoreHttpHandler(store, {
    key,
    basePath: '/store',
    onError: (err, request) => logger.error({ err, method: request.method, url: request.url }, 'store request failed'),
  });
  let connections: Promise<StoreConnections> | undefined;
  let closing = false;
  return {
    store,
    api,
    connections() {
      connections ??= import('./bridges/store.ts').then(({ storeConnections }) =>
        storeConnections({ url, store }, (other) =>
          createStoreAt(other, { logger: logger.child({ part: 'store', url: withoutPassword(other) }) }),
        ),
      );
      return connections;
    },
    openInBackground() {
      store.start().catch((err: unknown) => {
        // Closed while it was opening (the system stopped, or failed to start for another reason
        // that its own error names): nothing to report about the store.
        if (closing) return;
        logger.error(
          { err, storeUrl: withoutPassword(url) },
          'The store could not open; its operations fail until it can.',
        );
      });
    },
    async close() {
      closing = true;
      await (await connections)?.close();
      await store.close();
    },
  };
}
