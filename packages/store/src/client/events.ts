/**
 * The store's typed events.
 * @module
 */
import type { StoreError } from '../errors.ts';

export type StoreEvents = {
  /** A background task (the TTL sweep) failed; the store keeps running and retries next round. */
  error: (error: StoreError, context: { operation: string }) => void;
  /** The sweep deleted expired items from a container. */
  swept: (info: { database: string; container: string; removed: number }) => void;
  /** The store closed. */
  closed: () => void;
};
