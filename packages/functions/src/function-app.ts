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
import { FunctionsError, isFunctionsError } from './errors.ts';
import type { FunctionsHostEvents } from './events.ts';
import { createExecutor, type Executor } from './executor.ts';
import type { Extension, ExtensionSetup, Trigger } from './extension.ts';
import { readHostJson, readLocalSettings } from './host-config.ts';
import { type InvocationScope, runAppHook } from './invoke.ts';
import { createFunctionKeys, type FunctionKeys, type FunctionKeysOptions, keysFromSettings } from './keys.ts';
import { checkSettings, resolveBindingSettings, type Settings } from './settings.ts';

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

const logLevel = (level: string) =>
  level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug';

export class FunctionApp {
  readonly #options: FunctionAppOptions;
  #keys: FunctionKeys;
  #scope: InvocationScope | undefined;
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
    const app = await loadApp(appDir, (level, category, message) => logger[logLevel(level)]({ category }, message));
    const only = this.#options.only?.map((name) => name.toLowerCase());
    for (const name of only ?? []) {
      if (!app.registry.functions.some((fn) => fn.metadata.name.toLowerCase() === name)) {
        logger.warn({ function: name }, `No function "${name}" to run only: the app registers none by that name.`);
      }
    }
    const enabled = app.registry.functions.filter((fn) => {
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
    this.#scope = { registry: app.registry, appHookData: {}, logger };
    const executor = createExecutor(this.#scope, services, this.#options.events);
    await runAppHook(this.#scope, 'appStart', this.#appLevelHookData, { functionAppDirectory: appDir });
    return { entries, triggers, executor };
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
    if (this.#scope === undefined) return;
    await runAppHook(this.#scope, 'appTerminate', this.#appLevelHookData).catch((err: unknown) => {
      this.#options.events.emit('hook:failed', err, { hook: 'appTerminate' });
      this.#options.logger.error({ err }, 'appTerminate hook failed.');
    });
  }
}
