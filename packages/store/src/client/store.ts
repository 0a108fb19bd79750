/**
 * `createStore({ url })`: the store's front door, in the shape of `@azure/cosmos`'s
 * `CosmosClient` — `store.database(id).container(id).items…`. The factory starts nothing;
 * `start()` (or the first operation) loads and opens the driver and schedules the TTL sweep.
 * @module
 */
import {
  type Clock,
  type IdSource,
  InvalidOptionError,
  type Logger,
  type Part,
  randomIds,
  silentLogger,
  systemClock,
} from '@hubbub/kernel';
import type { DatabaseDefinition, DocumentDriver } from '../driver.ts';
import { driverFromUrl, isDriverUrl } from '../driver-url.ts';
import { isStoreError, notFound } from '../errors.ts';
import { DEFAULT_MAX_ITEM_BYTES } from '../item.ts';
import { Container, Containers } from './container.ts';
import { StoreCore } from './core.ts';
import type { StoreEvents } from './events.ts';
import { checkName } from './names.ts';

export interface StoreOptions {
  /** Which driver: `memory://`, `pglite://DIR`, `postgres://…` (see the README). @default 'memory://' */
  url?: string;
  /** A driver instance instead of a URL (tests, custom drivers). The store opens and closes it. */
  driver?: DocumentDriver;
  /** Reads time for `_ts`, TTL expiry, lease expiry and timers. @default systemClock */
  clock?: Clock;
  /** Makes etags. @default randomIds */
  ids?: IdSource;
  /** @default silentLogger */
  logger?: Logger;
  /** Largest item, in UTF-8 bytes of its JSON with system properties. @default 2_097_152 (2 MiB) */
  maxItemBytes?: number;
  /**
   * What to do when a caller writes `_etag`, `_ts`, `_rid`, `_self`, `_attachments` or `_lsn`:
   * `'reject'` with STORE_RESERVED_PROPERTY, or `'ignore'` them (Cosmos DB's behaviour, handy when
   * writing back an item that was read). @default 'reject'
   */
  systemProperties?: 'reject' | 'ignore';
  /** How often expired items are deleted (they vanish from reads at once regardless). @default 60_000 */
  sweepIntervalMs?: number;
  /** Most expired items deleted per container per sweep. @default 1_000 */
  sweepBatchSize?: number;
  /**
   * How often a waiting change-feed reader looks for changes written by other processes (writes
   * through this store wake it at once). @default 1_000
   */
  feedPollIntervalMs?: number;
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new InvalidOptionError(name, 'must be a positive integer');
  return value as number;
}

export class Store implements Part<StoreEvents> {
  /** Create and list databases. */
  readonly databases: Databases;
  readonly #core: StoreCore;

  constructor(options: StoreOptions = {}) {
    if (options.driver !== undefined && options.url !== undefined) {
      throw new InvalidOptionError('url', 'give a url or a driver, not both');
    }
    const url = options.url ?? 'memory://';
    if (options.driver === undefined && !isDriverUrl(url)) {
      throw new InvalidOptionError('url', 'must be memory://, pglite://DIR or postgres://…');
    }
    if (options.systemProperties !== undefined && !['reject', 'ignore'].includes(options.systemProperties)) {
      throw new InvalidOptionError('systemProperties', "must be 'reject' or 'ignore'");
    }
    const driver = options.driver;
    this.#core = new StoreCore(driver === undefined ? () => driverFromUrl(url) : async () => driver, {
      clock: options.clock ?? systemClock,
      ids: options.ids ?? randomIds,
      logger: options.logger ?? silentLogger,
      maxItemBytes: positive('maxItemBytes', options.maxItemBytes, DEFAULT_MAX_ITEM_BYTES),
      systemProperties: options.systemProperties ?? 'reject',
      sweepIntervalMs: positive('sweepIntervalMs', options.sweepIntervalMs, 60_000),
      sweepBatchSize: positive('sweepBatchSize', options.sweepBatchSize, 1_000),
      feedPollIntervalMs: positive('feedPollIntervalMs', options.feedPollIntervalMs, 1_000),
    });
    this.databases = new Databases(this.#core);
  }

  /** The driver's kind once started (`memory`, `pglite`, `postgres`). */
  get driverKind(): string | undefined {
    return this.#core.driverKind;
  }

  /** A database handle (no I/O). */
  database(id: string): Database {
    return new Database(this.#core, id);
  }

  /** Loads and opens the driver; STORE_UNAVAILABLE when its server cannot be reached. */
  async start(): Promise<void> {
    await this.#core.start();
  }

  /** Deletes expired items now (the background sweep does this every `sweepIntervalMs`); resolves with how many. */
  sweep(): Promise<number> {
    return this.#core.sweep();
  }

  /** Ends change-feed readers and processors, waits for operations in flight, closes the driver. */
  close(): Promise<void> {
    return this.#core.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  on<E extends keyof StoreEvents>(event: E, listener: StoreEvents[E]): () => void {
    return this.#core.events.on(event, listener);
  }
}

/** A store over the driver `options.url` names (memory:// by default). Starts nothing. */
export function createStore(options: StoreOptions = {}): Store {
  return new Store(options);
}

export class Databases {
  readonly #core: StoreCore;

  constructor(core: StoreCore) {
    this.#core = core;
  }

  /** Creates a database; STORE_CONFLICT when it exists. */
  async create(request: {
    id: string;
  }): Promise<{ resource: DatabaseDefinition; database: Database; statusCode: 201 }> {
    const id = checkName(request?.id, 'database');
    const created = Math.floor(this.#core.settings.clock.now() / 1000);
    const resource = await this.#core.run((driver) => driver.catalog({ op: 'createDatabase', id, created }));
    return { resource, database: new Database(this.#core, id), statusCode: 201 };
  }

  async createIfNotExists(request: { id: string }): Promise<{ database: Database; statusCode: 200 | 201 }> {
    try {
      return await this.create(request);
    } catch (err) {
      if (!isStoreError(err, 'STORE_CONFLICT')) throw err;
      return { database: new Database(this.#core, request.id), statusCode: 200 };
    }
  }

  async readAll(): Promise<{ resources: DatabaseDefinition[] }> {
    return { resources: await this.#core.run((driver) => driver.catalog({ op: 'listDatabases' })) };
  }
}

export class Database {
  readonly id: string;
  readonly containers: Containers;
  readonly #core: StoreCore;

  constructor(core: StoreCore, id: string) {
    this.#core = core;
    this.id = id;
    this.containers = new Containers(core, id);
  }

  /** A container handle (no I/O). */
  container(id: string): Container {
    return new Container(this.#core, this.id, id);
  }

  /** The database; STORE_NOT_FOUND when it does not exist. */
  async read(): Promise<{ resource: DatabaseDefinition; statusCode: 200 }> {
    const all = await this.#core.run((driver) => driver.catalog({ op: 'listDatabases' }));
    const found = all.find((d) => d.id === this.id);
    if (found === undefined) throw notFound(`The database '${this.id}'`, { database: this.id });
    return { resource: found, statusCode: 200 };
  }

  /** Deletes the database, its containers and their items. */
  async delete(): Promise<{ statusCode: 204 }> {
    this.#core.forget(this.id);
    await this.#core.run((driver) => driver.catalog({ op: 'deleteDatabase', id: this.id }));
    return { statusCode: 204 };
  }
}
