/**
 * @hubbub/store — JSON documents in containers with partition keys, etags, TTL, queries in the
 * Cosmos SQL subset and a change feed with leases, on `memory://`, `pglite://DIR` or
 * `postgres://…`. Start with {@link createStore}. Driver authors: `@hubbub/store/driver`.
 * @module
 */
export { ChangeFeedIterator, type ChangeFeedOptions, type ChangeFeedPage } from './client/change-feed.ts';
export { Container, type ContainerRequest, type ContainerResource, Containers } from './client/container.ts';
export type { StoreEvents } from './client/events.ts';
export { Item, Items, MAX_BATCH_OPERATIONS, MAX_BULK_OPERATIONS } from './client/items.ts';
export {
  ChangeBatch,
  ChangeFeedProcessor,
  type ChangeFeedProcessorEvents,
  type ChangeFeedProcessorOptions,
} from './client/processor.ts';
export { QueryIterator } from './client/query-iterator.ts';
export { createStore, Database, Databases, Store, type StoreOptions } from './client/store.ts';
export type {
  BulkOperationInput,
  FeedOptions,
  FeedResponse,
  ItemResponse,
  OperationInput,
  OperationResponse,
  PatchRequest,
  RequestOptions,
  Resource,
} from './client/types.ts';
export type { DocumentDriver } from './driver.ts';
export { isStoreError, StoreError, type StoreErrorCode, StoreErrorStatus } from './errors.ts';
export {
  createStoreHttpHandler,
  type SignInput,
  type StoreHttpHandler,
  type StoreHttpOptions,
  signRequest,
} from './http/index.ts';
export { DEFAULT_MAX_ITEM_BYTES, type PartitionKey } from './item.ts';
export { MAX_PATCH_OPERATIONS, type PatchOperation } from './patch.ts';
export type { QueryParameter, QuerySpec } from './query/bind.ts';
