/**
 * The reference {@link InstallationRepository}: installations in a Map, with a tag → installation
 * ids index over {@link indexTags}, so `find({ tags })` reads only the installations carrying one of
 * the tags. In-process and lost on exit; the composition root backs the port with `@hubbub/store`.
 * @module
 */
import type { Installation } from '../model.ts';
import { type InstallationQuery, type InstallationRepository, indexTags } from '../repository.ts';

export class MemoryInstallationRepository implements InstallationRepository {
  readonly kind = 'memory';
  readonly #installations = new Map<string, Installation>();
  readonly #byTag = new Map<string, Set<string>>();

  async get(installationId: string): Promise<Installation | undefined> {
    const installation = this.#installations.get(installationId);
    return installation === undefined ? undefined : structuredClone(installation);
  }

  async put(installation: Installation): Promise<void> {
    this.#unindex(installation.installationId);
    const copy = structuredClone(installation);
    this.#installations.set(copy.installationId, copy);
    for (const tag of indexTags(copy)) {
      let ids = this.#byTag.get(tag);
      if (ids === undefined) {
        ids = new Set();
        this.#byTag.set(tag, ids);
      }
      ids.add(copy.installationId);
    }
  }

  async delete(installationId: string): Promise<boolean> {
    this.#unindex(installationId);
    return this.#installations.delete(installationId);
  }

  /** Yields the stored objects themselves (a fan-out reads 100,000 of them): treat them as read-only. */
  async *find(query: InstallationQuery = {}): AsyncIterable<Installation> {
    let ids: string[];
    if (query.tags === undefined) ids = [...this.#installations.keys()];
    else {
      const union = new Set<string>();
      for (const tag of query.tags) for (const id of this.#byTag.get(tag) ?? []) union.add(id);
      ids = [...union];
    }
    const { after, platform } = query;
    if (after !== undefined) ids = ids.filter((id) => id > after);
    ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const id of ids) {
      const installation = this.#installations.get(id);
      if (installation !== undefined && (platform === undefined || installation.platform === platform)) {
        yield installation;
      }
    }
  }

  async close(): Promise<void> {}

  /** Installations stored (for tests and benchmarks). */
  get size(): number {
    return this.#installations.size;
  }

  #unindex(installationId: string): void {
    const old = this.#installations.get(installationId);
    if (old === undefined) return;
    for (const tag of indexTags(old)) {
      const ids = this.#byTag.get(tag);
      ids?.delete(installationId);
      if (ids?.size === 0) this.#byTag.delete(tag);
    }
  }
}

export function createMemoryInstallationRepository(): MemoryInstallationRepository {
  return new MemoryInstallationRepository();
}
