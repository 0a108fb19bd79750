/**
 * A hub: named methods clients invoke, the connections it holds on this node, its users and
 * groups, and the API to reach them. Every send goes through the backplane, so the same code
 * reaches connections on other nodes once a distributed backplane is configured.
 * @module
 */

import type { EncodedInvocation } from '@hubbub/hub-protocol';
import { type HubMessage, MessageType } from '@hubbub/hub-protocol';
import { type Clock, type Logger, systemClock, TypedEmitter } from '@hubbub/kernel';
import type { Audience, Backplane, BackplaneMessage, ClusterPresence, Exclusions, PresenceQuery } from './backplane.ts';
import { type CallerClients, createCallerClients, createHubClients, type HubClients } from './clients.ts';
import {
  type ConnectionLimits,
  type ConnectionOwner,
  ConnectionState,
  type HubConnection,
  type MissedClose,
} from './connection.ts';
import { HubError, HubErrorCode } from './errors.ts';
import { FanOutMessage } from './frames.ts';
import { type InvocationFallback, Invoker, type MethodOptions } from './invoker.ts';
import { hubDefaults } from './options.ts';
import { UserGroupMemberships } from './user-groups.ts';

/** What a hub method receives as its first argument. */
export interface InvocationContext {
  readonly connectionId: string;
  readonly userId: string | undefined;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Per-connection state that lives as long as the connection. */
  readonly items: Map<string, unknown>;
  readonly clients: CallerClients;
  readonly groups: GroupManager;
  /** Aborted when a streaming invocation is cancelled or the connection closes. */
  readonly signal: AbortSignal;
  readonly hub: Hub;
}

export interface GroupManager {
  add(connectionId: string, group: string): Promise<void>;
  remove(connectionId: string, group: string): Promise<void>;
  /**
   * Adds every connection of a user, now and in the future, until removed or until the grant
   * expires (`userGroupTtlMs` after it was made or after the user's last connection ended).
   */
  addUser(userId: string, group: string): Promise<void>;
  /** Adds the user's connections of now, on every node, without a grant for later ones. */
  addUserConnections(userId: string, group: string): Promise<void>;
  removeUser(userId: string, group: string): Promise<void>;
  removeUserFromAll(userId: string): Promise<void>;
  removeFromAll(connectionId: string): Promise<void>;
}

export type HubEvents = {
  /** A connection completed its handshake. */
  connected: (connection: HubConnection) => void;
  /** A connection ended; `error` says why when it was not a normal close. */
  disconnected: (connection: HubConnection, error: Error | undefined) => void;
  /** A hub method threw something other than a HubMethodError. */
  'method-error': (error: Error, connection: HubConnection, method: string) => void;
  /** The cluster's presence could not be read for a new connection (its user's grants were not applied). */
  'presence-error': (error: Error, connection: HubConnection) => void;
};

export interface HubInit {
  name: string;
  backplane: Backplane;
  limits: ConnectionLimits;
  logger: Logger;
  detailedErrors: boolean;
  tick: () => number;
  /** Called for every connection that ends, handshake or not, so the server can forget it. */
  released: (connection: HubConnection) => void;
  /** Reads the time for grace periods and membership TTLs. @default systemClock */
  clock?: Clock;
  /** See `HubServerOptions.slowConsumerGraceMs`. @default 5_000 */
  slowConsumerGraceMs?: number;
  /** See `HubServerOptions.userGroupTtlMs`. @default 86_400_000 */
  userGroupTtlMs?: number;
  /** See `HubServerOptions.maxUserGroupMemberships`. @default 100_000 */
  maxUserGroupMemberships?: number;
}

const neverAborted = new AbortController().signal;

/**
 * The backplane message of `sendEncoded`: its `arguments` are decoded on first read (a connection of
 * another protocol, a backplane that serialises it), and it serialises as the plain send message.
 */
class EncodedSend {
  readonly kind = 'send' as const;
  readonly hub: string;
  readonly audience: Audience;
  declare readonly exclude?: Exclusions;
  readonly target: string;
  readonly encoded: EncodedInvocation;

  constructor(hub: string, audience: Audience, exclude: Exclusions | undefined, encoded: EncodedInvocation) {
    this.hub = hub;
    this.audience = audience;
    if (exclude !== undefined) (this as { exclude?: Exclusions }).exclude = exclude;
    this.target = encoded.target;
    this.encoded = encoded;
  }

  get arguments(): readonly unknown[] {
    return this.encoded.arguments;
  }

