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
import type { FunctionsHostEvents } from './events.ts';
import { createExecutor, type Executor } from './executor.ts';
import type { Extension, ExtensionSetup, Trigger } from './extension.ts';
import { readHostJson, readLocalSettings } from './host-config.ts';
import { type InvocationScope, runAppHook } from './invoke.ts';
import { createFunctionKeys, type FunctionKeys, type FunctionKeysOptions, keysFromSettings } from './keys.ts';
import { checkSettings, resolveBindingSettings } from './settings.ts';

export interface FunctionAppOptions {
  readonly appDir: string;
  readonly settings: Readonly<Record<string, string>> | undefined;
  readonly exposeSettings: boolean;
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

const logLevel = (level: string) =>
  level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug';

export class FunctionApp {
  readonly #options: FunctionAppOptions;
  #keys: FunctionKeys;
  #scope: InvocationScope | undefined;
  #restoreEnvironment = (): void => {};
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
    const disabled = (name: string) => /^(true|1)$/i.test(settings[`AzureWebJobs.${name}.Disabled`]?.trim() ?? '');
    const enabled = app.registry.functions.filter((fn) => {
      if (!disabled(fn.metadata.name)) return true;
      logger.info({ function: fn.metadata.name }, 'Function disabled by its AzureWebJobs.<name>.Disabled setting.');
      return false;
    });
    const entries = enabled.map((fn) => {
      const bindings: typeof fn.metadata.bindings = {};
      for (const [name, info] of Object.entries(fn.metadata.bindings)) {
        bindings[name] = resolveBindingSettings(info, settings, { functionName: fn.metadata.name, binding: name });
      }
      return bindFunction({ ...fn, metadata: { ...fn.metadata, bindings } }, registry);
    });
    if (entries.length === 0) logger.warn({ appDir }, 'No functions found: the app registered none.');
    this.#scope = { registry: app.registry, appHookData: {}, logger };
    const executor = createExecutor(this.#scope, services, this.#options.events);
    await runAppHook(this.#scope, 'appStart', this.#appLevelHookData, { functionAppDirectory: appDir });
    return { entries, triggers, executor };
  }

  /** Puts the environment back and runs the `appTerminate` hooks (a failing one is reported, not thrown). */
  async unload(): Promise<void> {
    this.#restoreEnvironment();
    this.#restoreEnvironment = () => {};
    if (this.#scope === undefined) return;
    await runAppHook(this.#scope, 'appTerminate', this.#appLevelHookData).catch((err: unknown) => {
      this.#options.events.emit('hook:failed', err, { hook: 'appTerminate' });
      this.#options.logger.error({ err }, 'appTerminate hook failed.');
    });
  }
}
