/**
 * Paging through a query. Each page asks the driver for rows after the sort key of the previous
 * page's last row (keyset paging: stable while items change, and no page costs more than its own
 * rows), and the continuation token carries that key, the rows still allowed by TOP / LIMIT, and a
 * fingerprint of the query, its parameters, partition and container, so a token is only accepted
 * by the query that wrote it.
 * @module
 */
import { createHash } from 'node:crypto';
import { invalidRequest, StoreError } from '../errors.ts';
import { encodePartitionKey } from '../item.ts';
import type { Json } from '../json.ts';
import type { CountExpr, Query } from '../query/ast.ts';
import { bindQuery, parameterMap, type QuerySpec } from '../query/bind.ts';
import { queryError } from '../query/lexer.ts';
import { parseQuery } from '../query/parser.ts';
import type { StoreCore } from './core.ts';
import type { FeedOptions, FeedResponse } from './types.ts';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 10_000;

interface Position {
  after?: Json[];
  /** Rows TOP / LIMIT still allow; undefined = no bound. */
  remaining?: number;
  first: boolean;
}

/** Parses and binds a query spec (text, or text with parameters). */
export function compileQuery(spec: QuerySpec): Query {
  return compile(spec).query;
}

function compile(spec: QuerySpec): { query: Query; parameters: unknown[] } {
  if (typeof spec === 'string') return { query: bindQuery(parseQuery(spec), new Map()), parameters: [] };
  if (typeof spec !== 'object' || spec === null || typeof spec.query !== 'string') {
    throw queryError('A query is a string or {query, parameters}', 1);
  }
  const parameters = parameterMap(spec.parameters);
  return { query: bindQuery(parseQuery(spec.query), parameters), parameters: [...parameters] };
}

/** The number a bound TOP / OFFSET / LIMIT holds. */
export function countOf(c: CountExpr | undefined): number | undefined {
  return c?.kind === 'literal' ? c.value : undefined;
}

export function pageSize(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE;
  if (value === -1) return 1_000;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > MAX_PAGE) {
    throw invalidRequest('maxItemCount', `must be an integer from 1 to ${MAX_PAGE} (or -1)`);
  }
  return value as number;
}

export class QueryIterator<T> implements AsyncIterable<FeedResponse<T>> {
  readonly #core: StoreCore;
  readonly #database: string;
  readonly #container: string;
  readonly #spec: QuerySpec;
  readonly #options: FeedOptions;
  #position: Position | undefined;
  #compiled: { query: Query; parameters: unknown[] } | undefined;
  #done = false;

  constructor(core: StoreCore, database: string, container: string, spec: QuerySpec, options: FeedOptions) {
    this.#core = core;
    this.#database = database;
    this.#container = container;
    this.#spec = spec;
    this.#options = options;
  }

  hasMoreResults(): boolean {
    return !this.#done;
  }

  /** The next page (possibly empty); after the last, an empty page with `hasMoreResults: false`. */
  fetchNext(): Promise<FeedResponse<T>> {
    if (this.#done) return Promise.resolve({ resources: [], continuationToken: undefined, hasMoreResults: false });
    return this.#core.onContainer(this.#database, this.#container, async (driver, def) => {
      this.#compiled ??= compile(this.#spec);
      const { query, parameters } = this.#compiled;
      const size = pageSize(this.#options.maxItemCount);
      const partitionKey =
        this.#options.partitionKey === undefined ? undefined : encodePartitionKey(this.#options.partitionKey);
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([def.handle, query.text, parameters, partitionKey ?? null]))
        .digest('base64url')
        .slice(0, 16);
      this.#position ??= this.#start(query, fingerprint);
      const position = this.#position;
      const take = Math.min(size, position.remaining ?? Number.POSITIVE_INFINITY);
      if (take === 0) return this.#finish([]);
      const offset = position.first ? (countOf(query.offset) ?? 0) : 0;
      const page = await driver.query(def, {
        query,
        ...(partitionKey === undefined ? {} : { partitionKey }),
        ...(position.after === undefined ? {} : { after: position.after }),
        offset,
        limit: take,
        now: this.#core.settings.clock.now(),
      });
      if (query.select.kind === 'count') return this.#finish(page.rows as T[]);
      position.first = false;
      if (position.remaining !== undefined) position.remaining -= page.rows.length;
      if (page.last !== undefined) position.after = page.last;
      if (!page.more || position.remaining === 0) return this.#finish(page.rows as T[]);
      const token = Buffer.from(
        JSON.stringify({
          v: 1,
          f: fingerprint,
          k: position.after,
          ...(position.remaining === undefined ? {} : { r: position.remaining }),
        }),
      ).toString('base64url');
      return { resources: page.rows as T[], continuationToken: token, hasMoreResults: true };
    });
  }

  /** Every remaining page, concatenated. */
  async fetchAll(): Promise<FeedResponse<T>> {
    const resources: T[] = [];
    while (!this.#done) resources.push(...(await this.fetchNext()).resources);
    return { resources, continuationToken: undefined, hasMoreResults: false };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FeedResponse<T>> {
    while (!this.#done) yield await this.fetchNext();
  }

  #finish(resources: T[]): FeedResponse<T> {
    this.#done = true;
    return { resources, continuationToken: undefined, hasMoreResults: false };
  }

  #start(query: Query, fingerprint: string): Position {
    const bounds = [countOf(query.top), countOf(query.limit)].filter((n) => n !== undefined);
    const remaining = bounds.length === 0 ? undefined : Math.min(...bounds);
    const token = this.#options.continuationToken;
    if (token === undefined) return { first: true, ...(remaining === undefined ? {} : { remaining }) };
    const state = decodeToken(token);
    if (state.f !== fingerprint) {
      throw new StoreError(
        'STORE_INVALID_CONTINUATION',
        'The continuation token belongs to another query, parameters or partition.',
      );
    }
    return { first: false, after: state.k, ...(state.r === undefined ? {} : { remaining: state.r }) };
  }
}

function decodeToken(token: unknown): { f: string; k: Json[]; r?: number } {
  const bad = (): StoreError => new StoreError('STORE_INVALID_CONTINUATION', 'The continuation token is malformed.');
  if (typeof token !== 'string' || token.length > 16_384) throw bad();
  let state: { v?: unknown; f?: unknown; k?: unknown; r?: unknown };
  try {
    state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (
    typeof state !== 'object' ||
    state === null ||
    state.v !== 1 ||
    typeof state.f !== 'string' ||
    !Array.isArray(state.k)
  ) {
    throw bad();
  }
  if (state.r !== undefined && !(Number.isSafeInteger(state.r) && (state.r as number) >= 0)) throw bad();
  return state as { f: string; k: Json[]; r?: number };
}
