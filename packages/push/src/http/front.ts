/**
 * `createNotificationHubsFront()`: the push service behind a Notification Hubs–compatible REST API,
 * so `@azure/notification-hubs` works unchanged but for its connection string. The SDK refuses
 * plain http and drops any path of its endpoint, so the front is HTTPS on a port of its own
 * (loopback by default) with a certificate from Hubbub's local CA; its clients trust
 * `<dir>/ca.pem` through `NODE_EXTRA_CA_CERTS`. TLS is terminated here and each connection is
 * handed to a kernel HTTP server, so header, request, keep-alive and idle timeouts, the connection
 * cap and the handler guard are the kernel's. Every request is authorized with a shared access
 * signature of one of the hub's policies and the right its route needs; every failure is a coded
 * XML error.
 * @module
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import {
  type Clock,
  closeHttpServer,
  createHttpServer,
  createRateLimiter,
  guardRequest,
  InvalidOptionError,
  type Part,
  type RateLimiter,
  type RateLimitOptions,
  type ServerLimits,
  systemClock,
  TypedEmitter,
} from '@hubbub/kernel';
import { ensureLocalCa, type LocalCa, type LocalCaOptions } from '@hubbub/tls';
import { PushError } from '../errors.ts';
import type { NotificationHubsBackend } from './exchange.ts';
import { replyError } from './reply.ts';
import { createRouter } from './router.ts';
import type { AccessPolicy } from './sas.ts';

/** The local CA in `dir` (see `ensureLocalCa`): names added to the server certificate, its lifetime and renewal. */
export type LocalTls = Pick<LocalCaOptions, 'dir' | 'hosts' | 'serverValidityDays' | 'renewBeforeDays'>;

export interface NotificationHubsFrontOptions {
  /** The push service the API drives. Required. */
  service: NotificationHubsBackend;
  /** The hub's shared access policies (see `defaultAccessPolicies`). Required, at least one; keys of 32+ characters. */
  policies: readonly AccessPolicy[];
  /** The hub name: the whole request path's first segment. 1–260 of `A-Za-z0-9._-`. @default 'hubbub' */
  hubName?: string;
  /**
   * The certificate: `{ dir }` makes or reuses the local CA in that directory (`hosts` are added to
   * the server certificate) and renews the server certificate while running; or a PEM pair.
   * Required.
   */
  tls: LocalTls | { certPem: string; keyPem: string };
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Host clients name in the connection string (and tokens' audience). @default `host`, or 127.0.0.1 for a wildcard host */
  publicHost?: string;
  /** Largest request body, in bytes. @default 262_144 */
  maxBodyBytes?: number;
  /** How long past its `se` a token is still taken (clock difference). @default 300_000 */
  maxClockSkewMs?: number;
  /**
   * Requests each client address may make: `ratePerSecond` earned back, `burst` at once; past it
   * 429 `KERNEL_RATE_LIMITED` with `Retry-After` (the SDK waits and retries). @default none
   */
  rateLimit?: Pick<RateLimitOptions, 'ratePerSecond' | 'burst' | 'maxKeys'>;
  /**
   * Refused requests (401, 403) each client address may cause; past the budget every request from
   * it gets 429 until it has earned a token back. `false` turns it off.
   * @default { ratePerSecond: 10, burst: 100 } (as the all-in-one port's front door)
   */
  failureLimit?: Pick<RateLimitOptions, 'ratePerSecond' | 'burst' | 'maxKeys'> | false;
  /** Time for a TLS handshake. @default 10_000 */
  handshakeTimeoutMs?: number;
  /** The kernel's HTTP limits for every connection. */
  limits?: ServerLimits;
  /** @default systemClock */
  clock?: Clock;
  /** Called with failures that are not the client's fault (500s) and TLS renewal failures. */
  onError?: (error: Error) => void;
}

export type NotificationHubsFrontEvents = {
  /** The server certificate was renewed while running (`action` as `ensureLocalCa` says). */
  'tls:renewed': (info: { serverNotAfter: number }) => void;
  error: (error: Error) => void;
};

export interface NotificationHubsFront extends Part<NotificationHubsFrontEvents> {
  readonly hubName: string;
  /** The port, once started. */
  readonly port: number;
  /** `https://<publicHost>:<port>`, once started. */
  readonly origin: string;
  /** `<dir>/ca.pem` when the local CA is used. */
  readonly caPath: string | undefined;
  /** `Endpoint=sb://<publicHost>:<port>/;SharedAccessKeyName=…;SharedAccessKey=…` for a policy (default: the first). */
  connectionString(policyName?: string): string;
}

const day = 86_400_000;
const defaultFailureLimit = { ratePerSecond: 10, burst: 100 };

export function createNotificationHubsFront(options: NotificationHubsFrontOptions): NotificationHubsFront {
  return new Front(options);
}

class Front extends TypedEmitter<NotificationHubsFrontEvents> implements NotificationHubsFront {
  readonly hubName: string;
  readonly #o: NotificationHubsFrontOptions;
  readonly #policies: Map<string, AccessPolicy>;
  readonly #clock: Clock;
  readonly #host: string;
  readonly #publicHost: string;
  #tls: TlsServer | undefined;
  #http: Server | undefined;
  #ca: LocalCa | undefined;
  #renewal: { cancel(): void } | undefined;
  #port = 0;
  /** Every TCP connection of the TLS port, so that close() can drop those not yet handed to HTTP. */
  readonly #sockets = new Set<Socket>();
  #state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  #limiter: RateLimiter | undefined;
  #failures: RateLimiter | undefined;
  #handle: ((request: IncomingMessage, response: ServerResponse) => boolean) | undefined;

