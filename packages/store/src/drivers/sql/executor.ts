/**
 * What the SQL driver needs of a connection, and how database failures become store errors. The
 * `pg` pool and PGlite each implement {@link SqlExecutor}; everything else is one dialect.
 * @module
 */
import { StoreError } from '../../errors.ts';

export interface SqlResult {
  readonly rows: Array<Record<string, unknown>>;
  readonly rowCount: number;
}

export type SqlQuery = (text: string, values?: readonly unknown[], name?: string) => Promise<SqlResult>;

export interface SqlExecutor {
  /** One statement on any connection; `name` lets a server-side prepared statement be reused. */
  readonly query: SqlQuery;
  /** Runs `work` in a transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(work: (query: SqlQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const connectionStates = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '08P01',
]);
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const connectionMessages =
  /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed/i;

/** SQLSTATE of a database error, when it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Whether the failure means the server or the connection went away. */
export function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (connectionStates.has(code) || socketCodes.has(code))) return true;
  return err instanceof Error && connectionMessages.test(err.message);
}

/** A database failure as a StoreError: STORE_UNAVAILABLE for a lost server, else STORE_DRIVER_FAILURE. */
export function toStoreFailure(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  if (isConnectionFailure(err)) {
    return new StoreError('STORE_UNAVAILABLE', `The database is unavailable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new StoreError('STORE_DRIVER_FAILURE', `The database failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    detail: sqlState(err) === undefined ? {} : { sqlState: sqlState(err) },
  });
}
