/**
 * A worker thread that runs a function app's invocations, as one of Azure's language worker
 * processes does: it loads the app (its own copy of `@azure/functions`), answers with the
 * functions' metadata, and runs each invocation request it is sent through the library's
 * invocation model ({@link invokeFunction}), answering with the RPC response. Triggers, bindings
 * and ports stay with the host on the thread that started it ({@link InvocationWorkers}).
 * Started only by `invocation-workers.ts`; the messages are {@link ToWorker} and {@link FromWorker}.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '@hubbub/kernel';
import { loadApp } from './app-loader.ts';
import type { RegisteredFunction } from './core-module.ts';
import type { FunctionMetadata, RpcInvocationResponse, RpcTypedData } from './core-types.ts';
import { prepareSignalROutput } from './extensions/signalr/bindings.ts';
import { type InvocationRequest, type InvocationScope, invokeFunction, runAppHook } from './invoke.ts';
import type { LogLevelTable } from './log-levels.ts';
import { fromTypedData } from './typed-data.ts';

export interface WorkerData {
  readonly appDir: string;
  /** Send log lines to the host (false when its logger writes nothing). */
  readonly logs: boolean;
  /** host.json `logging.logLevel` (the host read it). */
  readonly logLevels?: LogLevelTable;
}

export type ToWorker =
  | {
      readonly t: 'invoke';
      readonly id: number;
      readonly fn: number;
      readonly request: InvocationRequest;
    }
  | {
      readonly t: 'hook';
      readonly id: number;
      readonly name: 'appStart' | 'appTerminate';
      readonly fields: Record<string, unknown>;
    };

/** An error as it crosses the thread boundary. */
export interface WorkerError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string | undefined;
  readonly code?: unknown;
}

export type FromWorker =
  | { readonly t: 'loaded'; readonly functions: readonly FunctionMetadata[]; readonly httpStream: boolean }
  | { readonly t: 'loadFailed'; readonly error: WorkerError }
  | { readonly t: 'done'; readonly id: number; readonly response?: RpcInvocationResponse }
  | { readonly t: 'failed'; readonly id: number; readonly error: WorkerError }
  /**
   * An uncaught exception in app code: the worker stops taking messages and exits once this is
   * posted. `started` are the ids it had received (they fail); any other id the host sent it was
   * never started and can go to another worker.
   */
  | { readonly t: 'fatal'; readonly error: WorkerError; readonly started: readonly number[] }
  | {
      readonly t: 'log';
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly fields: Record<string, unknown>;
      readonly message: string;
    };

/**
 * Messages posted within one turn leave together as one array: one structured clone and one wake-up
 * of the other thread for all of them. A batch that cannot be cloned is sent again message by
 * message, and `failed` hears about each one that still cannot.
 */
export class Outbox<T> {
  #queued: T[] = [];
  readonly #post: (message: T | T[]) => void;
  readonly #failed: (message: T, error: unknown) => void;

  constructor(post: (message: T | T[]) => void, failed: (message: T, error: unknown) => void) {
    this.#post = post;
    this.#failed = failed;
  }

  send(message: T): void {
    if (this.#queued.push(message) === 1) queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    const queued = this.#queued;
    this.#queued = [];
    try {
      this.#post(queued.length === 1 ? queued[0]! : queued);
    } catch {
      for (const message of queued) {
        try {
          this.#post(message);
        } catch (err) {
          this.#failed(message, err);
        }
      }
    }
  };
}

/** Runs `handle` on a message or on each message of a batch. */
export function eachMessage<T>(data: T | T[], handle: (message: T) => void): void {
  if (Array.isArray(data)) for (const message of data) handle(message);
  else handle(data);
}

export function toWorkerError(err: unknown): WorkerError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, stack: err.stack, ...(code === undefined ? {} : { code }) };
  }
  return { name: 'Error', message: String(err) };
}

/** The names of a function's `signalR` output bindings (`$return` included), found once per function. */
const signalROutputs = new WeakMap<RegisteredFunction, readonly string[]>();
function signalROutputsOf(fn: RegisteredFunction): readonly string[] {
  let names = signalROutputs.get(fn);
  if (names === undefined) {
    names = Object.entries(fn.metadata.bindings)
      .filter(([, b]) => b.type === 'signalR' && b.direction === 'out')
      .map(([name]) => name);
    signalROutputs.set(fn, names);
  }
  return names;
}

/**
 * The response with each `signalR` output checked and its messages encoded here, once (typed data's
 * `prepared`): the host's thread then neither parses the output nor re-encodes it for the hub. An
 * output that does not check is left as it is, for the host's binding to fail as it always does.
 */
export function prepareOutputs(fn: RegisteredFunction, response: RpcInvocationResponse): RpcInvocationResponse {
  const names = signalROutputsOf(fn);
  if (names.length === 0) return response;
  const functionName = fn.metadata.name;
  const outputs = response.outputData;
  if (outputs != null) {
    for (let i = 0; i < outputs.length; i++) {
      const output = outputs[i]!;
      if (output.name != null && names.includes(output.name))
        output.data = prepareOutput(functionName, output.name, output.data ?? null);
    }
  }
  if (response.returnValue != null && names.includes('$return'))
    response.returnValue = prepareOutput(functionName, '$return', response.returnValue);
  return response;
}

