/**
 * The change feed, pull model: pages of the latest version of each changed item, in change order
 * per partition, resumable from a continuation token (which names the container, the range or
 * partition, and the driver's position). Deletes do not appear (Cosmos's "latest version" mode),
 * nor do expired items.
 * @module
 */
import type { ContainerDefinition } from '../driver.ts';
import { invalidRequest, StoreError } from '../errors.ts';
import { encodePartitionKey, type PartitionKey } from '../item.ts';
import type { JsonObject } from '../json.ts';
import type { StoreCore } from './core.ts';
import { pageSize } from './query-iterator.ts';

export interface ChangeFeedOptions {
  /** Where to begin: every change kept, only changes from now on, or a continuation. @default 'beginning' */
  readonly startFrom?: 'beginning' | 'now' | { readonly continuation: string };
  /** Only this partition. */
  readonly partitionKey?: PartitionKey;
  /** Only this feed range (0 … feedRanges − 1). */
  readonly range?: number;
  /** Items per page. @default 100 */
  readonly maxItemCount?: number;
  /** How often a waiting `for await` looks for changes from other processes. @default the store's feedPollIntervalMs */
  readonly pollIntervalMs?: number;
  /** Ends a `for await` loop. */
  readonly signal?: AbortSignal;
}

export interface ChangeFeedPage {
  readonly items: JsonObject[];
  /** Resume after this page with `startFrom: { continuation }`. */
  readonly continuation: string;
  /** 200 with changes, 304 without. */
  readonly statusCode: 200 | 304;
}

interface Token {
  v: 1;
  /** The container's handle: a token from a deleted and re-created container is refused. */
  c: string;
  p: string;
  r?: number;
  k?: string;
}

export function encodeFeedToken(token: Token): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

export function decodeFeedToken(text: unknown): Token {
  const bad = (): StoreError =>
    new StoreError('STORE_INVALID_CONTINUATION', 'The change-feed continuation is malformed.');
  if (typeof text !== 'string' || text.length > 4_096) throw bad();
  let t: Partial<Record<keyof Token, unknown>>;
  try {
    t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof t !== 'object' || t === null || t.v !== 1 || typeof t.c !== 'string' || typeof t.p !== 'string')
    throw bad();
  if (t.r !== undefined && !Number.isSafeInteger(t.r)) throw bad();
  if (t.k !== undefined && typeof t.k !== 'string') throw bad();
  return t as Token;
}

export class ChangeFeedIterator implements AsyncIterable<ChangeFeedPage> {
  readonly #core: StoreCore;
  readonly #database: string;
  readonly #container: string;
  readonly #options: ChangeFeedOptions;
  #token: Token | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(core: StoreCore, database: string, container: string, options: ChangeFeedOptions) {
    this.#core = core;
    this.#database = database;
    this.#container = container;
    this.#options = options;
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** The continuation after the last page read (undefined before the first read). */
  get continuation(): string | undefined {
    return this.#token === undefined ? undefined : encodeFeedToken(this.#token);
  }

  /** One page, possibly empty (statusCode 304); never waits for changes. */
  readNext(): Promise<ChangeFeedPage> {
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      this.#token ??= this.#begin(def);
      const token = this.#token;
      const after = token.p;
      const page = await driver.changes(def, {
        after: after === '' ? (this.#options.startFrom === 'now' ? 'now' : 'beginning') : after,
        limit: pageSize(this.#options.maxItemCount),
        now: this.#core.settings.clock.now(),
        ...(token.r === undefined ? {} : { range: token.r }),
        ...(token.k === undefined ? {} : { partitionKey: token.k }),
      });
      token.p = page.position;
      return { items: page.items, continuation: encodeFeedToken(token), statusCode: page.items.length > 0 ? 200 : 304 };
    });
  }

  /** Pages with changes, as they come; waits between them. Ends on `close()`, abort, or the store closing. */
  async *[Symbol.asyncIterator](): AsyncIterator<ChangeFeedPage> {
    const poll = this.#options.pollIntervalMs ?? this.#core.settings.feedPollIntervalMs;
    const unhook = this.#core.onClose(() => this.close());
    try {
      while (!this.#closed) {
        const def = await this.#core.definition(this.#database, this.#container);
        const seen = this.#core.changeCount(def.handle);
        const page = await this.readNext();
        if (page.items.length > 0) yield page;
        else if (!this.#closed) await this.#core.waitForChange(def.handle, seen, poll, this.#abort.signal);
      }
    } finally {
      unhook();
    }
  }

  /** Ends a running `for await` after its current wait. */
  close(): void {
    this.#closed = true;
    this.#abort.abort();
  }

  #begin(def: ContainerDefinition): Token {
    const { startFrom, range, partitionKey } = this.#options;
    if (range !== undefined && !(Number.isSafeInteger(range) && range >= 0 && range < def.feedRanges)) {
      throw invalidRequest('range', `must be an integer from 0 to ${def.feedRanges - 1}`);
    }
    const k = partitionKey === undefined ? undefined : encodePartitionKey(partitionKey);
    if (typeof startFrom === 'object' && startFrom !== null) {
      const token = decodeFeedToken(startFrom.continuation);
      if (token.c !== def.handle || (range !== undefined && token.r !== range) || (k !== undefined && token.k !== k)) {
        throw new StoreError(
          'STORE_INVALID_CONTINUATION',
          'The continuation belongs to another container, range or partition.',
        );
      }
      return token;
    }
    if (startFrom !== undefined && startFrom !== 'beginning' && startFrom !== 'now') {
      throw invalidRequest('startFrom', "must be 'beginning', 'now' or { continuation }");
    }
    return {
      v: 1,
      c: def.handle,
      p: '',
      ...(range === undefined ? {} : { r: range }),
      ...(k === undefined ? {} : { k }),
    };
  }
}
