/**
 * The store's REST resources, in the shape of the Cosmos DB REST API: `/dbs`, `/dbs/{db}`,
 * `/dbs/{db}/colls`, `/dbs/{db}/colls/{coll}`, `/dbs/{db}/colls/{coll}/docs`,
 * `/dbs/{db}/colls/{coll}/docs/{id}` — each with the resource type and link its signature covers.
 * @module
 */
import { decodePathSegment } from '@hubbub/kernel';

export type Route =
  | { readonly kind: 'databases' }
  | { readonly kind: 'database'; readonly db: string }
  | { readonly kind: 'containers'; readonly db: string }
  | { readonly kind: 'container'; readonly db: string; readonly coll: string }
  | { readonly kind: 'items'; readonly db: string; readonly coll: string }
  | { readonly kind: 'item'; readonly db: string; readonly coll: string; readonly id: string };

export const methods: Record<Route['kind'], readonly string[]> = {
  databases: ['GET', 'POST'],
  database: ['GET', 'DELETE'],
  containers: ['GET', 'POST'],
  container: ['GET', 'DELETE'],
  items: ['GET', 'POST'],
  item: ['GET', 'PUT', 'PATCH', 'DELETE'],
};

/** The route of a path below the base path (`/dbs/…`), or undefined. */
export function parseRoute(path: string): Route | undefined {
  const raw = path.split('/').slice(1);
  if (raw[raw.length - 1] === '') raw.pop();
  if (raw[0] !== 'dbs' || raw.some((s) => s === '')) return undefined;
  const s = raw.map(decodePathSegment);
  const [, db, colls, coll, docs, id] = s;
  if (s.length === 1) return { kind: 'databases' };
  if (s.length === 2) return { kind: 'database', db: db! };
  if (colls !== 'colls') return undefined;
  if (s.length === 3) return { kind: 'containers', db: db! };
  if (s.length === 4) return { kind: 'container', db: db!, coll: coll! };
  if (docs !== 'docs') return undefined;
  if (s.length === 5) return { kind: 'items', db: db!, coll: coll! };
  if (s.length === 6) return { kind: 'item', db: db!, coll: coll!, id: id! };
  return undefined;
}

/** What a request's signature covers: resource type and link. */
export function resourceOf(route: Route): { resourceType: string; resourceLink: string } {
  switch (route.kind) {
    case 'databases':
      return { resourceType: 'dbs', resourceLink: '' };
    case 'database':
      return { resourceType: 'dbs', resourceLink: `dbs/${route.db}` };
    case 'containers':
      return { resourceType: 'colls', resourceLink: `dbs/${route.db}` };
    case 'container':
      return { resourceType: 'colls', resourceLink: `dbs/${route.db}/colls/${route.coll}` };
    case 'items':
      return { resourceType: 'docs', resourceLink: `dbs/${route.db}/colls/${route.coll}` };
    default:
      return { resourceType: 'docs', resourceLink: `dbs/${route.db}/colls/${route.coll}/docs/${route.id}` };
  }
}
