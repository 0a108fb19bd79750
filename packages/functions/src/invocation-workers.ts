/**
 * The app's invocations on worker threads (`workerThreads` of the host): each worker loads the
 * app as one of Azure's language worker processes does and runs invocation requests through the
 * library's invocation model; the triggers, bindings and ports stay on the host's thread, which
 * sends each worker RPC-shaped requests and gets RPC responses back — the host/worker contract
 * of Azure Functions, over `postMessage` instead of gRPC (what one turn posts leaves as one
 * message, both ways). Each invocation goes to the worker with the fewest running. A worker that
 * exits fails its running invocations with FUNCTIONS_WORKER_FAILED (their messages are retried as
 * any failure) and is replaced. A worker whose app threw an uncaught exception says which
 * invocations it had started: those fail, the others go to a live worker. An invocation past
 * `timeoutMs` (host.json `functionTimeout`) fails with FUNCTIONS_TIMEOUT and its worker is
 * terminated and replaced, as Azure restarts the worker.
 * @module
 */
import { Worker } from 'node:worker_threads';
import { type Logger, silentLogger } from '@hubbub/kernel';
import type { FunctionMetadata, RpcInvocationResponse } from './core-types.ts';
import { Deadlines, type Due } from './deadlines.ts';
import { FunctionsError } from './errors.ts';
import {
  eachMessage,
  type FromWorker,
  Outbox,
  type ToWorker,
  type WorkerData,
  type WorkerError,
} from './invocation-worker.ts';
import type { InvocationRequest } from './invoke.ts';
import type { LogLevelTable } from './log-levels.ts';
import { type WorkerHeap, withHeap } from './worker-heap.ts';

/** What each invocation thread starts with. */
interface ThreadOptions {
  readonly data: WorkerData;
  readonly heap: WorkerHeap;
}

/** The thread's script: compiled JavaScript beside this file, or the TypeScript source under tsx. */
function startThread({ data, heap }: ThreadOptions): Worker {
  const source = import.meta.url.endsWith('.ts');
  const script = new URL(source ? './invocation-worker.ts' : './invocation-worker.js', import.meta.url);
  const workerData = { hubbubInvocationWorker: data };
  return withHeap(heap, () =>
    source
      ? // Node 20 runs no --import in a worker: tsx's loader is registered in the thread itself
        // (found from here, not from the working directory, which is the app's).
        new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(script.href)}); })`,
          { eval: true, workerData },
        )
      : new Worker(script, { workerData }),
  );
}

interface Deadline extends Due {
  readonly pending: Pending;
  readonly fn: number;
  readonly invocationId: string;
}

interface Pending {
  resolve(response: RpcInvocationResponse | undefined): void;
  reject(error: unknown): void;
  readonly message: ToWorker;
}

/** An error from a worker, as close to the original as a thread boundary allows. */
function fromWorkerError(e: WorkerError): Error {
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack !== undefined) error.stack = e.stack;
  if (e.code !== undefined) (error as { code?: unknown }).code = e.code;
  return error;
}

class InvocationWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  readonly #outbox: Outbox<ToWorker>;
  /** Resolves with what the app registered once the worker has loaded it. */
  readonly loaded: Promise<{ functions: readonly FunctionMetadata[]; httpStream: boolean }>;
  exited = false;
  /** The app is loaded (`loaded` resolved). */
  ready = false;

  /** Fails the running invocations with `err` and hands the rest to `unstarted`; later exits are no-ops. */
  readonly stop: (err: unknown, started?: ReadonlySet<number>) => void;

  readonly #settled: (id: number) => void;

  /**
   * @param beforeReady - runs once the worker has loaded the app, before it takes invocations (a
   *   replacement runs the app's `appStart` hooks there); a rejection fails `loaded`.
   */
  constructor(
    thread: ThreadOptions,
    logger: Logger,
    onExit: (worker: InvocationWorker, error: Error, unstarted: readonly Pending[]) => void,
    settled: (id: number) => void,
    beforeReady: (worker: InvocationWorker) => Promise<void> | undefined,
  ) {
    this.#settled = settled;
    this.worker = startThread(thread);
    let loaded!: (value: { functions: readonly FunctionMetadata[]; httpStream: boolean }) => void;
    let failed!: (error: unknown) => void;
    this.loaded = new Promise((resolve, reject) => {
      loaded = resolve;
      failed = reject;
    });
    this.#outbox = new Outbox<ToWorker>(
      (message) => this.worker.postMessage(message),
      (message, err) =>
        this.#settle(message.id)?.reject(
          new FunctionsError(
            'FUNCTIONS_WORKER_FAILED',
            `The invocation cannot be sent to a worker thread: ${(err as Error)?.message}`,
            { cause: err },
          ),
        ),
    );
    const receive = (message: FromWorker): void => {
      switch (message.t) {
        case 'done':
          this.#settle(message.id)?.resolve(message.response);
          return;
        case 'failed':
          this.#settle(message.id)?.reject(fromWorkerError(message.error));
          return;
        case 'log':
          logger[message.level](message.fields, message.message);
          return;
        case 'loaded': {
          const app = { functions: message.functions, httpStream: message.httpStream };
          const ready = () => {
            this.ready = true;
            loaded(app);
          };
          const before = beforeReady(this);
          if (before === undefined) ready();
          else before.then(ready, failed);
          return;
        }
        case 'loadFailed':
          failed(fromWorkerError(message.error));
          return;
        case 'fatal':
          // The worker exits: nothing more goes to it, and what it never received goes elsewhere.
          stop(fromWorkerError(message.error), new Set(message.started));
          return;
      }
    };
    this.worker.on('message', (data: FromWorker | FromWorker[]) => eachMessage(data, receive));
    const stop = (err: unknown, started?: ReadonlySet<number>) => {
      if (this.exited) return;
      this.exited = true;
      const error = new FunctionsError(
        'FUNCTIONS_WORKER_FAILED',
        `An invocation worker thread stopped: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
      failed(error);
      const unstarted: Pending[] = [];
      for (const [id, p] of this.pending) {
        if (started === undefined || started.has(id)) {
          this.#settled(id);
          p.reject(error);
        } else unstarted.push(p);
      }
      this.pending.clear();
      onExit(this, error, unstarted);
    };
    this.stop = stop;
    const exited = (err: unknown) => stop(err);
    this.worker.on('error', exited);
    this.worker.on('exit', (code) => exited(new Error(`exit code ${code}`)));
  }

  /** Settles invocation `id` here (it then no longer counts as running on this worker). */
  #settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    this.#settled(id);
    return p;
  }

  /** Takes invocation `id` back: it is no longer awaited here. */
  forget(id: number): Pending | undefined {
    return this.#settle(id);
  }

  call(message: ToWorker, id: number): Promise<RpcInvocationResponse | undefined> {
    return new Promise((resolve, reject) => this.send({ resolve, reject, message }, id));
  }

  send(pending: Pending, id: number): void {
    if (this.exited) {
      // A message to a stopped worker would never be answered.
      this.#settled(id);
      pending.reject(new FunctionsError('FUNCTIONS_WORKER_FAILED', 'The invocation worker thread has stopped.'));
      return;
    }
    this.pending.set(id, pending);
    this.#outbox.send(pending.message);
  }
}

