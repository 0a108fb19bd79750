/**
 * The backplane carries every hub operation that may concern connections on other nodes. A node
 * publishes an envelope; every node (itself included) receives it and applies it to the
 * connections it holds. The in-process backplane is the single-node reference; Redis and NATS
 * backplanes implement the same interface.
 *
 * A backplane that spans nodes may also keep {@link ClusterPresence}: which connections, users and
 * groups exist on every node, the user group grants that must outlive any one node, and the nodes
 * themselves (their URLs and load, for negotiate to spread clients). Without it a hub answers
 * presence for its own node.
 * @module
 */

import type { EncodedInvocation } from '@hubbub/hub-protocol';

/** Who a send or close reaches. Exclusions apply after selection. */
export type Audience =
  | { readonly kind: 'all' }
  | { readonly kind: 'connections'; readonly ids: readonly string[] }
  | { readonly kind: 'users'; readonly ids: readonly string[] }
  | { readonly kind: 'groups'; readonly names: readonly string[] };

export interface Exclusions {
  readonly connectionIds?: readonly string[];
  readonly userIds?: readonly string[];
}

export type BackplaneMessage =
  | {
      readonly kind: 'send';
      readonly hub: string;
      readonly audience: Audience;
      readonly exclude?: Exclusions;
      readonly target: string;
      readonly arguments: readonly unknown[];
      /**
       * The same invocation already written as the JSON protocol writes it (`Hub.sendEncoded`): JSON
       * connections get its text as it is. Left out when the message is serialised (`toJSON`).
       */
      readonly encoded?: EncodedInvocation;
    }
  | {
      readonly kind: 'group';
      readonly hub: string;
      readonly action: 'add' | 'remove' | 'remove-all';
      readonly group?: string;
      readonly connectionId?: string;
      readonly userId?: string;
      /** With `userId` and `add`: only the user's connections now, no grant for later ones. */
      readonly connectedOnly?: boolean;
    }
  | {
      readonly kind: 'close';
      readonly hub: string;
      readonly audience: Audience;
      readonly exclude?: Exclusions;
      readonly reason?: string;
      readonly allowReconnect?: boolean;
    };

export interface Backplane {
  /** Delivers `message` to every subscriber on every node, this one included. */
  publish(message: BackplaneMessage): Promise<void>;
  /** Registers this node's handler; returns a function that removes it. */
  subscribe(handler: (message: BackplaneMessage) => void): () => void;
  close(): Promise<void>;
  /** Presence across every node; absent on a single-node backplane. */
  readonly presence?: ClusterPresence;
}

/** A change to the connections this node holds, recorded for the whole cluster. */
export type PresenceChange =
  | { readonly kind: 'connected'; readonly hub: string; readonly connectionId: string; readonly userId?: string }
  | {
      readonly kind: 'disconnected';
      readonly hub: string;
      readonly connectionId: string;
      readonly userId?: string;
      /** The user's grants run this long from now (their TTL restarts when a connection ends). */
      readonly grantTtlMs?: number;
    }
  | { readonly kind: 'joined' | 'left'; readonly hub: string; readonly connectionId: string; readonly group: string };

/** What a presence check asks about, anywhere in the cluster. */
export type PresenceQuery =
  | { readonly kind: 'connection'; readonly id: string }
  | { readonly kind: 'user'; readonly id: string }
  | { readonly kind: 'group'; readonly name: string }
  | { readonly kind: 'user-in-group'; readonly userId: string; readonly group: string };

/** A hub node as it advertises itself. */
export interface ClusterNode {
  readonly id: string;
  /** The public origin clients reach it at (`http://host:port`). */
  readonly url: string;
  /** Connections it holds now. */
  readonly connections: number;
}

/** Cluster-wide presence a distributed backplane keeps (see the module comment). */
export interface ClusterPresence {
  /** This node's id in the cluster. */
  readonly nodeId: string;
  /** Records a change of this node's connections, in order; failures are the backplane's `error` events. */
  record(change: PresenceChange): void;
  /** Whether the connection, user, group or user's membership exists on any node. */
  exists(hub: string, query: PresenceQuery): Promise<boolean>;
  /** The groups granted to `userId` (`groups.addUser`) still in force. */
  grants(hub: string, userId: string): Promise<string[]>;
  /** Grants `group` to `userId` for `ttlMs` (renewed while the user's connections come and go). */
  grant(hub: string, userId: string, group: string, ttlMs: number): Promise<void>;
  /** Withdraws one grant, or all of the user's when `group` is undefined. */
  revoke(hub: string, userId: string, group?: string): Promise<void>;
  /** Advertises this node's public URL to negotiate on every node. */
  advertise(url: string): Promise<void>;
  /** The live nodes, as they last advertised themselves. */
  nodes(): Promise<ClusterNode[]>;
}

/** One process, no network: publish calls the handlers synchronously, so sends keep their order. */
export function createInProcessBackplane(): Backplane {
  const handlers = new Set<(message: BackplaneMessage) => void>();
  return {
    async publish(message) {
      for (const handler of handlers) handler(message);
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      handlers.clear();
    },
  };
}
