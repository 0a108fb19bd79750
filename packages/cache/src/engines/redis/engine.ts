/**
 * The Redis engine (`redis://…`, `rediss://…`) on the official `redis` client, imported only when
 * the engine opens. Keys map to Redis strings one to one; TTLs are Redis's (PX), so every process
 * on the same server agrees on them. Increment with a TTL is one MULTI: `SET key 0 NX PX ttl` (the
 * TTL lands only when the key is created) then `INCRBY`. The offline queue is off: while the
 * connection is down, calls fail at once with CACHE_UNAVAILABLE instead of waiting, and the client
 * reconnects in the background with back-off.
 * @module
 */
import { type BackoffOptions, backoffDelay } from '@hubbub/kernel';
import type { RedisClientType } from 'redis';
import { CacheError, CacheErrorCode, closedError } from '../../errors.ts';
import type { CacheEngine, CacheEngineEvents } from '../../port.ts';

export interface RedisEngineOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  url: string;
  /** The connection's name on the server (`CLIENT SETNAME`, shown by `CLIENT LIST`). @default 'hubbub-cache' */
  clientName?: string;
  /** Time allowed to open a connection, in ms. @default 5_000 */
  connectTimeoutMs?: number;
  /** Delays between reconnect attempts after the connection drops. @default { initialMs: 50, maxMs: 5_000 } */
  reconnect?: BackoffOptions;
}

type Redis = typeof import('redis');
type Client = RedisClientType;

export class RedisEngine implements CacheEngine {
  readonly kind = 'redis';
  readonly #options: RedisEngineOptions;
  #redis: Redis | undefined;
  #client: Client | undefined;
  #events: CacheEngineEvents | undefined;
  #down = false;

  constructor(options: RedisEngineOptions) {
    this.#options = options;
  }

  async open(events: CacheEngineEvents): Promise<void> {
    const redis = await import('redis');
    const { url, clientName = 'hubbub-cache', connectTimeoutMs = 5_000 } = this.#options;
    const reconnect = { initialMs: 50, maxMs: 5_000, ...this.#options.reconnect };
    let connected = false;
    const client = redis.createClient({
      url,
      name: clientName,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: connectTimeoutMs,
        // Before the first connection, give up (start() fails); after it, retry for as long as we are open.
        reconnectStrategy: (retries: number, cause: Error) =>
          connected ? backoffDelay(retries + 1, reconnect) : unavailable('Cannot connect to Redis.', cause),
      },
    }) as unknown as Client;
    client.on('error', (err: Error) => {
      if (!connected || this.#down) return;
      this.#down = true;
      this.#events?.error(unavailable('The connection to Redis dropped; reconnecting.', err));
    });
    client.on('ready', () => {
      this.#down = false;
    });
    try {
      await client.connect();
    } catch (cause) {
      throw unavailable(`Cannot connect to Redis at ${redactedUrl(url)}.`, cause);
    }
    connected = true;
    this.#redis = redis;
    this.#client = client;
    this.#events = events;
  }

  async get(key: string): Promise<string | undefined> {
    const client = this.#open();
    try {
      return (await client.get(key)) ?? undefined;
    } catch (err) {
      throw this.#failure(err, key);
    }
  }

  async set(key: string, value: string, ttlMs: number | undefined): Promise<void> {
    const client = this.#open();
    try {
      if (ttlMs === undefined) await client.set(key, value);
      else await client.set(key, value, { expiration: { type: 'PX', value: ttlMs } });
    } catch (err) {
      throw this.#failure(err, key);
    }
  }

  async delete(key: string): Promise<boolean> {
    const client = this.#open();
    try {
      return (await client.del(key)) > 0;
    } catch (err) {
      throw this.#failure(err, key);
    }
  }

  async increment(key: string, by: number, ttlMs: number | undefined): Promise<number> {
    const client = this.#open();
    try {
      if (ttlMs === undefined) return await client.incrBy(key, by);
      const [, result] = await client
        .multi()
        .set(key, '0', { condition: 'NX', expiration: { type: 'PX', value: ttlMs } })
        .incrBy(key, by)
        .exec();
      return Number(result);
    } catch (err) {
      throw this.#failure(err, key, true);
    }
  }

  async ttl(key: string): Promise<number | undefined> {
    const client = this.#open();
    try {
      const ms = await client.pTTL(key);
      return ms === -2 ? undefined : ms === -1 ? Number.POSITIVE_INFINITY : ms;
    } catch (err) {
      throw this.#failure(err, key);
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#events = undefined;
    if (client === undefined || !client.isOpen) return;
    if (client.isReady) await client.close();
    else client.destroy();
  }

  #open(): Client {
    if (this.#client === undefined) throw closedError('closed');
    return this.#client;
  }

  /** A Redis or connection error as a CacheError. */
  #failure(err: unknown, key: string, incrementing = false): CacheError {
    if (err instanceof CacheError) return err;
    const redis = this.#redis;
    if (redis === undefined || !(err instanceof redis.ErrorReply)) {
      return unavailable(`Redis is unavailable (${(err as Error)?.message ?? err}).`, err);
    }
    const reply = err instanceof redis.MultiErrorReply ? ([...err.errors()][0] ?? err) : err;
    const message = reply.message;
    if (incrementing && /not an integer|overflow|WRONGTYPE/.test(message)) {
      return new CacheError(CacheErrorCode.NotANumber, `The value at '${key}' is not an integer.`, {
        cause: reply,
        detail: { key },
      });
    }
    if (message.startsWith('WRONGTYPE')) {
      return new CacheError(CacheErrorCode.InvalidValue, `The key '${key}' holds a Redis type other than a string.`, {
        cause: reply,
        detail: { key },
      });
    }
    return new CacheError(CacheErrorCode.EngineFailure, `Redis answered an error: ${message}`, { cause: reply });
  }
}

function unavailable(message: string, cause: unknown): CacheError {
  return new CacheError(CacheErrorCode.Unavailable, message, { cause });
}

/** The URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the given URL';
  }
}

export function createRedisEngine(options: RedisEngineOptions): RedisEngine {
  return new RedisEngine(options);
}
