/**
 * The PGlite thread: a worker thread that owns the store's PGlite instance, so its statements
 * (WebAssembly, synchronous once started) run beside the process's event loop instead of on it.
 * Started only by `worker.ts`, which holds the directory lock; the messages are {@link ToThread}
 * and {@link FromThread}. Imports nothing but Node and PGlite.
 *
 * A transaction is interactive, as on a connection: `begin` opens it (PGlite serialises it with
 * every other statement), `tq` statements run in it, `end` commits or rolls it back.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type PGliteOptions, type Transaction } from '@electric-sql/pglite';

/** A compiled WebAssembly module (typed through PGlite: this project's lib has no WebAssembly). */
export type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;

export interface ThreadData {
  /** `DIR/pgdata`, or undefined for a database in memory. */
  readonly dataDir: string | undefined;
  readonly postgresqlConf: readonly string[];
  /** PGlite's WebAssembly, compiled once per process and shared by its threads (else each compiles its own). */
  readonly assets?: PgliteAssets | undefined;
}

export interface PgliteAssets {
  readonly pgliteWasmModule: WasmModule;
  readonly initdbWasmModule: WasmModule;
  /** `pglite.data`, PGlite's file-system bundle. */
  readonly fsBundle: Uint8Array;
}

export type ToThread =
  | { readonly t: 'q'; readonly id: number; readonly text: string; readonly values: readonly unknown[] }
  | { readonly t: 'begin'; readonly id: number }
  | {
      readonly t: 'tq';
      readonly id: number;
      readonly tx: number;
      readonly text: string;
      readonly values: readonly unknown[];
    }
  | { readonly t: 'end'; readonly id: number; readonly tx: number; readonly commit: boolean }
  | { readonly t: 'close'; readonly id: number };

/** An error as it crosses the thread boundary: its message, name and PostgreSQL fields (`code` …). */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly fields: Record<string, string | number | boolean>;
}

export interface ThreadResult {
  readonly rows: Array<Record<string, unknown>>;
  readonly rowCount: number;
}

export type FromThread =
  | { readonly t: 'open' }
  | { readonly t: 'openFailed'; readonly error: ThreadError }
  | { readonly t: 'ok'; readonly id: number; readonly result?: ThreadResult }
  | { readonly t: 'err'; readonly id: number; readonly error: ThreadError };

export function toThreadError(err: unknown): ThreadError {
  const e = err instanceof Error ? err : new Error(String(err));
  const fields: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(e)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  return { name: e.name, message: e.message, fields };
}

const ROLLBACK = Symbol('rollback');

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('thread.ts runs as a worker thread of worker.ts');
  const { dataDir, postgresqlConf, assets } = workerData as ThreadData;
  const post = (message: FromThread) => port.postMessage(message);
  let db: PGlite;
  try {
    const settings = {
      postgresqlconf: [...postgresqlConf],
      ...(assets === undefined
        ? {}
        : {
            pgliteWasmModule: assets.pgliteWasmModule,
            initdbWasmModule: assets.initdbWasmModule,
            fsBundle: new Blob([assets.fsBundle]),
          }),
    };
    if (dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'))) {
      // initdb's instance stays reachable from the PGlite that ran it: create, close, reopen.
      await (await PGlite.create(dataDir, settings)).close();
    }
    db = await PGlite.create(dataDir, settings);
  } catch (err) {
    post({ t: 'openFailed', error: toThreadError(err) });
    return;
  }

  const answer = (id: number, work: Promise<ThreadResult | undefined>) =>
    work.then(
      (result) => post(result === undefined ? { t: 'ok', id } : { t: 'ok', id, result }),
      (err: unknown) => post({ t: 'err', id, error: toThreadError(err) }),
    );
  const run = async (on: Pick<PGlite | Transaction, 'query'>, text: string, values: readonly unknown[]) => {
    const r = await on.query<Record<string, unknown>>(text, [...values]);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  };

  /** Open transactions: the statements and the end each is waiting for. */
  const transactions = new Map<number, (message: Extract<ToThread, { t: 'tq' | 'end' }>) => void>();

  function begin(id: number): void {
    const queue: Extract<ToThread, { t: 'tq' | 'end' }>[] = [];
    let wake: (() => void) | undefined;
    transactions.set(id, (message) => {
      queue.push(message);
      wake?.();
    });
    let endId: number | undefined;
    const done = db.transaction(async (tx) => {
      post({ t: 'ok', id });
      for (;;) {
        const message = queue.shift();
        if (message === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (message.t === 'end') {
          endId = message.id;
          if (!message.commit) throw ROLLBACK;
          return;
        }
        await answer(message.id, run(tx, message.text, message.values));
      }
    });
    done.then(
      () => {
        transactions.delete(id);
        if (endId !== undefined) post({ t: 'ok', id: endId });
      },
      (err: unknown) => {
        transactions.delete(id);
        if (endId === undefined) post({ t: 'err', id, error: toThreadError(err) });
        else if (err === ROLLBACK) post({ t: 'ok', id: endId });
        else post({ t: 'err', id: endId, error: toThreadError(err) });
      },
    );
  }

  port.on('message', (message: ToThread) => {
    switch (message.t) {
      case 'q':
        void answer(message.id, run(db, message.text, message.values));
        return;
      case 'begin':
        begin(message.id);
        return;
      case 'tq':
      case 'end': {
        const deliver = transactions.get(message.tx);
        if (deliver === undefined) {
          post({ t: 'err', id: message.id, error: toThreadError(new Error('no such transaction')) });
        } else deliver(message);
        return;
      }
      case 'close':
        void answer(
          message.id,
          db.close().then(() => undefined),
        ).then(() => port.close());
        return;
    }
  });
  post({ t: 'open' });
}

void main();
