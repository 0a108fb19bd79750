/**
 * Options of {@link createHubServer}, validated once.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import {
  type Clock,
  type IdSource,
  InvalidOptionError,
  type Logger,
  randomIds,
  silentLogger,
  systemClock,
} from '@hubbub/kernel';
import type { HubAuthOptions, Principal } from './auth.ts';
import { type Backplane, createInProcessBackplane } from './backplane.ts';
import type { CorsOptions } from './cors.ts';
import { type TransportKind, transportBits } from './transport.ts';

/** See {@link HubServerOptions.redirect}. */
export type NegotiateRedirect = (
  hub: string,
  principal: Principal,
  request: IncomingMessage,
) => Promise<{ url: string; accessToken: string } | undefined>;

export interface HubServerOptions {
  /** Path under which hubs are served: `{basePath}/{hub}` and `{basePath}/{hub}/negotiate`. @default '/hubs' */
  basePath?: string;
  /** Token verification; anonymous connections are accepted when omitted. */
  auth?: HubAuthOptions;
  /** Cross-origin access for browser pages. @default any origin, reflected, with credentials */
  cors?: CorsOptions;
  /** Transports offered, in order of preference. @default ['WebSockets', 'ServerSentEvents', 'LongPolling'] */
  transports?: readonly TransportKind[];
  /** A Ping is sent when nothing else was sent for this long, in ms. @default 15_000 */
  keepAliveIntervalMs?: number;
  /** A client silent for this long is disconnected, in ms. @default 30_000 */
  clientTimeoutMs?: number;
  /** Time from transport open to a complete handshake, in ms. @default 15_000 */
  handshakeTimeoutMs?: number;
  /** Time a negotiated connection may wait for its transport, in ms. @default 15_000 */
  negotiateTimeoutMs?: number;
  /** Long polling: a poll with nothing to send ends after this long, in ms. @default 90_000 */
  longPollTimeoutMs?: number;
  /** Long polling: the client is gone when no poll arrives for this long, in ms. @default 5_000 */
  longPollDisconnectMs?: number;
  /** Largest hub message a client may send, in bytes. @default 32_768 */
  maxMessageBytes?: number;
  /**
   * Outbound bytes a connection may have queued. One that stays over it for longer than
   * `slowConsumerGraceMs`, or goes over twice it, is closed as a slow consumer (HUB_SLOW_CONSUMER).
   * Stateful connections are paced instead: writes stop at this many bytes and resume as the socket
   * drains, and their bound is the replay buffer's. @default 1_048_576
   */
  maxBufferedBytes?: number;
  /**
   * Stateful reconnect: allowed when clients ask, with this window and replay buffer. The buffer
   * holds what the client has not acknowledged (sent or waiting to be sent); it is bounded like
   * `maxBufferedBytes`. @default enabled, 30 s, 1 MiB
   */
  statefulReconnect?: false | { windowMs?: number; bufferBytes?: number };
  /** How long a connection may stay over its outbound bound before it is closed, in ms. @default 5_000 */
  slowConsumerGraceMs?: number;
  /**
   * Write delay (as Centrifugo's `write_delay`): a connection's messages sent within this many ms
   * go out in one socket write — on WebSockets one data frame holding them back to back (JSON
   * records, or length-prefixed MessagePack messages, as the protocol allows), on Server-Sent
   * Events one write of their events. Fewer writes and frames per message for one added latency of
   * up to this long. 0 writes at the end of each event-loop turn. @default 0 (off)
   */
  writeDelayMs?: number;
  /**
   * With a write delay: bytes a connection may hold back for it; a connection that reaches this
   * many writes them at the end of the turn instead. @default 65_536
   */
  writeDelayMaxBytes?: number;
  /**
   * How long a user's group membership (`groups.addUser`) lasts, in ms: from when it was granted,
   * or from when the user's last connection ended, whichever is later. Connections that joined the
   * group keep it while they live. @default 86_400_000 (24 h)
   */
  userGroupTtlMs?: number;
  /** User group memberships kept per hub; past it the oldest is dropped. @default 100_000 */
  maxUserGroupMemberships?: number;
  /** Send the messages of unexpected hub-method errors to clients. @default false */
  detailedErrors?: boolean;
  /** Carries sends and group changes between nodes. @default in-process */
  backplane?: Backplane;
  /**
   * Sends an authenticated negotiate elsewhere: a `{url, accessToken}` it returns is the answer
   * (the client negotiates again there, as it follows Azure SignalR's redirect); undefined serves
   * it here. The serverless service sets it to spread clients across a cluster's nodes. @default none
   */
  redirect?: NegotiateRedirect;
  /** Housekeeping period (pings, timeouts, acks), in ms. @default derived from the timeouts, at most 1_000 */
  tickMs?: number;
  clock?: Clock;
  ids?: IdSource;
  logger?: Logger;
}

