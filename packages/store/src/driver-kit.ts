/**
 * `@hubbub/store/driver`: what a driver author needs — the port, the reference semantics of writes
 * and queries, the memory driver, and the conformance suite to run against a new driver.
 * @module
 */
export { type DocumentDriverSuiteOptions, describeDocumentDriver } from './conformance/index.ts';
export type {
  CatalogOp,
  CatalogResults,
  ChangesPage,
  ChangesRequest,
  ContainerDefinition,
  DatabaseDefinition,
  DocumentDriver,
  ItemVersion,
  PartitionRef,
  QueryPage,
  QueryRequest,
  Stamp,
  StoredItem,
  WriteContext,
  WriteOp,
  WriteResult,
} from './driver.ts';
export { createMemoryDriver, MemoryDriver } from './drivers/memory/driver.ts';
export { createPgliteDriver, PgliteDriver, type PgliteDriverOptions } from './drivers/pglite/driver.ts';
export { createPostgresDriver, PostgresDriver, type PostgresDriverOptions } from './drivers/postgres/driver.ts';
export { SqlDriver, type SqlDriverOptions } from './drivers/sql/driver.ts';
export type { SqlExecutor, SqlQuery, SqlResult } from './drivers/sql/executor.ts';
export { applyWrite, atIndex, type Outcome } from './mutation.ts';
export type { Expr, Query } from './query/ast.ts';
export { compareSortKeys, evaluate, matches, project, sortKey } from './query/evaluate.ts';
