/**
 * The hub backplane on Redis: sends, group changes and closes go to every node over one Redis
 * pub/sub channel, and {@link RedisPresence} keeps who is connected where. A node delivers its own
 * messages in process at once and skips their echo; the others receive them in the order this
 * node published them (one connection publishes, Redis keeps its order).
 *
 * Delivery is at most once, like SignalR's: a message published while Redis is down is refused
 * with HUB_BACKPLANE_UNAVAILABLE (it reached no node, not even this one), and so is one published
 * past `maxPendingPublishes` waiting for Redis (HUB_BACKPLANE_OVERLOADED). The client reconnects
 * with back-off and subscribes again; `error` says once per outage that Redis was lost.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { type Backplane, type BackplaneMessage, type ClusterPresence, HubError, HubErrorCode } from '@hubbub/hub';
import {
  type BackoffOptions,
  backoffDelay,
  type Clock,
  InvalidOptionError,
  systemClock,
  type TimerHandle,
  TypedEmitter,
} from '@hubbub/kernel';
import type { RedisClientType } from 'redis';
import { decodeEnvelope, encodeEnvelope } from './codec.ts';
import { RedisPresence } from './presence.ts';
import { type ScriptName, scripts } from './scripts.ts';

export interface RedisBackplaneOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  url: string;
  /** Prefix of every key and of the channel: nodes with the same prefix form one cluster. @default 'hubbub:hub:' */
  prefix?: string;
  /** This node's id in the cluster. @default 16 random hex characters */
  nodeId?: string;
  /** How often this node renews its heartbeat and looks for dead nodes, in ms. @default 2_000 */
  heartbeatMs?: number;
  /** A node whose heartbeat is older than this is dead: its connections are removed. @default 10_000 */
  nodeTtlMs?: number;
  /** Publishes waiting for Redis at once; past it publish fails with HUB_BACKPLANE_OVERLOADED. @default 10_000 */
  maxPendingPublishes?: number;
  /** Time allowed to open a connection, in ms. @default 5_000 */
  connectTimeoutMs?: number;
  /** Delays between reconnect attempts. @default { initialMs: 50, maxMs: 2_000 } */
  reconnect?: BackoffOptions;
  /** @default systemClock */
  clock?: Clock;
}

export type RedisBackplaneEvents = {
  /** Redis was lost (HUB_BACKPLANE_UNAVAILABLE, once per outage), or a presence write or heartbeat failed. */
  error: (error: HubError) => void;
  /** The connection to Redis is back after an outage (messages published meanwhile on other nodes were lost). */
  reconnected: () => void;
  /** A message on the channel was not a backplane message (HUB_INVALID_MESSAGE); it was dropped. */
  'invalid-message': (error: HubError) => void;
  /** This node removed a node whose heartbeat ran out, with its connections. */
  'node-removed': (nodeId: string) => void;
};

type Client = RedisClientType;

export class RedisBackplane extends TypedEmitter<RedisBackplaneEvents> implements Backplane {
  readonly nodeId: string;
  readonly presence: ClusterPresence;
  readonly #presence: RedisPresence;
  readonly #options: Required<Omit<RedisBackplaneOptions, 'reconnect' | 'nodeId'>> & { reconnect: BackoffOptions };
  readonly #channel: string;
  readonly #handlers = new Set<(message: BackplaneMessage) => void>();
  readonly #shas = new Map<ScriptName, string>();
  #publisher: Client | undefined;
  #subscriber: Client | undefined;
  #pending = 0;
  #down = false;
  #state: 'idle' | 'starting' | 'open' | 'closed' = 'idle';
  #timer: TimerHandle | undefined;
  #beat: Promise<void> | undefined;

