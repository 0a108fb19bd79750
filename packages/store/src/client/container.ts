/**
 * `database.containers` and `database.container(id)`.
 * @module
 */
import type { ContainerDefinition } from '../driver.ts';
import { isStoreError, StoreError } from '../errors.ts';
import type { PartitionKey } from '../item.ts';
import { ChangeFeedIterator, type ChangeFeedOptions } from './change-feed.ts';
import type { StoreCore } from './core.ts';
import { Item, Items } from './items.ts';
import { checkName } from './names.ts';
import { ChangeFeedProcessor, type ChangeFeedProcessorOptions } from './processor.ts';

/** The ranges a container's change feed is split into by default (what processors share out). */
export const DEFAULT_FEED_RANGES = 4;
const MAX_FEED_RANGES = 256;

export interface ContainerRequest {
  readonly id: string;
  /** `'/customerId'` or `{ paths: ['/customerId'] }` (one path; hierarchical keys are not supported). */
  readonly partitionKey: string | { readonly paths: readonly string[] };
  /** Seconds items live: `-1` = TTL on without a default (items set `ttl`); absent = TTL off. */
  readonly defaultTtl?: number;
  /** Change-feed ranges (1 to 256) that processors share out. @default 4 */
  readonly feedRanges?: number;
}

/** What `container.read()` and `containers.create()` return as `resource`. */
export interface ContainerResource {
  readonly id: string;
  readonly partitionKey: { readonly paths: readonly string[]; readonly kind: 'Hash' };
  readonly defaultTtl?: number;
  readonly feedRanges: number;
  readonly _ts: number;
}

export function toResource(def: ContainerDefinition): ContainerResource {
  return {
    id: def.id,
    partitionKey: { paths: [def.partitionKeyPath], kind: 'Hash' },
    ...(def.defaultTtl === undefined ? {} : { defaultTtl: def.defaultTtl }),
    feedRanges: def.feedRanges,
    _ts: def.created,
  };
}

function definitionOf(
  core: StoreCore,
  database: string,
  request: ContainerRequest,
): Omit<ContainerDefinition, 'handle'> {
  const invalid = (option: string, message: string): StoreError =>
    new StoreError('STORE_INVALID_REQUEST', `${option}: ${message}`, { detail: { option } });
  if (typeof request !== 'object' || request === null) throw invalid('request', 'a container is { id, partitionKey }');
  const id = checkName(request.id, 'container');
  const pk = request.partitionKey;
  const paths = typeof pk === 'string' ? [pk] : pk?.paths;
  if (!Array.isArray(paths) || paths.length !== 1)
    throw invalid('partitionKey', 'give exactly one path, such as /customerId');
  const path = paths[0];
  if (typeof path !== 'string' || !/^(\/[^/]+)+$/.test(path) || path.length > 256) {
    throw invalid('partitionKey', 'a path is /name or /name/name…');
  }
  const ttl = request.defaultTtl;
  if (ttl !== undefined && !(ttl === -1 || (Number.isSafeInteger(ttl) && ttl > 0))) {
    throw invalid('defaultTtl', 'must be -1 or a positive integer of seconds');
  }
  const ranges = request.feedRanges ?? DEFAULT_FEED_RANGES;
  if (!Number.isSafeInteger(ranges) || ranges < 1 || ranges > MAX_FEED_RANGES) {
    throw invalid('feedRanges', `must be an integer from 1 to ${MAX_FEED_RANGES}`);
  }
  return {
    database,
    id,
    partitionKeyPath: path,
    feedRanges: ranges,
    created: Math.floor(core.settings.clock.now() / 1000),
    ...(ttl === undefined ? {} : { defaultTtl: ttl }),
  };
}

export class Containers {
  readonly #core: StoreCore;
  readonly #database: string;

  constructor(core: StoreCore, database: string) {
    this.#core = core;
    this.#database = database;
  }

  /** Creates a container; STORE_CONFLICT when it exists, STORE_NOT_FOUND when the database does not. */
  async create(
    request: ContainerRequest,
  ): Promise<{ resource: ContainerResource; container: Container; statusCode: 201 }> {
    const definition = definitionOf(this.#core, this.#database, request);
    const def = await this.#core.run((driver) => driver.catalog({ op: 'createContainer', definition }));
    this.#core.forget(this.#database, def.id);
    return { resource: toResource(def), container: new Container(this.#core, this.#database, def.id), statusCode: 201 };
  }

  /** Creates the container unless one with that id exists (whose definition is then returned as is). */
  async createIfNotExists(
    request: ContainerRequest,
  ): Promise<{ resource: ContainerResource; container: Container; statusCode: 200 | 201 }> {
    try {
      return await this.create(request);
    } catch (err) {
      if (!isStoreError(err, 'STORE_CONFLICT')) throw err;
      const def = await this.#core.definition(this.#database, request.id);
      return {
        resource: toResource(def),
        container: new Container(this.#core, this.#database, def.id),
        statusCode: 200,
      };
    }
  }

  /** Every container of the database. */
  async readAll(): Promise<{ resources: ContainerResource[] }> {
    const all = await this.#core.run((driver) => driver.catalog({ op: 'listContainers', database: this.#database }));
    return { resources: all.map(toResource) };
  }
}

export class Container {
  readonly id: string;
  readonly database: string;
  readonly items: Items;
  readonly #core: StoreCore;

  constructor(core: StoreCore, database: string, id: string) {
    this.#core = core;
    this.database = database;
    this.id = id;
    this.items = new Items(core, database, id);
  }

  /** One item, addressed by id and partition key value. */
  item(id: string, partitionKey: PartitionKey): Item {
    return new Item(this.#core, this.database, this.id, id, partitionKey);
  }

  /** The container's definition; STORE_NOT_FOUND when it does not exist. */
  async read(): Promise<{ resource: ContainerResource; statusCode: 200 }> {
    this.#core.forget(this.database, this.id);
    return { resource: toResource(await this.#core.definition(this.database, this.id)), statusCode: 200 };
  }

  /** Deletes the container and its items. */
  async delete(): Promise<{ statusCode: 204 }> {
    this.#core.forget(this.database, this.id);
    await this.#core.run((driver) => driver.catalog({ op: 'deleteContainer', database: this.database, id: this.id }));
    return { statusCode: 204 };
  }

  /**
   * The change feed, pull model: `readNext()` for one page, or `for await` over pages as they come.
   * Resume from `startFrom: { continuation }`.
   */
  changeFeed(options: ChangeFeedOptions = {}): ChangeFeedIterator {
    return new ChangeFeedIterator(this.#core, this.database, this.id, options);
  }

  /**
   * A change-feed processor: several instances with the same `processorName` share the feed
   * ranges through leases kept in `leaseContainer`, and take over the ranges of one that stops.
   */
  changeFeedProcessor(options: ChangeFeedProcessorOptions): ChangeFeedProcessor {
    return new ChangeFeedProcessor(this.#core, this, options);
  }
}
