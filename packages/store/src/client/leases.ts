/**
 * The change-feed processor's leases: one item per feed range in a lease container partitioned by
 * `/id` (`{ id, owner, expiresAt, continuation }`, the shape of Cosmos DB's lease documents in
 * spirit). Every change is a replace with `ifMatch`, so of two instances changing one lease only
 * one wins; the other learns the lease moved.
 * @module
 */
import { createHash } from 'node:crypto';
import type { ContainerDefinition } from '../driver.ts';
import { isStoreError } from '../errors.ts';
import type { PartitionKey } from '../item.ts';
import type { Item, Items } from './items.ts';

/** What a processor needs of a container (a `Container` has it). */
export interface ContainerLike {
  readonly database: string;
  readonly id: string;
  readonly items: Items;
  item(id: string, partitionKey: PartitionKey): Item;
  /** Its definition (a processor checks the lease container's partition key path through it). */
  read(): Promise<{ readonly resource: { readonly partitionKey: { readonly paths: readonly string[] } } }>;
}

export interface Lease {
  readonly id: string;
  readonly processor: string;
  readonly database: string;
  readonly container: string;
  readonly range: number;
  readonly owner: string | null;
  /** ms since the epoch on the owner's clock. */
  readonly expiresAt: number;
  /** The driver position checkpointed; null = where the processor's `startFrom` says. */
  readonly continuation: string | null;
  readonly _etag?: string;
}

type LeaseBody = Omit<Lease, '_etag'>;

function body(lease: Lease): LeaseBody {
  const { _etag, ...rest } = lease as Lease & { _ts?: number };
  delete (rest as { _ts?: number })._ts;
  return rest;
}

export class LeaseTable {
  readonly #container: ContainerLike;
  readonly #processor: string;

  constructor(container: ContainerLike, processor: string) {
    this.#container = container;
    this.#processor = processor;
  }

  /** Lease ids: the processor, a digest of the watched container (its handle too: a re-created container starts over), the range. */
  #prefix(def: ContainerDefinition): string {
    const container = createHash('sha256')
      .update(`${def.database}\u0000${def.id}\u0000${def.handle}`)
      .digest('base64url')
      .slice(0, 16);
    return `${encodeURIComponent(this.#processor)}|${container}|`;
  }

  /** Every lease of the processor for the container, creating missing ones starting at `start(range)`. */
  async all(def: ContainerDefinition, start: (range: number) => Promise<string | null>): Promise<Lease[]> {
    const prefix = this.#prefix(def);
    const { resources } = await this.#container.items
      .query<Lease>({
        query: 'SELECT * FROM c WHERE STARTSWITH(c.id, @prefix)',
        parameters: [{ name: '@prefix', value: prefix }],
      })
      .fetchAll();
    const byRange = new Map(resources.map((l) => [l.range, l]));
    for (let range = 0; range < def.feedRanges; range++) {
      if (byRange.has(range)) continue;
      const fresh: LeaseBody = {
        id: `${prefix}${range}`,
        processor: this.#processor,
        database: def.database,
        container: def.id,
        range,
        owner: null,
        expiresAt: 0,
        continuation: await start(range),
      };
      try {
        const { resource } = await this.#container.items.create(fresh);
        byRange.set(range, resource as unknown as Lease);
      } catch (err) {
        if (!isStoreError(err, 'STORE_CONFLICT')) throw err;
        const { resource } = await this.#container.item(fresh.id, fresh.id).read<Lease>();
        if (resource !== undefined) byRange.set(range, resource);
      }
    }
    return [...byRange.values()].filter((l) => l.range < def.feedRanges).sort((a, b) => a.range - b.range);
  }

  /** Writes `changes` over `current` if nobody changed it since it was read; undefined when somebody did. */
  async replace(current: Lease, changes: Partial<LeaseBody>): Promise<Lease | undefined> {
    try {
      const { resource } = await this.#container
        .item(current.id, current.id)
        .replace({ ...body(current), ...changes }, { ifMatch: current._etag! });
      return resource as unknown as Lease;
    } catch (err) {
      if (isStoreError(err, 'STORE_PRECONDITION_FAILED') || isStoreError(err, 'STORE_NOT_FOUND')) return undefined;
      throw err;
    }
  }
}
