/**
 * One table from engine URL scheme to the adapter that opens it, for every part the system
 * composes. Adapters are imported lazily (`await import()`), so an engine's code — and its client
 * library — loads only when a URL names it. The distributed engines (`nats://` for the bus,
 * `redis://` for the hub backplane and the cache, `pglite://` / `postgres://` for the store) join
 * this table as their packages land; nothing else parses engine URLs.
 * @module
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Bus } from '@hubbub/bus';
import type { BusEngine } from '@hubbub/bus/engine';
import type { Cache } from '@hubbub/cache';
import type { Backplane } from '@hubbub/hub';
import { type Clock, InvalidOptionError, type Logger, systemClock } from '@hubbub/kernel';
import type { Store } from '@hubbub/store';

interface EngineContext {
  readonly clock: Clock;
}

type BusEngineAdapter = (raw: string, context: EngineContext) => Promise<BusEngine>;

/** Bus engines by URL scheme (`nats:` is a broker the bus package opens itself, not an engine). */
const busEngines: Readonly<Record<string, BusEngineAdapter | undefined>> = {
  'memory:': async () => (await import('@hubbub/bus/engine')).createMemoryEngine(),
  'file:': async (raw, { clock }) => {
    const dir = raw.slice('file://'.length);
    if (dir === '') throw new InvalidOptionError('busUrl', 'file:// needs a directory (file://./data)');
    return (await import('@hubbub/bus/engine')).createFileEngine({ dir, clock });
  },
  // NATS JetStream: many processes (the components, the nodes of a cluster) share its queues.
  'nats:': undefined,
};

/** Cache engines by URL scheme: the cache package opens both itself; the table says which it serves. */
const cacheSchemes = ['memory:', 'redis:', 'rediss:'] as const;

/**
 * Store drivers by URL scheme: the store package loads each (PGlite, `pg`) only when its URL is
 * used; the table says which it serves. `pglite://DIR` is the embedded default with a data directory.
 */
const storeSchemes = ['memory:', 'pglite:', 'postgres:', 'postgresql:'] as const;

/** Hub backplanes by URL scheme: this process's alone (`memory://`), or Redis's (`@hubbub/hub-redis`). */
const backplaneSchemes = ['memory:', 'redis:', 'rediss:'] as const;

type Part = 'bus' | 'cache' | 'store' | 'backplane';

const schemesOf = (part: Part): readonly string[] =>
  part === 'bus'
    ? Object.keys(busEngines)
    : part === 'cache'
      ? cacheSchemes
      : part === 'store'
        ? storeSchemes
        : backplaneSchemes;

const placeholder = (scheme: string): string =>
  scheme === 'file:' || scheme === 'pglite:'
    ? 'DIR'
    : scheme.startsWith('redis') || scheme === 'nats:'
      ? 'HOST:PORT'
      : scheme.startsWith('postgres')
        ? 'USER@HOST:PORT/DB'
        : '';

/** The scheme of an engine URL the table knows for `part`; a KERNEL_INVALID_OPTION naming the choices otherwise. */
export function engineScheme(part: Part, url: string): string {
  // The scheme is read off the text, not through `new URL`: a NATS URL may list several servers
  // (`nats://a:4222,b:4222`), which WHATWG URL parsing refuses as a bad port.
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url)?.[1]?.toLowerCase();
  const known = schemesOf(part);
  if (scheme === undefined || !known.includes(scheme)) {
    const choices = known.map((s) => `${s}//${placeholder(s)}`).join(', ');
    throw new InvalidOptionError(`${part}Url`, `must be one of ${choices}, got '${url}'`);
  }
  return scheme;
}

/**
 * Opens the bus the URL names: `memory://` and `file://DIR` on the in-process broker, or
 * `nats://HOST:PORT[?namespace=NAME]` on NATS JetStream, shared with every process opening it.
 */
export async function openBusAt(url: string, options: { clock?: Clock; settleLingerMs?: number } = {}): Promise<Bus> {
  const scheme = engineScheme('bus', url);
  const clock = options.clock ?? systemClock;
  const adapter = busEngines[scheme];
  const { openBus } = await import('@hubbub/bus');
  if (adapter === undefined) return openBus({ url, clock });
  const linger = options.settleLingerMs === undefined ? {} : { settleLingerMs: options.settleLingerMs };
  return openBus({ engine: await adapter(url, { clock }), clock, ...linger });
}

