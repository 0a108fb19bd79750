/**
 * A {@link SqlExecutor} over PGlite in a worker thread (`thread.ts`): the statements' CPU leaves
 * the event loop that serves the process's HTTP, bus and functions, and runs on another core. The
 * store's API was async already, so nothing above the executor changes. The directory lock stays
 * with the process (`lock.ts`, taken before the thread starts, released after it has closed
 * PGlite and exited); one thread owns the database, as one process owned it before.
 *
 * Failures keep their shape: a PostgreSQL error comes back with its fields (`code` is the
 * SQLSTATE, which `executor.ts` maps), and a thread that dies fails every statement in flight and
 * after with an error `isConnectionFailure` recognises (STORE_UNAVAILABLE), never a hang.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { SqlExecutor, SqlQuery, SqlResult } from '../sql/executor.ts';
import type { FromThread, PgliteAssets, ThreadData, ThreadError, ToThread, WasmModule } from './thread.ts';

const { WebAssembly: wasm } = globalThis as unknown as {
  WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> };
};

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An error from the thread, rebuilt with its PostgreSQL fields. */
function rebuild(error: ThreadError): Error {
  const err = new Error(error.message);
  Object.assign(err, error.fields);
  err.name = error.name;
  return err;
}

/** What a statement fails with once the thread is gone (matched by `isConnectionFailure`). */
const gone = (why: string) => new Error(`Connection terminated: the PGlite thread ${why}`);

let assets: Promise<PgliteAssets | undefined> | undefined;

/**
 * PGlite's WebAssembly compiled once for the process, and its file-system bundle read once: a
 * thread given them skips both (PGlite in one thread reuses them itself; each new thread would
 * not). Undefined when PGlite's files are not where its package keeps them: each thread loads its own.
 */
function sharedAssets(): Promise<PgliteAssets | undefined> {
  assets ??= (async () => {
    try {
      const dist = new URL('.', import.meta.resolve('@electric-sql/pglite'));
      const [pglite, initdb, fsBundle] = await Promise.all([
        readFile(new URL('pglite.wasm', dist)),
        readFile(new URL('initdb.wasm', dist)),
        readFile(new URL('pglite.data', dist)),
      ]);
      const [pgliteWasmModule, initdbWasmModule] = await Promise.all([wasm.compile(pglite), wasm.compile(initdb)]);
      return { pgliteWasmModule, initdbWasmModule, fsBundle };
    } catch {
      return undefined;
    }
  })();
  return assets;
}

/** The thread's script: compiled JavaScript beside this file, or the TypeScript source under tsx. */
function startThread(data: ThreadData): Worker {
  const source = import.meta.url.endsWith('.ts');
  const script = new URL(source ? './thread.ts' : './thread.js', import.meta.url);
  if (!source) return new Worker(script, { workerData: data });
  // Node 20 runs no --import in a worker: tsx's loader is registered in the thread itself.
  return new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(script.href)}); })`,
    { eval: true, workerData: data },
  );
}

/** Opens PGlite in a new worker thread; resolves once the database is open. */
export async function openPgliteThread(
  data: ThreadData,
  release: () => Promise<void>,
): Promise<SqlExecutor & { readonly thread: Worker }> {
  const shared = data.assets ?? (await sharedAssets());
  const worker = startThread(shared === undefined ? data : { ...data, assets: shared });
  const pending = new Map<number, { resolve: (r: SqlResult | undefined) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  let opened: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  const fail = (err: Error) => {
    failure ??= err;
    opened?.reject(err);
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (message: FromThread) => {
    switch (message.t) {
      case 'open':
        opened?.resolve();
        return;
      case 'openFailed':
        opened?.reject(rebuild(message.error));
        return;
      case 'ok': {
        const p = pending.get(message.id);
        pending.delete(message.id);
        p?.resolve(message.result);
        return;
      }
      case 'err': {
        const p = pending.get(message.id);
        pending.delete(message.id);
        p?.reject(rebuild(message.error));
        return;
      }
    }
  });
  worker.on('error', (err) => fail(Object.assign(gone(`failed: ${err.message}`), { cause: err })));
  worker.on('exit', (code) => fail(gone(`exited (code ${code})`)));

  // Like PGlite in this thread, an idle thread keeps nothing alive: ref'd only while a statement waits.
  let closing: Promise<void> | undefined;
  const settle = () => {
    if (pending.size === 0 && closing === undefined) worker.unref();
  };
  const call = (message: DistributiveOmit<ToThread, 'id'>): Promise<SqlResult | undefined> => {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    if (pending.size === 0) worker.ref();
    return new Promise<SqlResult | undefined>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    }).finally(settle);
  };
  const result = (r: SqlResult | undefined): SqlResult => r ?? { rows: [], rowCount: 0 };

  try {
    await new Promise<void>((resolve, reject) => {
      opened = { resolve, reject };
    });
    opened = undefined;
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  settle();

  return {
    thread: worker,
    query: async (text, values = []) => result(await call({ t: 'q', text, values })),
    async transaction(work) {
      const tx = nextId; // the id `begin` is sent with names the transaction
      await call({ t: 'begin' });
      const inTx: SqlQuery = async (text, values = []) => result(await call({ t: 'tq', tx, text, values }));
      let value: Awaited<ReturnType<typeof work>>;
      try {
        value = await work(inTx);
      } catch (err) {
        await call({ t: 'end', tx, commit: false }).catch(() => {});
        throw err;
      }
      await call({ t: 'end', tx, commit: true });
      return value;
    },
    close() {
      closing ??= (async () => {
        worker.ref(); // until it has exited
        try {
          if (failure === undefined) await call({ t: 'close' }).catch(() => {});
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
          await worker.terminate();
        } finally {
          await release();
        }
      })();
      return closing;
    },
  };
}