  constructor(options: NotificationHubsFrontOptions) {
    super();
    if (options?.service === undefined) throw new InvalidOptionError('service', 'is required');
    this.#o = options;
    this.hubName = options.hubName ?? 'hubbub';
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$/.test(this.hubName))
      throw new InvalidOptionError('hubName', 'must be 1–260 of A-Za-z0-9._- starting with a letter or digit');
    if (!Array.isArray(options.policies) || options.policies.length === 0)
      throw new InvalidOptionError('policies', 'needs at least one policy');
    this.#policies = new Map();
    for (const p of options.policies) {
      if (typeof p?.name !== 'string' || !/^[A-Za-z0-9._-]{1,256}$/.test(p.name))
        throw new InvalidOptionError('policies', 'every policy needs a name of A-Za-z0-9._-');
      if (typeof p.key !== 'string' || p.key.length < 32)
        throw new InvalidOptionError('policies', `the key of '${p.name}' must have at least 32 characters`);
      if (
        !Array.isArray(p.rights) ||
        p.rights.length === 0 ||
        !p.rights.every((r: string) => ['Listen', 'Send', 'Manage'].includes(r))
      )
        throw new InvalidOptionError('policies', `the rights of '${p.name}' must be Listen, Send and/or Manage`);
      if (this.#policies.has(p.name)) throw new InvalidOptionError('policies', `'${p.name}' is given twice`);
      this.#policies.set(p.name, p);
    }
    const tls = options.tls as Partial<{ dir: string; certPem: string; keyPem: string }> | undefined;
    if (
      tls === undefined ||
      (typeof tls.dir !== 'string' && (typeof tls.certPem !== 'string' || typeof tls.keyPem !== 'string'))
    )
      throw new InvalidOptionError('tls', 'needs { dir } or { certPem, keyPem }');
    for (const name of ['maxBodyBytes', 'maxClockSkewMs', 'handshakeTimeoutMs'] as const) {
      const v = options[name];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < (name === 'maxClockSkewMs' ? 0 : 1)))
        throw new InvalidOptionError(name, 'must be a positive integer');
    }
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidOptionError('port', 'must be 0–65535');
    this.#clock = options.clock ?? systemClock;
    // token buckets validate their options here, at construction; they start no timer
    if (options.rateLimit !== undefined)
      this.#limiter = createRateLimiter({ ...options.rateLimit, clock: this.#clock });
    if (options.failureLimit !== false)
      this.#failures = createRateLimiter({ ...(options.failureLimit ?? defaultFailureLimit), clock: this.#clock });
    this.#host = options.host ?? '127.0.0.1';
    this.#publicHost =
      options.publicHost ?? (this.#host === '0.0.0.0' || this.#host === '::' ? '127.0.0.1' : this.#host);
  }

  get port(): number {
    return this.#port;
  }