export interface ResolvedHubServerOptions {
  readonly basePath: string;
  readonly auth: HubAuthOptions | undefined;
  readonly cors: CorsOptions;
  readonly transports: readonly TransportKind[];
  readonly keepAliveIntervalMs: number;
  readonly clientTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly negotiateTimeoutMs: number;
  readonly longPollTimeoutMs: number;
  readonly longPollDisconnectMs: number;
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly stateful: { readonly windowMs: number; readonly bufferBytes: number } | undefined;
  readonly slowConsumerGraceMs: number;
  readonly writeDelayMs: number;
  readonly writeDelayMaxBytes: number;
  readonly userGroupTtlMs: number;
  readonly maxUserGroupMemberships: number;
  readonly detailedErrors: boolean;
  readonly backplane: Backplane;
  readonly redirect: NegotiateRedirect | undefined;
  readonly tickMs: number;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly logger: Logger;
}

/** Defaults the hub applies itself when its creator passes none (`HubInit` in hub.ts). */
export const hubDefaults = {
  slowConsumerGraceMs: 5_000,
  userGroupTtlMs: 86_400_000,
  maxUserGroupMemberships: 100_000,
} as const;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = positive(name, value, fallback);
  if (!Number.isInteger(v)) throw new InvalidOptionError(name, `must be an integer, got ${v}`);
  return v;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidOptionError(name, `must be a positive number, got ${v}`);
  return v;
}

/** The write delay: 0 (off) up to 1 s; longer would hold messages past any sensible latency. */
function writeDelay(value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isFinite(v) || v < 0 || v > 1_000) {
    throw new InvalidOptionError('writeDelayMs', `must be between 0 and 1000 ms, got ${v}`);
  }
  return v;
}

export function resolveHubServerOptions(options: HubServerOptions = {}): ResolvedHubServerOptions {
  const basePath = (options.basePath ?? '/hubs').replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/')) throw new InvalidOptionError('basePath', "must start with '/'");
  const transports = options.transports ?? ['WebSockets', 'ServerSentEvents', 'LongPolling'];
  if (transports.length === 0) throw new InvalidOptionError('transports', 'must name at least one transport');
  for (const t of transports) {
    if (!(t in transportBits)) throw new InvalidOptionError('transports', `unknown transport '${t}'`);
  }
  const keepAliveIntervalMs = positive('keepAliveIntervalMs', options.keepAliveIntervalMs, 15_000);
  const clientTimeoutMs = positive('clientTimeoutMs', options.clientTimeoutMs, 30_000);
  const handshakeTimeoutMs = positive('handshakeTimeoutMs', options.handshakeTimeoutMs, 15_000);
  const negotiateTimeoutMs = positive('negotiateTimeoutMs', options.negotiateTimeoutMs, 15_000);
  const longPollTimeoutMs = positive('longPollTimeoutMs', options.longPollTimeoutMs, 90_000);
  const longPollDisconnectMs = positive('longPollDisconnectMs', options.longPollDisconnectMs, 5_000);
  const stateful =
    options.statefulReconnect === false
      ? undefined
      : {
          windowMs: positive('statefulReconnect.windowMs', options.statefulReconnect?.windowMs, 30_000),
          bufferBytes: positive('statefulReconnect.bufferBytes', options.statefulReconnect?.bufferBytes, 1_048_576),
        };
  const shortest = Math.min(keepAliveIntervalMs, clientTimeoutMs, handshakeTimeoutMs, longPollDisconnectMs);
  return {
    basePath,
    auth: options.auth,
    cors: options.cors ?? {},
    transports,
    keepAliveIntervalMs,
    clientTimeoutMs,
    handshakeTimeoutMs,
    negotiateTimeoutMs,
    longPollTimeoutMs,
    longPollDisconnectMs,
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, 32_768),
    maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes, 1_048_576),
    stateful,
    slowConsumerGraceMs: positive('slowConsumerGraceMs', options.slowConsumerGraceMs, hubDefaults.slowConsumerGraceMs),
    writeDelayMs: writeDelay(options.writeDelayMs),
    writeDelayMaxBytes: positiveInteger('writeDelayMaxBytes', options.writeDelayMaxBytes, 65_536),
    userGroupTtlMs: positive('userGroupTtlMs', options.userGroupTtlMs, hubDefaults.userGroupTtlMs),
    maxUserGroupMemberships: positiveInteger(
      'maxUserGroupMemberships',
      options.maxUserGroupMemberships,
      hubDefaults.maxUserGroupMemberships,
    ),
    detailedErrors: options.detailedErrors ?? false,
    backplane: options.backplane ?? createInProcessBackplane(),
    redirect: options.redirect,
    tickMs: positive('tickMs', options.tickMs, Math.max(10, Math.min(1_000, Math.floor(shortest / 4)))),
    clock: options.clock ?? systemClock,
    ids: options.ids ?? randomIds,
    logger: options.logger ?? silentLogger,
  };
}