  constructor(options: RedisBackplaneOptions) {
    super();
    if (!/^rediss?:\/\//.test(options.url)) throw new InvalidOptionError('url', `must be redis://… or rediss://…`);
    const heartbeatMs = options.heartbeatMs ?? 2_000;
    const nodeTtlMs = options.nodeTtlMs ?? 10_000;
    if (!(heartbeatMs > 0)) throw new InvalidOptionError('heartbeatMs', 'must be a positive number');
    if (!(nodeTtlMs > heartbeatMs)) throw new InvalidOptionError('nodeTtlMs', 'must be longer than heartbeatMs');
    const maxPendingPublishes = options.maxPendingPublishes ?? 10_000;
    if (!Number.isInteger(maxPendingPublishes) || maxPendingPublishes < 1) {
      throw new InvalidOptionError('maxPendingPublishes', 'must be a positive integer');
    }
    this.nodeId = options.nodeId ?? randomBytes(8).toString('hex');
    if (!/^[\w.-]{1,64}$/.test(this.nodeId)) throw new InvalidOptionError('nodeId', 'must be 1–64 of [A-Za-z0-9_.-]');
    this.#options = {
      url: options.url,
      prefix: options.prefix ?? 'hubbub:hub:',
      heartbeatMs,
      nodeTtlMs,
      maxPendingPublishes,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      reconnect: { initialMs: 50, maxMs: 2_000, ...options.reconnect },
      clock: options.clock ?? systemClock,
    };
    this.#channel = `${this.#options.prefix}backplane`;
    this.#presence = new RedisPresence({
      prefix: this.#options.prefix,
      nodeId: this.nodeId,
      clock: this.#options.clock,
      ready: () => this.#publisher?.isReady === true,
      run: (script, args) => this.#run(script, args),
      command: (args) => this.#command(args),
      failed: (err) => this.#failed('A presence write failed.', err),
    });
    this.presence = this.#presence;
  }

  /** Connects both clients, subscribes, loads the scripts and starts the heartbeat. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') return;
    this.#state = 'starting';
    const { createClient } = await import('redis');
    const { url, connectTimeoutMs, reconnect } = this.#options;
    let connected = false;
    const client = (name: string) => {
      const c = createClient({
        url,
        name,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: connectTimeoutMs,
          reconnectStrategy: (retries: number, cause: Error) =>
            connected && this.#state !== 'closed' ? backoffDelay(retries + 1, reconnect) : cause,
        },
      }) as unknown as Client;
      c.on('error', (err: Error) => {
        if (connected) this.#lost(err);
      });
      c.on('ready', () => this.#regained());
      return c;
    };
    const publisher = client(`hubbub-hub-${this.nodeId}`);
    const subscriber = client(`hubbub-hub-${this.nodeId}-sub`);
    try {
      await Promise.all([publisher.connect(), subscriber.connect()]);
      await subscriber.subscribe(this.#channel, (text: string) => this.#receive(text));
      for (const [name, script] of Object.entries(scripts)) {
        this.#shas.set(name as ScriptName, String(await publisher.sendCommand(['SCRIPT', 'LOAD', script])));
      }
    } catch (cause) {
      this.#state = 'closed';
      for (const c of [publisher, subscriber]) {
        try {
          c.destroy();
        } catch {
          // never connected: nothing to end
        }
      }
      throw new HubError(HubErrorCode.BackplaneUnavailable, `Cannot connect to Redis at ${redacted(url)}.`, { cause });
    }
    connected = true;
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#state = 'open';
    await this.#heartbeat();
    this.#schedule();
  }

  async publish(message: BackplaneMessage): Promise<void> {
    const publisher = this.#publisher;
    if (this.#state !== 'open' || publisher === undefined) {
      throw new HubError(
        HubErrorCode.Closed,
        `The Redis backplane is ${this.#state === 'closed' ? 'closed' : 'not started'}.`,
      );
    }
    if (!publisher.isReady) throw unavailable('Redis is not reachable; the message was not sent.');
    if (this.#pending >= this.#options.maxPendingPublishes) {
      throw new HubError(HubErrorCode.BackplaneOverloaded, 'Too many messages are waiting for Redis; retry later.', {
        detail: { pending: this.#pending },
      });
    }
    let text: string;
    try {
      text = encodeEnvelope(this.nodeId, message);
    } catch (cause) {
      // A BigInt or a cycle: what JSON cannot carry cannot reach the other nodes.
      throw new HubError(
        HubErrorCode.BadRequest,
        'The message cannot be sent to other nodes: its arguments are not JSON.',
        {
          cause,
        },
      );
    }
    this.#pending++;
    const sent = publisher.publish(this.#channel, text);
    for (const handler of this.#handlers) handler(message);
    try {
      await sent;
    } catch (cause) {
      throw unavailable('Redis dropped the message before taking it; other nodes may not have it.', cause);
    } finally {
      this.#pending--;
    }
  }

  subscribe(handler: (message: BackplaneMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Stops the heartbeat, removes this node's presence records and disconnects. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#timer?.cancel();
    await this.#beat;
    this.#handlers.clear();
    if (wasOpen && this.#publisher?.isReady) await this.#presence.leave().catch(() => undefined);
    await Promise.all(
      [this.#subscriber, this.#publisher].map(async (c) => {
        if (c === undefined) return;
        await c.close().catch(() => c.destroy());
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #receive(text: string): void {
    if (text.startsWith(`${this.nodeId}\n`)) return; // delivered in process when published
    let message: BackplaneMessage;
    try {
      message = decodeEnvelope(text).message;
    } catch (err) {
      this.emit('invalid-message', err as HubError);
      return;
    }
    for (const handler of this.#handlers) handler(message);
  }

  #schedule(): void {
    if (this.#state !== 'open') return;
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#beat = this.#heartbeat().finally(() => {
        this.#beat = undefined;
        this.#schedule();
      });
    }, this.#options.heartbeatMs);
  }

  async #heartbeat(): Promise<void> {
    if (this.#publisher?.isReady !== true) return;
    try {
      for (const node of await this.#presence.heartbeat(this.#options.nodeTtlMs)) this.emit('node-removed', node);
    } catch (err) {
      this.#failed('The heartbeat failed.', err);
    }
  }

  async #run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    const strings = args.map(String);
    try {
      return await this.#command(['EVALSHA', this.#shas.get(script)!, '0', ...strings]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      // Redis restarted and forgot the script: send it whole (it is cached again from then on).
      return this.#command(['EVAL', scripts[script], '0', ...strings]);
    }
  }

  #command(args: readonly string[]): Promise<unknown> {
    const publisher = this.#publisher;
    if (publisher === undefined || !publisher.isReady) {
      return Promise.reject(unavailable('Redis is not reachable.'));
    }
    return publisher.sendCommand([...args]);
  }

  #lost(cause: Error): void {
    if (this.#down || this.#state === 'closed') return;
    this.#down = true;
    this.emit('error', unavailable('The connection to Redis dropped; reconnecting.', cause));
  }

  #regained(): void {
    if (!this.#down || this.#publisher?.isReady !== true || this.#subscriber?.isReady !== true) return;
    this.#down = false;
    this.emit('reconnected');
    // Rewrites this node's presence at once if writes were missed meanwhile.
    void this.#heartbeat();
  }

  #failed(what: string, cause: unknown): void {
    if (this.#down || this.#state === 'closed') return;
    this.emit('error', cause instanceof HubError ? cause : unavailable(what, cause));
  }
}

/** A Redis backplane for one hub node; `start()` connects it. */
export function createRedisBackplane(options: RedisBackplaneOptions): RedisBackplane {
  return new RedisBackplane(options);
}

function unavailable(message: string, cause?: unknown): HubError {
  return new HubError(HubErrorCode.BackplaneUnavailable, message, cause === undefined ? {} : { cause });
}

function redacted(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