  get origin(): string {
    return originOf(this.#publicHost, this.#port);
  }

  get caPath(): string | undefined {
    return this.#ca?.caPath;
  }

  connectionString(policyName?: string): string {
    const policy = policyName === undefined ? this.#policies.values().next().value : this.#policies.get(policyName);
    if (policy === undefined) throw new InvalidOptionError('policyName', `no policy '${policyName}'`);
    if (this.#port === 0) throw new InvalidOptionError('connectionString', 'the front is not started');
    const host = this.#publicHost.includes(':') ? `[${this.#publicHost}]` : this.#publicHost;
    return `Endpoint=sb://${host}:${this.#port}/;SharedAccessKeyName=${policy.name};SharedAccessKey=${policy.key}`;
  }

  handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
    if (this.#handle === undefined) return false;
    const path = (request.url ?? '').split('?')[0]!;
    if (!path.toLowerCase().startsWith(`/${this.hubName.toLowerCase()}/`)) return false;
    return this.#handle(request, response);
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new InvalidOptionError('start', 'the front was already started');
    this.#state = 'starting';
    const o = this.#o;
    let credentials: { cert: string; key: string };
    if ('dir' in o.tls) {
      this.#ca = await ensureLocalCa(this.#caOptions(o.tls));
      credentials = { cert: this.#ca.certPem, key: this.#ca.keyPem };
    } else {
      credentials = { cert: o.tls.certPem, key: o.tls.keyPem };
    }
    if (this.#isClosed()) return; // closed while the CA was read
    const onError = (error: Error) => {
      o.onError?.(error);
      this.emit('error', error);
    };
    const handle = guardRequest(
      createRouter({
        hubName: this.hubName,
        service: o.service,
        policies: this.#policies,
        origins: () => this.#origins(),
        origin: () => this.origin,
        clock: this.#clock,
        maxBodyBytes: o.maxBodyBytes ?? 262_144,
        skewMs: o.maxClockSkewMs ?? 300_000,
        ...(this.#limiter === undefined ? {} : { limiter: this.#limiter }),
        ...(this.#failures === undefined ? {} : { failures: this.#failures }),
        trackingId: () => randomUUID(),
      }),
      { reply: replyError, onError },
    );
    const http = createHttpServer({ request: handle, limits: o.limits ?? {}, reply: replyError, onError });
    let tls: TlsServer;
    try {
      tls = createTlsServer({
        ...credentials,
        handshakeTimeout: o.handshakeTimeoutMs ?? 10_000,
        minVersion: 'TLSv1.2',
      });
    } catch (cause) {
      this.#state = 'closed';
      throw new PushError('PUSH_TLS_UNAVAILABLE', 'The TLS certificate or key is not usable.', { cause });
    }
    tls.maxConnections = o.limits?.maxConnections ?? 10_000;
    tls.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    tls.on('secureConnection', (socket) => http.emit('connection', socket));
    tls.on('tlsClientError', (_error, socket) => socket.destroy()); // a failed or timed-out handshake: the client's business
    try {
      await new Promise<void>((resolve, reject) => {
        tls.once('error', reject);
        tls.listen(o.port ?? 0, this.#host, () => {
          tls.off('error', reject);
          resolve();
        });
      });
    } catch (cause) {
      this.#state = 'closed';
      throw new PushError(
        'PUSH_LISTEN_FAILED',
        `The Notification Hubs front could not listen on ${this.#host}:${o.port ?? 0}.`,
        {
          cause,
          detail: { host: this.#host, port: o.port ?? 0 },
        },
      );
    }
    tls.on('error', onError);
    this.#tls = tls;
    this.#http = http;
    this.#port = (tls.address() as AddressInfo).port;
    if (this.#isClosed()) {
      // closed while it began to listen
      await this.#stopServers();
      return;
    }
    this.#handle = handle;
    this.#state = 'started';
    this.#scheduleRenewal();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#handle = undefined;
    this.#renewal?.cancel();
    await this.#stopServers();
  }

  /** Read through a method: `start()` narrows the state, and `close()` may change it across an await. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Stops accepting, drops every connection (keep-alive, mid-handshake, idle) and resolves once the port is closed. */
  async #stopServers(): Promise<void> {
    const tls = this.#tls;
    const http = this.#http;
    this.#tls = undefined;
    this.#http = undefined;
    const closed = tls === undefined ? undefined : new Promise<void>((resolve) => tls.close(() => resolve()));
    if (http !== undefined) await closeHttpServer(http);
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #caOptions(tls: LocalTls): LocalCaOptions {
    const wildcard = this.#host === '0.0.0.0' || this.#host === '::';
    return {
      ...tls,
      clock: this.#clock,
      hosts: [...(tls.hosts ?? []), ...(wildcard ? [] : [this.#host]), this.#publicHost],
    };
  }

  /** Origins a token's audience may name: every name on the certificate (or the public host) at the port. */
  #origins(): Set<string> {
    const hosts = new Set([this.#publicHost, this.#host, '127.0.0.1', 'localhost', '::1']);
    if ('dir' in this.#o.tls) for (const h of this.#o.tls.hosts ?? []) hosts.add(h);
    const origins = new Set<string>();
    for (const h of hosts) {
      if (h === '0.0.0.0' || h === '::') continue;
      origins.add(originOf(h, this.#port).toLowerCase());
      if (this.#port === 443) origins.add(originOf(h, 443).replace(/:443$/, '').toLowerCase());
    }
    return origins;
  }

  /** Checks the certificate at most a day apart (timers past 24.8 days overflow) and renews it when due. */
  #scheduleRenewal(): void {
    const ca = this.#ca;
    if (ca === undefined || this.#state !== 'started' || !('dir' in this.#o.tls)) return;
    const caOptions = this.#caOptions(this.#o.tls);
    const wait = Math.max(60_000, Math.min(day, ca.renewAt - this.#clock.now()));
    this.#renewal = this.#clock.setTimeout(() => {
      ensureLocalCa(caOptions).then(
        (next) => {
          if (this.#state !== 'started') return;
          this.#ca = next;
          if (next.certPem !== ca.certPem) {
            this.#tls?.setSecureContext({ cert: next.certPem, key: next.keyPem });
            this.emit('tls:renewed', { serverNotAfter: next.serverNotAfter });
          }
          this.#scheduleRenewal();
        },
        (error: Error) => {
          this.#o.onError?.(error);
          this.emit('error', error);
          this.#scheduleRenewal();
        },
      );
    }, wait);
  }
}

function originOf(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
