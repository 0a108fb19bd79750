/**
 * Point reads of one container served from memory, kept coherent by the container's change feed
 * instead of a time to live: every change the feed reports drops the cached versions of its id.
 * For reference data a function reads on every invocation (a restaurant and its menu, per order).
 *
 * The bounds, which is why a container is cached only when the app asks (`CosmosDBCachedReads`):
 * - a write is seen once the feed reports it: at once for a write through this process's store
 *   (the feed's waiter wakes on it, then one page is read), within the store's feed poll interval
 *   for one made by another process on a shared PostgreSQL;
 * - the feed carries no deletes and no TTL expiries: a cached version lives at most `maxAgeMs`;
 * - a read that began before a change the feed reported is not cached (an epoch counts the
 *   feed's pages), nor any read before the feed's position is taken, nor after the feed failed.
 * @module
 */
import { type Container, isStoreError } from '@hubbub/store';

type JsonObject = Record<string, unknown>;

export interface ReadCacheOptions {
  /** Longest a cached version is served (the feed carries no deletes or expiries), ms. @default 60_000 */
  readonly maxAgeMs?: number;
  /** Most documents kept; past it the cache starts over. @default 10_000 */
  readonly maxEntries?: number;
  /** Wait before following the feed again after it failed, ms. @default 1_000 */
  readonly retryMs?: number;
  readonly now?: () => number;
  /** The feed failed (the cache serves nothing until it follows it again). */
  readonly onError?: (err: unknown) => void;
}

interface Entry {
  readonly doc: JsonObject | undefined;
  readonly at: number;
}

export class ReadCache {
  readonly #container: Container;
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  readonly #retryMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  /** id → partition key → entry. */
  readonly #entries = new Map<string, Map<string, Entry>>();
  #size = 0;
  /** Counts the feed's pages: a read that saw another value began before a change. */
  #epoch = 0;
  #following = false;
  #closed = false;
  #started = false;
  readonly #abort = new AbortController();

  constructor(container: Container, options: ReadCacheOptions = {}) {
    this.#container = container;
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  /** Whether the feed is followed (reads are cached only then). */
  get following(): boolean {
    return this.#following;
  }

  /** The document by id and partition key: from memory while coherent, else `load()`. */
  async read(
    id: string,
    partitionKey: string,
    load: () => Promise<JsonObject | undefined>,
  ): Promise<JsonObject | undefined> {
    if (!this.#started) {
      this.#started = true;
      void this.#follow();
    }
    const hit = this.#entries.get(id)?.get(partitionKey);
    if (hit !== undefined && this.#following && this.#now() - hit.at < this.#maxAgeMs) return hit.doc;
    const epoch = this.#epoch;
    const following = this.#following;
    const at = this.#now();
    const doc = await load();
    if (following && this.#following && epoch === this.#epoch && !this.#closed)
      this.#set(id, partitionKey, { doc, at });
    return doc;
  }

  close(): void {
    this.#closed = true;
    this.#following = false;
    this.#abort.abort();
    this.#clear();
  }

  #set(id: string, partitionKey: string, entry: Entry): void {
    if (this.#size >= this.#maxEntries) this.#clear();
    let byKey = this.#entries.get(id);
    if (byKey === undefined) {
      byKey = new Map();
      this.#entries.set(id, byKey);
    }
    if (!byKey.has(partitionKey)) this.#size++;
    byKey.set(partitionKey, entry);
  }

  #clear(): void {
    this.#entries.clear();
    this.#size = 0;
  }

  async #follow(): Promise<void> {
    while (!this.#closed) {
      try {
        const feed = this.#container.changeFeed({ startFrom: 'now', maxItemCount: 1_000, signal: this.#abort.signal });
        await feed.readNext(); // the position: every change after it comes through the loop below
        this.#following = !this.#closed;
        for await (const page of feed) {
          this.#epoch++;
          for (const doc of page.items) {
            const byKey = this.#entries.get(String(doc.id));
            if (byKey === undefined) continue;
            this.#size -= byKey.size;
            this.#entries.delete(String(doc.id));
          }
        }
        // The iteration ends when the store closes or the cache does.
        this.#following = false;
        this.#clear();
        return;
      } catch (err) {
        this.#following = false;
        this.#epoch++;
        this.#clear();
        if (this.#closed || isStoreError(err, 'STORE_CLOSED')) return;
        this.#onError(err);
        await new Promise((resolve) => setTimeout(resolve, this.#retryMs).unref());
      }
    }
  }
}
