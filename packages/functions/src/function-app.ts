/**
 * The app part of the host: the settings (local.settings.json under the given ones), the function
 * keys, the extensions set up for them, the app loaded with its functions bound to the extensions'
 * binding types, and the app-level hooks. What it changed (the environment) it puts back on unload.
 * @module
 */
import type { Clock, IdSource, Logger, TypedEmitter } from '@hubbub/kernel';
import { exposeSettings } from './app-environment.ts';
import { loadApp } from './app-loader.ts';
import { type BindingServices, bindFunction, createBindingRegistry, type FunctionEntry } from './bindings.ts';
import { type RegisteredFunction, Registry } from './core-module.ts';
import type { ProgrammingModel } from './core-types.ts';
import { Deadlines, type Due } from './deadlines.ts';
import { FunctionsError, isFunctionsError } from './errors.ts';
import type { FunctionsHostEvents } from './events.ts';
import { createExecutor, type Executor, type InvokeFunction, invokeInThread } from './executor.ts';
import type { Extension, ExtensionSetup, Trigger } from './extension.ts';
import { type HostJson, readHostJson, readLocalSettings } from './host-config.ts';
import { InvocationWorkers } from './invocation-workers.ts';
import { type InvocationScope, runAppHook } from './invoke.ts';
import { createFunctionKeys, type FunctionKeys, type FunctionKeysOptions, keysFromSettings } from './keys.ts';
import { checkSettings, resolveBindingSettings, type Settings } from './settings.ts';
import type { WorkerHeap } from './worker-heap.ts';

export interface FunctionAppOptions {
  readonly appDir: string;
  readonly settings: Readonly<Record<string, string>> | undefined;
  readonly exposeSettings: boolean;
  /** Make the app directory the working directory while the app runs. */
  readonly appWorkingDirectory: boolean;
  /** A function that cannot be loaded fails the load (otherwise it is skipped). */
  readonly strict: boolean;
  /** Load only these functions (case-insensitive); undefined for all. */
  readonly only: readonly string[] | undefined;
  readonly keys: FunctionKeysOptions | undefined;
  /** Worker threads that load the app and run its invocations; 0 runs them on this thread. */
  readonly workerThreads: number;
  /** Heap sizes of each worker thread alone. */
  readonly workerHeap: WorkerHeap;
  readonly extensions: readonly Extension[];
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly logger: Logger;
  readonly events: TypedEmitter<FunctionsHostEvents>;
  /** Aborts when the host closes. */
  readonly signal: AbortSignal;
}

/** A loaded app: what the host starts and serves. */
export interface LoadedApp {
  readonly entries: readonly FunctionEntry[];
  readonly triggers: readonly Trigger[];
  readonly executor: Executor;
}

/**
 * Whether a function is disabled: `AzureWebJobs.<name>.Disabled`, or `AzureWebJobs_<name>_Disabled`
 * (the form a shell and Linux app settings can carry: `npm run` drops environment names with dots),
 * `true` or `1`; the function name compared case-insensitively, as Azure does.
 */
export function isDisabled(settings: Settings, name: string): boolean {
  const wanted = [`azurewebjobs.${name}.disabled`, `azurewebjobs_${name}_disabled`].map((s) => s.toLowerCase());
  for (const [key, value] of Object.entries(settings)) {
    if (wanted.includes(key.toLowerCase()) && /^(true|1)$/i.test(value.trim())) return true;
  }
  return false;
}

/**
 * Makes `dir` the working directory; the returned function restores the previous one (if still
 * ours). Where the process cannot change it (a worker thread), the app runs where it is.
 */
function enterDirectory(dir: string, logger: Logger): () => void {
  const previous = process.cwd();
  try {
    process.chdir(dir);
  } catch (err) {
    logger.warn({ err, appDir: dir }, 'The app runs in the working directory it found: this process cannot change it.');
    return () => {};
  }
  return () => {
    if (process.cwd() === dir) process.chdir(previous);
  };
}

/**
 * Stands for the library copy of a worker thread on the host's thread: the function's metadata is
 * here, its invocations run there.
 */
const onWorkerThread: ProgrammingModel = {
  name: '@azure/functions',
  version: 'worker-thread',
  getInvocationModel() {
    throw new FunctionsError('FUNCTIONS_WORKER_FAILED', 'This function runs on an invocation worker thread.');
  },
};
const runsOnWorker = () => {
  throw new FunctionsError('FUNCTIONS_WORKER_FAILED', 'This function runs on an invocation worker thread.');
};

