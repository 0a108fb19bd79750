/**
 * What each route and method does, and the Cosmos REST headers it reads and writes:
 * `x-ms-documentdb-partitionkey` (a JSON array of one value), `If-Match`,
 * `x-ms-documentdb-is-upsert`, `x-ms-documentdb-isquery` (or `Content-Type: application/query+json`),
 * `x-ms-cosmos-is-batch-request`, `x-ms-max-item-count`, `x-ms-continuation`, and for the change
 * feed `A-IM: Incremental feed`, `If-None-Match` (the continuation; `*` = from now) and
 * `x-ms-documentdb-partitionkeyrangeid` (a feed range).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { queryParam, sendJson } from '@hubbub/kernel';
import type { Store } from '../client/store.ts';
import type { OperationInput, PatchRequest } from '../client/types.ts';
import { invalidItem, StoreError } from '../errors.ts';
import type { PartitionKey } from '../item.ts';
import type { QuerySpec } from '../query/bind.ts';
import type { Route } from './route.ts';

export interface Ctx {
  readonly store: Store;
  readonly route: Route;
  readonly verb: string;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly body: Buffer | undefined;
  readonly url: URL;
}

const h = (ctx: Ctx, name: string): string | undefined => {
  const v = ctx.request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

const invalid = (option: string, message: string): StoreError =>
  new StoreError('STORE_INVALID_REQUEST', `${option}: ${message}`, { detail: { option } });

function json(ctx: Ctx, item: boolean): unknown {
  try {
    return JSON.parse((ctx.body ?? Buffer.alloc(0)).toString('utf8'));
  } catch {
    throw item ? invalidItem('', 'The body is not JSON.') : invalid('body', 'not JSON');
  }
}

/** The partition key header: `["value"]`. */
function partitionKey(ctx: Ctx, required: boolean): PartitionKey | undefined {
  const raw = h(ctx, 'x-ms-documentdb-partitionkey');
  if (raw === undefined) {
    if (required)
      throw invalid('x-ms-documentdb-partitionkey', 'this operation needs the header, a JSON array of one value');
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 1) {
    throw invalid('x-ms-documentdb-partitionkey', 'must be a JSON array of one value, e.g. ["c1"]');
  }
  return value[0] as PartitionKey;
}

function maxItemCount(ctx: Ctx): number | undefined {
  const raw = h(ctx, 'x-ms-max-item-count') ?? queryParam(ctx.url.searchParams, 'maxItemCount');
  if (raw === undefined) return undefined;
  if (!/^-?[0-9]{1,6}$/.test(raw)) throw invalid('x-ms-max-item-count', 'must be an integer');
  return Number(raw);
}

const flag = (ctx: Ctx, name: string): boolean => h(ctx, name)?.toLowerCase() === 'true';

function reply(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204 || status === 304) {
    ctx.response.writeHead(status, headers);
    ctx.response.end();
    return;
  }
  sendJson(ctx.response, status, body, headers);
}

const etagHeader = (etag: string | undefined): Record<string, string> => (etag === undefined ? {} : { etag });

export async function serve(ctx: Ctx): Promise<void> {
  const { store, route, verb } = ctx;
  switch (route.kind) {
    case 'databases': {
      if (verb === 'GET') {
        const { resources } = await store.databases.readAll();
        return reply(ctx, 200, { _rid: '', Databases: resources, _count: resources.length });
      }
      const { resource } = await store.databases.create({ id: (json(ctx, false) as { id: string })?.id });
      return reply(ctx, 201, resource);
    }
    case 'database':
      if (verb === 'GET') return reply(ctx, 200, (await store.database(route.db).read()).resource);
      await store.database(route.db).delete();
      return reply(ctx, 204, undefined);
    case 'containers': {
      const containers = store.database(route.db).containers;
      if (verb === 'GET') {
        const { resources } = await containers.readAll();
        return reply(ctx, 200, { _rid: '', DocumentCollections: resources, _count: resources.length });
      }
      const body = json(ctx, false) as Parameters<typeof containers.create>[0];
      return reply(ctx, 201, (await containers.create(body)).resource);
    }
    case 'container': {
      const container = store.database(route.db).container(route.coll);
      if (verb === 'GET') return reply(ctx, 200, (await container.read()).resource);
      await container.delete();
      return reply(ctx, 204, undefined);
    }
    case 'items':
      return verb === 'GET' ? readFeed(ctx, route) : postItems(ctx, route);
    default:
      return item(ctx, route);
  }
}

