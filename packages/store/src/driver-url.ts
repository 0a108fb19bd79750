/**
 * Drivers chosen by URL, each loaded only when its URL is used (`pg` and PGlite stay unloaded
 * unless asked for): `memory://`, `pglite://DIR` (`pglite://` alone keeps the database in memory),
 * `postgres://…` / `postgresql://…` (`?schema=NAME` picks the schema, default `hubbub_store`;
 * `?max=N` the pool size, default 10).
 * @module
 */
import { InvalidOptionError } from '@hubbub/kernel';
import type { DocumentDriver } from './driver.ts';

export async function driverFromUrl(url: string): Promise<DocumentDriver> {
  if (url === 'memory://' || url === 'memory:') {
    const { MemoryDriver } = await import('./drivers/memory/driver.ts');
    return new MemoryDriver();
  }
  if (url.startsWith('pglite://')) {
    const { PgliteDriver } = await import('./drivers/pglite/driver.ts');
    const dir = url.slice('pglite://'.length);
    return new PgliteDriver(dir === '' ? {} : { dir });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresDriver } = await import('./drivers/postgres/driver.ts');
    return new PostgresDriver(postgresOptions(url));
  }
  throw new InvalidOptionError('url', 'unsupported store URL (memory://, pglite://DIR, postgres://…)');
}

/** Splits Hubbub's own query parameters (`schema`, `max`) off a PostgreSQL URL. */
export function postgresOptions(url: string): { connectionString: string; schema?: string; maxConnections?: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError('url', 'is not a valid postgres:// URL');
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  const max = parsed.searchParams.get('max') ?? undefined;
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('max');
  const maxConnections = max === undefined ? undefined : Number(max);
  if (maxConnections !== undefined && !(Number.isSafeInteger(maxConnections) && maxConnections > 0)) {
    throw new InvalidOptionError('url', '?max= must be a positive integer');
  }
  return {
    connectionString: parsed.toString(),
    ...(schema === undefined ? {} : { schema }),
    ...(maxConnections === undefined ? {} : { maxConnections }),
  };
}

/** Whether a URL names a driver this package has (checked at construction, loaded at start). */
export function isDriverUrl(url: unknown): url is string {
  return (
    typeof url === 'string' &&
    (url === 'memory://' ||
      url === 'memory:' ||
      url.startsWith('pglite://') ||
      url.startsWith('postgres://') ||
      url.startsWith('postgresql://'))
  );
}