/** Opens (starts) the cache the URL names: the in-process LRU (`memory://`) or Redis (`redis://…`). */
export async function openCache(url: string, options: { clock?: Clock } = {}): Promise<Cache> {
  engineScheme('cache', url);
  const { createCache } = await import('@hubbub/cache');
  const cache = createCache({ url, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  await cache.start();
  return cache;
}

/**
 * Opens (starts) the hub backplane the URL names: `memory://` (this process alone) or
 * `redis://HOST:PORT[/DB][?prefix=P&heartbeatMs=N&nodeTtlMs=N]` — hub nodes on the same Redis and
 * prefix form one cluster (default prefix `hubbub:hub:`; a node is dead `nodeTtlMs` after its last
 * heartbeat, default 10 s). Redis outages are logged as warnings; sends fail meanwhile with
 * HUB_BACKPLANE_UNAVAILABLE.
 */
export async function openBackplane(url: string, options: { clock?: Clock; logger?: Logger } = {}): Promise<Backplane> {
  const scheme = engineScheme('backplane', url);
  if (scheme === 'memory:') return (await import('@hubbub/hub')).createInProcessBackplane();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError('backplaneUrl', `is not a URL: '${url}'`);
  }
  const take = (name: string): string | undefined => {
    const value = parsed.searchParams.get(name) ?? undefined;
    parsed.searchParams.delete(name);
    return value === '' ? undefined : value;
  };
  const number = (name: string): number | undefined => {
    const value = take(name);
    if (value !== undefined && !/^\d+$/.test(value)) {
      throw new InvalidOptionError('backplaneUrl', `?${name}= must be a whole number of ms, got '${value}'`);
    }
    return value === undefined ? undefined : Number(value);
  };
  const prefix = take('prefix');
  const heartbeatMs = number('heartbeatMs');
  const nodeTtlMs = number('nodeTtlMs');
  const { createRedisBackplane } = await import('@hubbub/hub-redis');
  const backplane = createRedisBackplane({
    url: parsed.toString(),
    ...(prefix === undefined ? {} : { prefix }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
    ...(nodeTtlMs === undefined ? {} : { nodeTtlMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const logger = options.logger;
  if (logger !== undefined) {
    backplane.on('error', (err) => logger.warn({ err, part: 'backplane' }, err.message));
    backplane.on('reconnected', () =>
      logger.info({ part: 'backplane' }, 'Redis is back; the hub backplane is on again.'),
    );
    backplane.on('node-removed', (node) =>
      logger.warn({ part: 'backplane', node }, `hub node ${node} stopped answering: removed`),
    );
  }
  await backplane.start();
  return backplane;
}

/**
 * The store the URL names (`memory://`, `pglite://DIR`, `postgres://…`), created but not started:
 * `start()` — or its first operation — opens the driver (for PGlite, loading its WASM and, on an
 * empty directory, initialising the database, which takes seconds), so a caller decides whether
 * that waits.
 */
export async function createStoreAt(url: string, options: { clock?: Clock; logger?: Logger } = {}): Promise<Store> {
  const scheme = engineScheme('store', url);
  if (scheme === 'pglite:' && url.slice('pglite://'.length) === '') {
    throw new InvalidOptionError('storeUrl', 'pglite:// needs a directory (pglite://./data/store)');
  }
  const { createStore } = await import('@hubbub/store');
  return createStore({
    url,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}

/**
 * A `file://DIR` or `pglite://DIR` URL with its directory made absolute now (others unchanged): a
 * function app runs with its own directory as the working directory, and an embedded engine may
 * open its directory later than that.
 */
export function absoluteEngineUrl(url: string): string {
  const match = /^(file|pglite):\/\/(.+)$/i.exec(url);
  if (match === null || isAbsolute(match[2]!)) return url;
  return `${match[1]}://${resolvePath(match[2]!)}`;
}