  toJSON(): BackplaneMessage {
    const { kind, hub, audience, exclude, target } = this;
    return { kind, hub, audience, ...(exclude === undefined ? {} : { exclude }), target, arguments: this.arguments };
  }
}
/** Stateful connections that ended unseen, remembered (per hub) so that a late reconnect learns why. */
const MISSED_CLOSES_KEPT = 10_000;

export class Hub extends TypedEmitter<HubEvents> implements ConnectionOwner {
  readonly name: string;
  readonly clients: HubClients;
  readonly groups: GroupManager;
  readonly limits: ConnectionLimits;

  readonly #backplane: Backplane;
  readonly #presence: ClusterPresence | undefined;
  readonly #userGroupTtlMs: number;
  readonly #logger: Logger;
  readonly #tick: () => number;
  readonly #released: (connection: HubConnection) => void;
  readonly #invoker: Invoker<InvocationContext>;
  /** Connections that completed their handshake, by connection id. */
  readonly #connections = new Map<string, HubConnection>();
  readonly #users = new Map<string, Set<HubConnection>>();
  readonly #groups = new Map<string, Set<HubConnection>>();
  /** Group memberships granted to users (they follow the user's future connections). */
  readonly #userGroups: UserGroupMemberships;
  #userGroupsFull = false;
  /** Connection token → the Close its client missed, oldest first, at most MISSED_CLOSES_KEPT. */
  readonly #missedCloses = new Map<string, { userId: string | undefined; close: MissedClose }>();
  readonly #clock: Clock;

