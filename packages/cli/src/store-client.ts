/**
 * What `hubbub store databases | query | read` look into: a store opened here by URL, or a running
 * server's store over its HTTP API (`--endpoint`, requests signed with the store's master key) —
 * the way to look into the PGlite store of a running `npm start`, whose directory has one owner.
 * @module
 */
import { HubbubError } from '@hubbub/kernel';
import { type Store, signRequest } from '@hubbub/system';

export interface ContainerSummary {
  readonly id: string;
  readonly partitionKey: string | undefined;
  readonly items: number;
}

export interface QueryRequest {
  readonly query: string;
  readonly parameters: readonly { readonly name: string; readonly value: unknown }[];
}

export interface StoreReader {
  databases(): Promise<{ id: string; containers: ContainerSummary[] }[]>;
  query(db: string, container: string, spec: QueryRequest, partitionKey: string | undefined): Promise<unknown[]>;
  read(db: string, container: string, id: string, partitionKey: string): Promise<unknown>;
}

const COUNT = 'SELECT VALUE COUNT(1) FROM c';
const KINDS = ['dbs', 'colls', 'docs'] as const;

/** A store opened in this process. */
export function localReader(store: Store): StoreReader {
  const reader: StoreReader = {
    async databases() {
      const { resources: dbs } = await store.databases.readAll();
      const out = [];
      for (const db of dbs) {
        const { resources } = await store.database(db.id).containers.readAll();
        const containers: ContainerSummary[] = [];
        for (const c of resources) {
          const [items] = await reader.query(db.id, c.id, { query: COUNT, parameters: [] }, undefined);
          containers.push({ id: c.id, partitionKey: c.partitionKey.paths[0], items: Number(items ?? 0) });
        }
        out.push({ id: db.id, containers });
      }
      return out;
    },
    async query(db, container, spec, partitionKey) {
      const { resources } = await store
        .database(db)
        .container(container)
        .items.query(
          { query: spec.query, parameters: [...spec.parameters] },
          partitionKey === undefined ? {} : { partitionKey },
        )
        .fetchAll();
      return resources;
    },
    async read(db, container, id, partitionKey) {
      return (await store.database(db).container(container).item(id, partitionKey).read()).resource;
    },
  };
  return reader;
}

/** A running server's store (`http://127.0.0.1:7071/store`), over its HTTP API. */
export function remoteReader(endpoint: string, key: string): StoreReader {
  const base = endpoint.replace(/\/+$/, '');
  async function call(
    method: string,
    ids: readonly string[],
    kind: 'dbs' | 'colls' | 'docs',
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; continuation: string | null }> {
    // dbs/{db}/colls/{coll}/docs/{id}: the signed link names the ids as they are, the URL encodes
    // them; a listing (or a query) adds its kind to the path but not to the link.
    const link = ids.flatMap((id, i) => [KINDS[i]!, id]);
    const path = ids.length === KINDS.indexOf(kind) ? [...link, kind] : link;
    const resourceLink = link.join('/');
    const date = new Date().toUTCString();
    const res = await fetch(`${base}/${path.map(encodeURIComponent).join('/')}`, {
      method,
      headers: {
        'x-ms-date': date,
        authorization: signRequest(key, { verb: method, resourceType: kind, resourceLink, date }),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    }).catch((err: unknown) => {
      throw new HubbubError('CLI_STORE_UNREACHABLE', `No store answers at ${base}: ${(err as Error).message}`, {
        cause: err,
        detail: { endpoint: base },
      });
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      /* not JSON: reported below by status */
    }
    if (res.status === 404 && kind === 'docs' && ids.length === 3) return { status: 404, body, continuation: null };
    if (!res.ok) {
      const error = (body.error ?? {}) as { code?: string; message?: string };
      throw new HubbubError(
        error.code ?? 'CLI_STORE_UNREACHABLE',
        error.message ?? `The store answered ${res.status}.`,
        {
          status: res.status,
        },
      );
    }
    return { status: res.status, body, continuation: res.headers.get('x-ms-continuation') };
  }

  const reader: StoreReader = {
    async databases() {
      const { body } = await call('GET', [], 'dbs');
      const out = [];
      for (const db of body.Databases as { id: string }[]) {
        const { body: colls } = await call('GET', [db.id], 'colls');
        const containers: ContainerSummary[] = [];
        for (const c of colls.DocumentCollections as { id: string; partitionKey?: { paths?: string[] } }[]) {
          const [items] = await reader.query(db.id, c.id, { query: COUNT, parameters: [] }, undefined);
          containers.push({ id: c.id, partitionKey: c.partitionKey?.paths?.[0], items: Number(items ?? 0) });
        }
        out.push({ id: db.id, containers });
      }
      return out;
    },
    async query(db, container, spec, partitionKey) {
      const all: unknown[] = [];
      let continuation: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof call>> = await call('POST', [db, container], 'docs', {
          body: { query: spec.query, parameters: spec.parameters },
          headers: {
            'x-ms-documentdb-isquery': 'true',
            ...(partitionKey === undefined ? {} : { 'x-ms-documentdb-partitionkey': JSON.stringify([partitionKey]) }),
            ...(continuation === null ? {} : { 'x-ms-continuation': continuation }),
          },
        });
        all.push(...(page.body.Documents as unknown[]));
        continuation = page.continuation;
      } while (continuation !== null);
      return all;
    },
    async read(db, container, id, partitionKey) {
      const { status, body } = await call('GET', [db, container, id], 'docs', {
        headers: { 'x-ms-documentdb-partitionkey': JSON.stringify([partitionKey]) },
      });
      return status === 404 ? undefined : body;
    },
  };
  return reader;
}