async function postItems(ctx: Ctx, route: Extract<Route, { kind: 'items' }>): Promise<void> {
  const items = ctx.store.database(route.db).container(route.coll).items;
  const contentType = h(ctx, 'content-type') ?? '';
  if (flag(ctx, 'x-ms-documentdb-isquery') || contentType.startsWith('application/query+json')) {
    const spec = json(ctx, false) as QuerySpec;
    const pk = partitionKey(ctx, false);
    const max = maxItemCount(ctx);
    const token = h(ctx, 'x-ms-continuation');
    const page = await items
      .query(spec, {
        ...(pk === undefined ? {} : { partitionKey: pk }),
        ...(max === undefined ? {} : { maxItemCount: max }),
        ...(token === undefined ? {} : { continuationToken: token }),
      })
      .fetchNext();
    const headers = page.continuationToken === undefined ? {} : { 'x-ms-continuation': page.continuationToken };
    return reply(ctx, 200, { _rid: '', Documents: page.resources, _count: page.resources.length }, headers);
  }
  if (flag(ctx, 'x-ms-cosmos-is-batch-request')) {
    const ops = json(ctx, false) as OperationInput[];
    const { result } = await items.batch(ops, partitionKey(ctx, true)!);
    return reply(ctx, 200, result);
  }
  const body = json(ctx, true) as object;
  const pk = partitionKey(ctx, false);
  const options = pk === undefined ? {} : { partitionKey: pk };
  const ifMatch = h(ctx, 'if-match');
  const r = flag(ctx, 'x-ms-documentdb-is-upsert')
    ? await items.upsert(body, { ...options, ...(ifMatch === undefined ? {} : { ifMatch }) })
    : await items.create(body, options);
  return reply(ctx, r.statusCode, r.resource, etagHeader(r.etag));
}

/** `GET …/docs`: the change feed with `A-IM: Incremental feed`, else every item, paged. */
async function readFeed(ctx: Ctx, route: Extract<Route, { kind: 'items' }>): Promise<void> {
  const container = ctx.store.database(route.db).container(route.coll);
  const pk = partitionKey(ctx, false);
  const max = maxItemCount(ctx);
  if (h(ctx, 'a-im')?.toLowerCase() !== 'incremental feed') {
    const token = h(ctx, 'x-ms-continuation');
    const page = await container.items
      .readAll({
        ...(pk === undefined ? {} : { partitionKey: pk }),
        ...(max === undefined ? {} : { maxItemCount: max }),
        ...(token === undefined ? {} : { continuationToken: token }),
      })
      .fetchNext();
    const headers = page.continuationToken === undefined ? {} : { 'x-ms-continuation': page.continuationToken };
    return reply(ctx, 200, { _rid: '', Documents: page.resources, _count: page.resources.length }, headers);
  }
  const from = h(ctx, 'if-none-match');
  const rangeText = h(ctx, 'x-ms-documentdb-partitionkeyrangeid');
  if (rangeText !== undefined && !/^[0-9]{1,3}$/.test(rangeText)) {
    throw invalid('x-ms-documentdb-partitionkeyrangeid', 'must be a feed range number');
  }
  const page = await container
    .changeFeed({
      startFrom: from === undefined ? 'beginning' : from === '*' ? 'now' : { continuation: from },
      ...(pk === undefined ? {} : { partitionKey: pk }),
      ...(rangeText === undefined ? {} : { range: Number(rangeText) }),
      ...(max === undefined ? {} : { maxItemCount: max }),
    })
    .readNext();
  const headers = { etag: page.continuation };
  if (page.statusCode === 304) return reply(ctx, 304, undefined, headers);
  return reply(ctx, 200, { _rid: '', Documents: page.items, _count: page.items.length }, headers);
}

async function item(ctx: Ctx, route: Extract<Route, { kind: 'item' }>): Promise<void> {
  const handle = ctx.store.database(route.db).container(route.coll).item(route.id, partitionKey(ctx, true)!);
  const ifMatch = h(ctx, 'if-match');
  const condition = ifMatch === undefined ? {} : { ifMatch };
  switch (ctx.verb) {
    case 'GET': {
      const r = await handle.read();
      if (r.resource === undefined) {
        throw new StoreError('STORE_NOT_FOUND', `The item '${route.id}' does not exist.`, { detail: { id: route.id } });
      }
      return reply(ctx, 200, r.resource, etagHeader(r.etag));
    }
    case 'PUT': {
      const r = await handle.replace(json(ctx, true) as object, condition);
      return reply(ctx, 200, r.resource, etagHeader(r.etag));
    }
    case 'PATCH': {
      const r = await handle.patch(json(ctx, false) as PatchRequest, condition);
      return reply(ctx, 200, r.resource, etagHeader(r.etag));
    }
    default:
      await handle.delete(condition);
      return reply(ctx, 204, undefined);
  }
}