  constructor(init: HubInit) {
    super();
    this.name = init.name;
    this.#clock = init.clock ?? systemClock;
    this.limits = {
      ...init.limits,
      slowConsumerGraceMs:
        init.limits.slowConsumerGraceMs ?? init.slowConsumerGraceMs ?? hubDefaults.slowConsumerGraceMs,
    };
    this.#userGroupTtlMs = init.userGroupTtlMs ?? hubDefaults.userGroupTtlMs;
    this.#userGroups = new UserGroupMemberships({
      ttlMs: this.#userGroupTtlMs,
      max: init.maxUserGroupMemberships ?? hubDefaults.maxUserGroupMemberships,
      clock: this.#clock,
      isConnected: (userId) => this.#users.has(userId),
    });
    this.#backplane = init.backplane;
    this.#presence = init.backplane.presence;
    this.#logger = init.logger.child({ hub: init.name });
    this.#tick = init.tick;
    this.#released = init.released;
    this.#invoker = new Invoker({
      detailedErrors: init.detailedErrors,
      maxUploadBufferItems: 1_000,
      onError: (error, connection, method) => {
        this.#logger.warn({ err: error, connectionId: connection.connectionId, method }, 'hub method failed');
        this.emit('method-error', error, connection, method);
      },
    });
    const host = {
      name: this.name,
      publish: (message: BackplaneMessage) => this.#backplane.publish(message),
      invokeClient: (id: string, target: string, args: unknown[], signal?: AbortSignal) =>
        this.invokeClient(id, target, args, signal),
    };
    this.clients = createHubClients(host);
    this.groups = this.#groupManager();
  }

  get tick(): number {
    return this.#tick();
  }

  now(): number {
    return this.#clock.now();
  }

  /** Registers a method clients call with `invoke`/`send`; its return value is the result. */
  method<A extends unknown[]>(
    name: string,
    handler: (context: InvocationContext, ...args: A) => unknown,
    options: MethodOptions = {},
  ): this {
    this.#invoker.register(
      name,
      handler as unknown as (c: InvocationContext, ...a: never[]) => unknown,
      false,
      options,
    );
    return this;
  }

  /** Registers a method clients call with `stream`; it returns an async iterable of items. */
  stream<A extends unknown[]>(
    name: string,
    handler: (context: InvocationContext, ...args: A) => AsyncIterable<unknown> | Promise<AsyncIterable<unknown>>,
    options: MethodOptions = {},
  ): this {
    this.#invoker.register(name, handler as unknown as (c: InvocationContext, ...a: never[]) => unknown, true, options);
    return this;
  }

  /**
   * Sends invocations of methods this hub does not define to `fallback` (serverless upstream).
   * Pass `undefined` to answer them with "Unknown hub method" again.
   */
  forwardUnknownMethods(fallback: InvocationFallback | undefined): this {
    this.#invoker.fallback = fallback;
    return this;
  }

  /** Sends through the backplane: the primitive the client proxies and the REST API use. */
  send(audience: Audience, target: string, args: readonly unknown[], exclude?: Exclusions): Promise<void> {
    return this.#backplane.publish({
      kind: 'send',
      hub: this.name,
      audience,
      ...(exclude === undefined ? {} : { exclude }),
      target,
      arguments: args,
    });
  }

  /**
   * Sends an invocation already written as the JSON protocol writes it ({@link EncodedInvocation}):
   * JSON connections get its text as it is; it is decoded, once, only if a connection of another
   * protocol is in the audience (or a backplane serialises the message).
   */
  sendEncoded(audience: Audience, invocation: EncodedInvocation, exclude?: Exclusions): Promise<void> {
    return this.#backplane.publish(new EncodedSend(this.name, audience, exclude, invocation));
  }

  /** Closes the selected connections, telling each client `reason`. */
  close(audience: Audience, options: { reason?: string; allowReconnect?: boolean; exclude?: Exclusions } = {}) {
    return this.#backplane.publish({ kind: 'close', hub: this.name, audience, ...options });
  }

  /** Invokes a method on one client of this node and waits for its result. */
  invokeClient(connectionId: string, target: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    const connection = this.#connections.get(connectionId);
    if (connection === undefined) {
      return Promise.reject(
        new HubError(HubErrorCode.ConnectionNotFound, `No connection '${connectionId}' on hub '${this.name}'.`),
      );
    }
    return this.#invoker.invokeClient(connection, target, args, signal);
  }

  // Presence (this node).
  connection(connectionId: string): HubConnection | undefined {
    return this.#connections.get(connectionId);
  }
  get connectionCount(): number {
    return this.#connections.size;
  }
  hasUser(userId: string): boolean {
    return (this.#users.get(userId)?.size ?? 0) > 0;
  }
  hasGroup(group: string): boolean {
    return (this.#groups.get(group)?.size ?? 0) > 0;
  }
  /** Groups with at least one connection of this node. */
  get groupCount(): number {
    let n = 0;
    for (const members of this.#groups.values()) if (members.size > 0) n++;
    return n;
  }
  /** User group memberships (`groups.addUser`) this node keeps for users' future connections. */
  get userGroupMembershipCount(): number {
    return this.#userGroups.size;
  }
  isUserInGroup(userId: string, group: string): boolean {
    if (this.#userGroups.has(userId, group)) return true;
    for (const connection of this.#users.get(userId) ?? []) if (connection.inGroup(group)) return true;
    return false;
  }
  connections(): IterableIterator<HubConnection> {
    return this.#connections.values();
  }

  /**
   * Presence across the cluster: this node answers first, then the backplane's
   * {@link ClusterPresence} (without one, this node's answer is the answer).
   */
  async exists(query: PresenceQuery): Promise<boolean> {
    const here =
      query.kind === 'connection'
        ? this.#connections.has(query.id)
        : query.kind === 'user'
          ? this.hasUser(query.id)
          : query.kind === 'group'
            ? this.hasGroup(query.name)
            : this.isUserInGroup(query.userId, query.group);
    if (here || this.#presence === undefined) return here;
    return this.#presence.exists(this.name, query);
  }

  /** Applies a backplane message to the connections this node holds. */
  apply(message: BackplaneMessage): void {
    if (message.kind === 'send') {
      const fanOut = new FanOutMessage(
        message.encoded ?? { type: MessageType.Invocation, target: message.target, arguments: message.arguments },
      );
      this.#forEach(message.audience, message.exclude, (connection) => {
        connection.sendFrame(fanOut.frameFor(connection.protocol!), true);
      });
    } else if (message.kind === 'close') {
      const selected: HubConnection[] = [];
      this.#forEach(message.audience, message.exclude, (connection) => selected.push(connection));
      for (const connection of selected) {
        connection.close(message.reason, message.allowReconnect ? { allowReconnect: true } : {});
      }
    } else {
      this.#applyGroup(message);
    }
  }

  // ConnectionOwner
  connected(connection: HubConnection): void {
    this.#connections.set(connection.connectionId, connection);
    const userId = connection.userId;
    // Recorded before its groups, which the cluster's presence records only for a known connection.
    this.#presence?.record({
      kind: 'connected',
      hub: this.name,
      connectionId: connection.connectionId,
      ...(userId === undefined ? {} : { userId }),
    });
    if (userId !== undefined) {
      const set = this.#users.get(userId);
      if (set === undefined) this.#users.set(userId, new Set([connection]));
      else set.add(connection);
      for (const group of this.#userGroups.groupsOf(userId)) this.#join(connection, group);
    }
    if (userId !== undefined && this.#presence !== undefined) this.#joinGrantedElsewhere(connection, userId);
    this.emit('connected', connection);
  }

  message(connection: HubConnection, message: HubMessage): void {
    this.#invoker.dispatch(connection, message, (signal) => this.#context(connection, signal));
  }

  closed(connection: HubConnection, error: Error | undefined): void {
    this.#released(connection);
    if (connection.missedClose !== undefined) this.#rememberMissedClose(connection, connection.missedClose);
    if (this.#connections.get(connection.connectionId) !== connection) return;
    this.#connections.delete(connection.connectionId);
    const userId = connection.userId;
    if (userId !== undefined) {
      const set = this.#users.get(userId);
      set?.delete(connection);
      if (set?.size === 0) {
        this.#users.delete(userId);
        this.#userGroups.disconnected(userId);
      }
    }
    for (const group of connection.groupNames()) this.#leave(connection, group, false);
    this.#presence?.record({
      kind: 'disconnected',
      hub: this.name,
      connectionId: connection.connectionId,
      ...(userId === undefined ? {} : { userId, grantTtlMs: this.#userGroupTtlMs }),
    });
    this.#invoker.connectionClosed(connection);
    this.emit('disconnected', connection, error);
  }

  /**
   * The Close a stateful connection's client missed because it ended while the client was away
   * (e.g. its reconnect window expired), for a client reconnecting with `connectionToken` as
   * `userId`. Given once: a second attempt finds nothing.
   * @internal
   */
  takeMissedClose(connectionToken: string, userId: string | undefined): MissedClose | undefined {
    const entry = this.#missedCloses.get(connectionToken);
    if (entry === undefined || entry.userId !== userId) return undefined;
    this.#missedCloses.delete(connectionToken);
    return entry.close;
  }

  /**
   * Grants made while this node was not listening (before it started, or on a hub it had not yet
   * served) live in the cluster's presence: read them and join them too.
   */
  #joinGrantedElsewhere(connection: HubConnection, userId: string): void {
    this.#presence!.grants(this.name, userId).then(
      (groups) => {
        if (this.#connections.get(connection.connectionId) !== connection) return;
        for (const group of groups) {
          this.#userGroups.add(userId, group);
          if (!connection.inGroup(group)) this.#join(connection, group);
        }
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        this.#logger.warn({ err: error, connectionId: connection.connectionId }, 'could not read user group grants');
        this.emit('presence-error', error, connection);
      },
    );
  }

  #rememberMissedClose(connection: HubConnection, close: MissedClose): void {
    this.#missedCloses.set(connection.connectionToken, { userId: connection.userId, close });
    if (this.#missedCloses.size > MISSED_CLOSES_KEPT) {
      this.#missedCloses.delete(this.#missedCloses.keys().next().value!);
    }
  }

  #context(connection: HubConnection, signal?: AbortSignal): InvocationContext {
    return {
      connectionId: connection.connectionId,
      userId: connection.userId,
      claims: connection.principal.claims,
      get items() {
        return connection.items;
      },
      clients: createCallerClients(
        {
          name: this.name,
          publish: (m) => this.#backplane.publish(m),
          invokeClient: (id, t, a, s) => this.invokeClient(id, t, a, s),
        },
        this.clients,
        connection.connectionId,
      ),
      groups: this.groups,
      signal: signal ?? neverAborted,
      hub: this,
    };
  }

  #forEach(audience: Audience, exclude: Exclusions | undefined, visit: (connection: HubConnection) => void): void {
    const skipIds = exclude?.connectionIds?.length ? new Set(exclude.connectionIds) : undefined;
    const skipUsers = exclude?.userIds?.length ? new Set(exclude.userIds) : undefined;
    const deliver = (connection: HubConnection) => {
      if (connection.state === ConnectionState.Closed) return;
      if (skipIds?.has(connection.connectionId)) return;
      if (skipUsers !== undefined && connection.userId !== undefined && skipUsers.has(connection.userId)) return;
      visit(connection);
    };
    switch (audience.kind) {
      case 'all':
        for (const connection of this.#connections.values()) deliver(connection);
        return;
      case 'connections':
        for (const id of audience.ids) {
          const connection = this.#connections.get(id);
          if (connection !== undefined) deliver(connection);
        }
        return;
      case 'users':
        this.#forEachUnique(
          audience.ids.map((id) => this.#users.get(id)),
          deliver,
        );
        return;
      case 'groups':
        this.#forEachUnique(
          audience.names.map((name) => this.#groups.get(name)),
          deliver,
        );
        return;
    }
  }

  #forEachUnique(sets: Array<Set<HubConnection> | undefined>, visit: (c: HubConnection) => void): void {
    if (sets.length === 1) {
      for (const connection of sets[0] ?? []) visit(connection);
      return;
    }
    const seen = new Set<HubConnection>();
    for (const set of sets) {
      for (const connection of set ?? []) {
        if (!seen.has(connection)) {
          seen.add(connection);
          visit(connection);
        }
      }
    }
  }

  #applyGroup(message: Extract<BackplaneMessage, { kind: 'group' }>): void {
    const { action, group, connectionId, userId } = message;
    if (connectionId !== undefined) {
      const connection = this.#connections.get(connectionId);
      if (connection === undefined) return;
      if (action === 'add' && group !== undefined) this.#join(connection, group);
      else if (action === 'remove' && group !== undefined) this.#leave(connection, group);
      else if (action === 'remove-all') for (const g of connection.groupNames()) this.#leave(connection, g);
      return;
    }
    if (userId === undefined) return;
    const connections = this.#users.get(userId) ?? new Set<HubConnection>();
    if (action === 'add' && group !== undefined && message.connectedOnly === true) {
      for (const connection of connections) this.#join(connection, group);
    } else if (action === 'add' && group !== undefined) {
      if (this.#userGroups.add(userId, group) > 0 && !this.#userGroupsFull) {
        this.#userGroupsFull = true; // said once; the count is `userGroupMembershipCount`
        this.#logger.warn(
          { count: this.#userGroups.size },
          'user group memberships at maxUserGroupMemberships: the oldest are dropped',
        );
      }
      for (const connection of connections) this.#join(connection, group);
    } else if (action === 'remove' && group !== undefined) {
      this.#userGroups.remove(userId, group);
      for (const connection of connections) this.#leave(connection, group);
    } else if (action === 'remove-all') {
      this.#userGroups.removeAll(userId);
      for (const connection of connections) for (const g of connection.groupNames()) this.#leave(connection, g);
    }
  }

  #join(connection: HubConnection, group: string): void {
    if (connection.inGroup(group)) return;
    const members = this.#groups.get(group);
    if (members === undefined) this.#groups.set(group, new Set([connection]));
    else members.add(connection);
    connection.addGroup(group);
    this.#presence?.record({ kind: 'joined', hub: this.name, connectionId: connection.connectionId, group });
  }

  /** `record`: false when the connection is ending (its presence record goes as a whole). */
  #leave(connection: HubConnection, group: string, record = true): void {
    if (!connection.inGroup(group)) return;
    const members = this.#groups.get(group);
    members?.delete(connection);
    if (members?.size === 0) this.#groups.delete(group);
    connection.removeGroup(group);
    if (record) this.#presence?.record({ kind: 'left', hub: this.name, connectionId: connection.connectionId, group });
  }

  #groupManager(): GroupManager {
    const publish = (
      action: 'add' | 'remove' | 'remove-all',
      target: { connectionId: string } | { userId: string; connectedOnly?: true },
      group?: string,
    ) =>
      this.#backplane.publish({
        kind: 'group',
        hub: this.name,
        action,
        ...target,
        ...(group === undefined ? {} : { group }),
      });
    // A grant is written to the cluster's presence before it is announced: a node that starts
    // between the two reads it there; one already running applies the announcement.
    const presence = this.#presence;
    return {
      add: (connectionId, group) => publish('add', { connectionId }, group),
      remove: (connectionId, group) => publish('remove', { connectionId }, group),
      removeFromAll: (connectionId) => publish('remove-all', { connectionId }),
      addUser: async (userId, group) => {
        await presence?.grant(this.name, userId, group, this.#userGroupTtlMs);
        await publish('add', { userId }, group);
      },
      addUserConnections: (userId, group) => publish('add', { userId, connectedOnly: true }, group),
      removeUser: async (userId, group) => {
        await presence?.revoke(this.name, userId, group);
        await publish('remove', { userId }, group);
      },
      removeUserFromAll: async (userId) => {
        await presence?.revoke(this.name, userId);
        await publish('remove-all', { userId });
      },
    };
  }
}