const logLevel = (level: string) =>
  level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug';

export class FunctionApp {
  readonly #options: FunctionAppOptions;
  #keys: FunctionKeys;
  #scope: InvocationScope | undefined;
  #workers: InvocationWorkers | undefined;
  #restoreEnvironment = (): void => {};
  #restoreDirectory = (): void => {};
  readonly #appLevelHookData: Record<string, unknown> = {};

  constructor(options: FunctionAppOptions) {
    this.#options = options;
    this.#keys = createFunctionKeys(options.keys);
  }

  /** The keys in force: from the options until load() read the settings. */
  get keys(): FunctionKeys {
    return this.#keys;
  }

  async load(): Promise<LoadedApp> {
    const { appDir, logger } = this.#options;
    const hostJson = await readHostJson(appDir);
    const settings = { ...(await readLocalSettings(appDir)), ...checkSettings(this.#options.settings, 'settings') };
    this.#keys = createFunctionKeys(keysFromSettings(settings, this.#options.keys));
    const services: BindingServices = { settings, clock: this.#options.clock, ids: this.#options.ids, logger };
    if (this.#options.exposeSettings) this.#restoreEnvironment = exposeSettings(settings);
    if (this.#options.appWorkingDirectory) this.#restoreDirectory = enterDirectory(appDir, logger);
    const setups = this.#options.extensions.map(
      (extension): ExtensionSetup =>
        extension.setup({
          ...services,
          config: hostJson.extensions[extension.name] ?? {},
          keys: this.#keys,
          events: this.#options.events,
          signal: this.#options.signal,
        }),
    );
    const triggers = setups.flatMap((s) => (s.trigger === undefined ? [] : [s.trigger]));
    const registry = createBindingRegistry([
      ...triggers.map((t) => t.binding),
      ...setups.flatMap((s) => s.bindings ?? []),
    ]);
    const timeoutMs = hostJson.functionTimeoutMs;
    const { functions, registry: appRegistry, invoke } = await this.#loadFunctions(appDir, hostJson);
    const only = this.#options.only?.map((name) => name.toLowerCase());
    for (const name of only ?? []) {
      if (!functions.some((fn) => fn.metadata.name.toLowerCase() === name)) {
        logger.warn({ function: name }, `No function "${name}" to run only: the app registers none by that name.`);
      }
    }
    const enabled = functions.filter((fn) => {
      if (only !== undefined && !only.includes(fn.metadata.name.toLowerCase())) return false;
      if (!isDisabled(settings, fn.metadata.name)) return true;
      logger.info({ function: fn.metadata.name }, 'Function disabled by its AzureWebJobs.<name>.Disabled setting.');
      return false;
    });
    const entries: FunctionEntry[] = [];
    for (const fn of enabled) {
      try {
        const bindings: typeof fn.metadata.bindings = {};
        for (const [name, info] of Object.entries(fn.metadata.bindings)) {
          bindings[name] = resolveBindingSettings(info, settings, { functionName: fn.metadata.name, binding: name });
        }
        entries.push(bindFunction({ ...fn, metadata: { ...fn.metadata, bindings } }, registry));
      } catch (err) {
        if (this.#options.strict || !isFunctionsError(err)) throw err;
        this.#skip(fn.metadata.name, err);
      }
    }
    if (entries.length === 0) logger.warn({ appDir }, 'No functions found: the app registered none.');
    this.#scope = { registry: appRegistry, appHookData: {}, logger, logLevels: hostJson.logLevels };
    const executor = createExecutor(
      invoke ?? timedInThread(invokeInThread(this.#scope), timeoutMs, logger),
      services,
      this.#options.events,
      hostJson.logLevels,
    );
    await runAppHook(this.#scope, 'appStart', this.#appLevelHookData, { functionAppDirectory: appDir });
    await this.#workers?.hook('appStart', { functionAppDirectory: appDir });
    return { entries, triggers, executor };
  }

  /**
   * Loads the app here, or in `workerThreads` worker threads, which then run its invocations: the
   * functions' metadata comes back, and a function is invoked there by its place in the list. An app
   * with HTTP streaming runs here (the library's own HTTP proxy serves it).
   */
  async #loadFunctions(
    appDir: string,
    { functionTimeoutMs: timeoutMs, logLevels }: HostJson,
  ): Promise<{ functions: readonly RegisteredFunction[]; registry: Registry; invoke?: InvokeFunction }> {
    const { logger } = this.#options;
    const log = (level: string, category: string, message: string) => logger[logLevel(level)]({ category }, message);
    if (this.#options.workerThreads > 0) {
      const started = await InvocationWorkers.start({
        appDir,
        count: this.#options.workerThreads,
        heap: this.#options.workerHeap,
        logger,
        timeoutMs,
        logLevels,
      });
      if (!started.httpStream) {
        const workers = started.workers;
        this.#workers = workers;
        const functions = started.functions.map(
          (metadata): RegisteredFunction => ({ metadata, callback: runsOnWorker, programmingModel: onWorkerThread }),
        );
        const place = new Map(functions.map((fn, i) => [fn.metadata.name, i]));
        const invoke: InvokeFunction = (fn, request) => workers.invoke(place.get(fn.metadata.name) ?? -1, request);
        return { functions, registry: new Registry(log), invoke };
      }
      await started.workers.terminate();
      logger.info({ appDir }, 'The app streams HTTP: its invocations run on the host thread, not on worker threads.');
    }
    const app = await loadApp(appDir, log);
    return { functions: app.registry.functions, registry: app.registry };
  }

  /** Reports a function that cannot be loaded; the app runs without it. */
  #skip(name: string, err: FunctionsError): void {
    const error = new FunctionsError(err.code, `Function "${name}" was not loaded: ${err.message}`, {
      cause: err,
      detail: { function: name, ...err.detail },
    });
    this.#options.events.emit('function:skipped', error, { function: name });
    this.#options.logger.error({ err: error, function: name }, `Function "${name}" skipped: ${err.message}`);
  }

  /** Puts the environment back and runs the `appTerminate` hooks (a failing one is reported, not thrown). */
  async unload(): Promise<void> {
    this.#restoreEnvironment();
    this.#restoreEnvironment = () => {};
    this.#restoreDirectory();
    this.#restoreDirectory = () => {};
    const failed = (err: unknown) => {
      this.#options.events.emit('hook:failed', err, { hook: 'appTerminate' });
      this.#options.logger.error({ err }, 'appTerminate hook failed.');
    };
    const loaded = this.#scope !== undefined;
    if (this.#scope !== undefined) await runAppHook(this.#scope, 'appTerminate', this.#appLevelHookData).catch(failed);
    const workers = this.#workers;
    this.#workers = undefined;
    if (workers !== undefined) {
      if (loaded) await workers.hook('appTerminate', {}).catch(failed);
      await workers.terminate();
    }
  }
}

/**
 * `invoke` on this thread failing with FUNCTIONS_TIMEOUT after `timeoutMs`: the invocation's
 * request is answered and its slot freed. Code on this thread cannot be stopped, so the handler
 * itself runs on (what it does later is dropped); only a worker thread can be terminated — run an
 * app whose handlers may hang with `workerThreads`.
 */
function timedInThread(invoke: InvokeFunction, timeoutMs: number | undefined, logger: Logger): InvokeFunction {
  if (timeoutMs === undefined) return invoke;
  const deadlines = new Deadlines<object, Due & { fail(): void }>(timeoutMs, (_, entry) => entry.fail());
  return (fn, request) =>
    new Promise((resolve, reject) => {
      const key = {};
      deadlines.set(key, {
        at: deadlines.due(),
        fail() {
          const name = fn.metadata.name;
          logger.error(
            { function: name, invocationId: request.invocationId, timeoutMs },
            'An invocation timed out (functionTimeout); it still runs on the host thread, its result is dropped.',
          );
          reject(
            new FunctionsError(
              'FUNCTIONS_TIMEOUT',
              `Function "${name}" timed out after ${timeoutMs} ms (functionTimeout).`,
              {
                detail: { function: name, invocationId: request.invocationId, timeoutMs },
              },
            ),
          );
        },
      });
      invoke(fn, request).then(
        (response) => {
          deadlines.delete(key);
          resolve(response);
        },
        (err: unknown) => {
          deadlines.delete(key);
          reject(err);
        },
      );
    });
}
