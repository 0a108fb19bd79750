/**
 * The backplane carries every hub operation that may concern connections on other nodes. A node
 * publishes an envelope; every node (itself included) receives it and applies it to the
 * connections it holds. The in-process backplane is the single-node reference; Redis and NATS
 * backplanes implement the same interface.
 * @module
 */

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
    }
  | {
      readonly kind: 'group';
      readonly hub: string;
      readonly action: 'add' | 'remove' | 'remove-all';
      readonly group?: string;
      readonly connectionId?: string;
      readonly userId?: string;
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