/** One `signalR` output's data, prepared (or as it is when it is not JSON or does not check). */
function prepareOutput(functionName: string, binding: string, data: RpcTypedData | null): RpcTypedData | null {
  if (data?.json == null) return data;
  const prepared = prepareSignalROutput(fromTypedData(data), { functionName, binding });
  return prepared === undefined ? data : { prepared };
}

/**
 * The worker thread's logger: each line is posted to the host (`post`) when the host logs
 * (`logs`); when it does not, the logger says so (`isLevelEnabled`), so an invocation's
 * `context.debug` builds no fields for a line nobody writes (log hooks still see every line).
 */
export function workerLogger(logs: boolean, post: (message: FromWorker) => void): Logger {
  const line =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (fields: Record<string, unknown>, message: string): void => {
      if (logs) post({ t: 'log', level, fields, message });
    };
  const logger: Logger = {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: () => logger,
    isLevelEnabled: () => logs,
  };
  return logger;
}

if (
  parentPort !== null &&
  (workerData as { hubbubInvocationWorker?: WorkerData } | undefined)?.hubbubInvocationWorker
) {
  const port = parentPort;
  const { appDir, logs, logLevels } = (workerData as { hubbubInvocationWorker: WorkerData }).hubbubInvocationWorker;
  const outbox = new Outbox<FromWorker>(
    (message) => port.postMessage(message),
    (message, err) => {
      // A log field or a response that cannot cross the thread boundary: the line goes without its
      // fields, the invocation fails.
      if (message.t === 'log') outbox.send({ ...message, fields: {} });
      else if (message.t === 'done') outbox.send({ t: 'failed', id: message.id, error: toWorkerError(err) });
    },
  );
  const post = (message: FromWorker) => outbox.send(message);
  const logger = workerLogger(logs, post);
  const systemLevel = (level: string) =>
    level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug';
  let functions: RegisteredFunction[] = [];
  let scope: InvocationScope | undefined;
  const appHookData: Record<string, unknown> = {};

  /** Invocations received and not yet answered, with their function's name (for a stray error's log line). */
  const running = new Map<number, string>();
  let dead = false;
  /**
   * Functions whose invocations settled in this turn: a rejection nobody awaited is reported after
   * the turn's microtasks, when the invocation that made it may have answered already.
   */
  const settledNow = new Set<string>();
  const settled = (id: number): void => {
    const name = running.get(id);
    running.delete(id);
    if (name === undefined) return;
    if (settledNow.size === 0) setImmediate(() => settledNow.clear());
    settledNow.add(name);
  };
  /** The function a stray error came from: the one running (or just settled), when only one is; otherwise unknown. */
  const strayFields = (err: unknown): Record<string, unknown> => {
    const names = new Set(running.size > 0 ? running.values() : settledNow);
    return names.size === 1 ? { err: toWorkerError(err), function: [...names][0] } : { err: toWorkerError(err) };
  };
  // A stray rejection in app code (a promise nobody awaited) is logged and the worker keeps running,
  // as Azure's Node worker does. An uncaught exception (a throw in a timer callback, say) leaves the
  // app in a state nobody can vouch for: it is logged, the host hears which invocations had started
  // (they fail; the rest go to another worker) and the worker exits to be replaced.
  process.on('unhandledRejection', (reason) => {
    logger.error(strayFields(reason), 'Unhandled promise rejection in the function app (the worker keeps running).');
  });
  process.on('uncaughtException', (err) => {
    if (dead) return;
    dead = true;
    logger.error(strayFields(err), 'Uncaught exception in the function app: this worker thread is replaced.');
    post({ t: 'fatal', error: toWorkerError(err), started: [...running.keys()] });
    // After the outbox's microtask has posted the lines above.
    setImmediate(() => process.exit(1));
  });

  const handle = (message: ToWorker): void => {
    if (dead) return;
    if (message.t === 'invoke') {
      const fn = functions[message.fn];
      if (fn === undefined || scope === undefined) {
        post({
          t: 'failed',
          id: message.id,
          error: { name: 'Error', message: `No function #${message.fn} in this worker.` },
        });
        return;
      }
      running.set(message.id, fn.metadata.name);
      invokeFunction(fn, message.request, scope).then(
        ({ response }) => {
          settled(message.id);
          post({ t: 'done', id: message.id, response: prepareOutputs(fn, response) });
        },
        (err: unknown) => {
          settled(message.id);
          post({ t: 'failed', id: message.id, error: toWorkerError(err) });
        },
      );
      return;
    }
    if (scope === undefined) return;
    runAppHook(scope, message.name, appHookData, message.fields).then(
      () => post({ t: 'done', id: message.id }),
      (err: unknown) => post({ t: 'failed', id: message.id, error: toWorkerError(err) }),
    );
  };
  port.on('message', (data: ToWorker | ToWorker[]) => eachMessage(data, handle));

  try {
    const app = await loadApp(appDir, (level, category, message) => logger[systemLevel(level)]({ category }, message));
    functions = app.registry.functions;
    scope = { registry: app.registry, appHookData: {}, logger, logLevels };
    post({ t: 'loaded', functions: functions.map((f) => f.metadata), httpStream: app.registry.httpStream });
  } catch (err) {
    post({ t: 'loadFailed', error: toWorkerError(err) });
  }
}