export interface InvocationWorkersOptions {
  readonly appDir: string;
  /** Worker threads, ≥ 1. */
  readonly count: number;
  readonly logger?: Logger;
  /** An invocation running longer fails with FUNCTIONS_TIMEOUT and its worker is replaced. @default unbounded */
  readonly timeoutMs?: number | undefined;
  /** Each thread's heap sizes (the host's `workerHeap`). @default the process's */
  readonly heap?: WorkerHeap;
  /** host.json `logging.logLevel`, applied in the threads to what the functions log. */
  readonly logLevels?: LogLevelTable | undefined;
}

export class InvocationWorkers {
  readonly #thread: ThreadOptions;
  readonly #logger: Logger;
  readonly #workers: InvocationWorker[] = [];
  #next = 0;
  #closing = false;
  /** The fields `appStart` ran with, once it has: a replacement worker runs it too before its first invocation. */
  #appStarted: Record<string, unknown> | undefined;
  readonly #timeoutMs: number | undefined;
  #names: readonly string[] = [];
  /** Invocations under `timeoutMs`, by id (none without a `timeoutMs`). */
  readonly #deadlines: Deadlines<number, Deadline> | undefined;

  private constructor(options: InvocationWorkersOptions) {
    this.#timeoutMs = options.timeoutMs;
    if (options.timeoutMs !== undefined) {
      this.#deadlines = new Deadlines(options.timeoutMs, (id, deadline) => this.#timeOut(id, deadline));
    }
    const logger = options.logger ?? silentLogger;
    this.#logger = logger;
    this.#thread = {
      data: {
        appDir: options.appDir,
        logs: logger !== silentLogger,
        ...(options.logLevels === undefined ? {} : { logLevels: options.logLevels }),
      },
      heap: options.heap ?? {},
    };
  }

  /** Starts the workers; resolves once each has loaded the app, with the functions the first one registered. */
  static async start(
    options: InvocationWorkersOptions,
  ): Promise<{ workers: InvocationWorkers; functions: readonly FunctionMetadata[]; httpStream: boolean }> {
    const pool = new InvocationWorkers(options);
    for (let i = 0; i < options.count; i++) pool.#workers.push(pool.#spawn());
    try {
      const loaded = await Promise.all(pool.#workers.map((w) => w.loaded));
      const first = loaded[0]!;
      pool.#names = first.functions.map((f) => f.name);
      return { workers: pool, functions: first.functions, httpStream: loaded.some((l) => l.httpStream) };
    } catch (err) {
      await pool.terminate();
      throw err;
    }
  }

  #spawn(): InvocationWorker {
    return new InvocationWorker(this.#thread, this.#logger, this.#onExit, this.#untimed, this.#beforeReady);
  }

  /**
   * A worker that loads the app after `appStart` ran (a replacement) runs it too, as a restarted
   * Azure language worker does, before its first invocation; with its own `appHookData`.
   */
  readonly #beforeReady = (worker: InvocationWorker): Promise<void> | undefined => {
    const fields = this.#appStarted;
    if (fields === undefined) return undefined;
    return this.#runHook(worker, 'appStart', fields);
  };

  async #runHook(worker: InvocationWorker, name: 'appStart' | 'appTerminate', fields: Record<string, unknown>) {
    const id = this.#next++;
    await worker.call({ t: 'hook', id, name, fields }, id);
  }

  /** An invocation settled (or was taken back): it has no deadline any more. */
  readonly #untimed = (id: number): void => {
    this.#deadlines?.delete(id);
  };

  readonly #onExit = (worker: InvocationWorker, error: Error, unstarted: readonly Pending[]): void => {
    const at = this.#workers.indexOf(worker);
    if (at < 0 || this.#closing) {
      for (const p of unstarted) {
        this.#deadlines?.delete(p.message.id);
        p.reject(error);
      }
      return;
    }
    this.#logger.error({ err: error }, 'An invocation worker thread stopped; starting another.');
    const replacement = this.#spawn();
    this.#workers[at] = replacement;
    replacement.loaded.catch((err: unknown) =>
      this.#logger.error(
        { err },
        'The replacement invocation worker thread could not load the app or run its appStart hooks.',
      ),
    );
    // What the stopped worker never started runs on a live one (its id stays: ids are the pool's).
    for (const p of unstarted) {
      const live = this.#pick();
      const id = p.message.id;
      if (live.ready) live.send(p, id);
      else
        live.loaded.then(
          () => this.#pick().send(p, id),
          (err: unknown) => {
            this.#deadlines?.delete(id);
            p.reject(err);
          },
        );
    }
  };

  /** The live worker with the fewest invocations running (a stopped one is replaced at once, so there is one). */
  #pick(): InvocationWorker {
    let best = this.#workers[0]!;
    for (let i = 1; i < this.#workers.length; i++) {
      const w = this.#workers[i]!;
      if (best.exited || (!w.exited && w.pending.size < best.pending.size)) best = w;
    }
    return best;
  }

  /**
   * Runs function number `fn` (in registration order) with `request` on a worker. Not async: once the
   * worker has loaded the app, the call's own promise is the answer (no frame or await per invocation).
   */
  invoke(fn: number, request: InvocationRequest): Promise<RpcInvocationResponse> {
    const worker = this.#pick();
    if (!worker.ready) return worker.loaded.then(() => this.invoke(fn, request));
    const id = this.#next++;
    const message: ToWorker = { t: 'invoke', id, fn, request };
    // An invoke message is always answered with a response ('done' carries one for every invocation).
    return new Promise<RpcInvocationResponse | undefined>((resolve, reject) => {
      const pending: Pending = { resolve, reject, message };
      this.#deadlines?.set(id, { at: this.#deadlines.due(), pending, fn, invocationId: request.invocationId });
      worker.send(pending, id);
    }) as Promise<RpcInvocationResponse>;
  }

  /**
   * Invocation `id` fails with FUNCTIONS_TIMEOUT once `timeoutMs` passed: the worker running it is
   * terminated (its other invocations fail with FUNCTIONS_WORKER_FAILED) and replaced, as Azure
   * restarts the language worker when a function times out.
   */
  #timeOut(id: number, { pending, fn, invocationId }: Deadline): void {
    const ms = this.#timeoutMs!;
    // The worker running it now (a worker that threw hands what it never started to another).
    // None when it waits for a replacement to load: it fails all the same.
    const worker = this.#workers.find((w) => w.pending.has(id));
    worker?.forget(id);
    const name = this.#names[fn] ?? `#${fn}`;
    pending.reject(
      new FunctionsError('FUNCTIONS_TIMEOUT', `Function "${name}" timed out after ${ms} ms (functionTimeout).`, {
        detail: { function: name, invocationId, timeoutMs: ms },
      }),
    );
    this.#logger.error(
      { function: name, invocationId, timeoutMs: ms },
      'An invocation timed out: its worker thread is terminated and replaced.',
    );
    if (worker === undefined) return;
    worker.stop(new Error(`terminated: function "${name}" timed out (functionTimeout)`));
    void worker.worker.terminate();
  }

  /** Runs an app-level hook in every worker (each has its own `appHookData`, as each Azure worker process has). */
  async hook(name: 'appStart' | 'appTerminate', fields: Record<string, unknown>): Promise<void> {
    if (name === 'appStart') this.#appStarted = fields;
    await Promise.all(
      this.#workers.map(async (w) => {
        // A worker still loading runs appStart itself once loaded (#beforeReady): once, not twice.
        const runsItself = name === 'appStart' && !w.ready;
        await w.loaded;
        if (!runsItself) await this.#runHook(w, name, fields);
      }),
    );
  }

  /** Stops every worker (running invocations fail with FUNCTIONS_WORKER_FAILED). */
  async terminate(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
