/**
 * The functions host: loads an `@azure/functions` v4 app, binds its functions, serves its HTTP
 * triggers, runs its timers and pumps its Service Bus triggers.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import type { Bus } from '@hubbub/bus';
import {
  type Clock,
  type IdSource,
  isHubbubError,
  type Logger,
  randomIds,
  silentLogger,
  systemClock,
  type TimerHandle,
} from '@hubbub/kernel';
import { exposeSettings } from './app-environment.ts';
import { loadApp } from './app-loader.ts';
import { type BindingServices, bindFunction, createBindingRegistry, type FunctionEntry } from './bindings.ts';
import { type BusListener, startListener } from './bus-listener.ts';
import { handleBusMessages, LockRenewer } from './bus-trigger.ts';
import { createConnections } from './connections.ts';
import { FunctionsError, isFunctionsError } from './errors.ts';
import { createExecutor, type Executor } from './executor.ts';
import { type HostConfig, readHostConfig, readLocalSettings } from './host-config.ts';
import { serveHttp } from './http-handler.ts';
import {
  compileHttpRoutes,
  type HttpRoute,
  httpOutputBinding,
  httpTriggerBinding,
  writeError,
} from './http-trigger.ts';
import { type InvocationScope, runAppHook } from './invoke.ts';
import { createFunctionKeys, type FunctionKeys, type FunctionKeysOptions, keysFromSettings } from './keys.ts';
import {
  type BusReceivedMessage,
  type BusResolver,
  busSettingOf,
  createServiceBusBindings,
  type FunctionsBus,
  sourceOf,
} from './service-bus.ts';
import { checkSettings, resolveBindingSettings } from './settings.ts';
import { createSignalRBindings, type SignalRResolver, type SignalRTarget } from './signalr.ts';
import { startTimer, type TimerRunner, timerInput, timerTriggerBinding } from './timer-trigger.ts';
import { toTypedData } from './typed-data.ts';

export interface FunctionsHostOptions {
  /** Directory of the function app (its package.json names the entry files in `main`). */
  appDir: string;
  /** App settings; they override local.settings.json `Values` (the CLI passes the environment). @default {} */
  settings?: Readonly<Record<string, string>>;
  /**
   * Expose the app settings to the app's code as environment variables (`process.env.Name`), as
   * Azure and Core Tools do; restored on close(). @default true
   */
  exposeSettings?: boolean;
  /** SignalR target for `signalR` / `signalRConnectionInfo` bindings, or a resolver per connection setting. @default none (those bindings fail to start) */
  hub?: SignalRTarget | SignalRResolver;
  /** Bus for Service Bus triggers and outputs (a `@hubbub/bus` Bus or any {@link FunctionsBus}), or a resolver per connection setting. @default none (those bindings fail to start) */
  bus?: FunctionsBus | Bus | BusResolver | ((connection: { name: string; value: string }) => Bus | Promise<Bus>);
  /**
   * Function keys for `authLevel` function/admin; they win over the settings HUBBUB_FUNCTIONS_MASTER_KEY,
   * HUBBUB_FUNCTIONS_HOST_KEYS and HUBBUB_FUNCTIONS_KEY_<function>. @default random master and host keys (see `host.keys`)
   */
  keys?: FunctionKeysOptions;
  /** Largest accepted HTTP request body in bytes. @default 104_857_600 (100 MB, as Azure) */
  maxRequestBodyBytes?: number;
  /** `close()` waits this long (on `clock`) for running invocations before it gives up on them. @default 30_000 */
  drainTimeoutMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** @default randomIds */
  ids?: IdSource;
  /** @default silentLogger */
  logger?: Logger;
}

export interface FunctionInfo {
  readonly name: string;
  readonly trigger: string;
  /** HTTP triggers: the full route including the prefix, e.g. `api/orders/{id}`. */
  readonly route?: string;
  readonly methods?: readonly string[];
  readonly authLevel?: string;
}

export interface FunctionsHost {
  start(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  /** A node:http handler for HTTP triggers; it expects the full path (`/api/…` with the default prefix). */
  handleHttp(req: IncomingMessage, res: ServerResponse): void;
  /** The loaded functions (empty until `start()` resolved). */
  readonly functions: readonly FunctionInfo[];
  /** The keys in force (read settings at `start()`). */
  readonly keys: FunctionKeys;
  /** The route prefix from host.json (`api` by default). */
  readonly routePrefix: string;
  /** When each timer function fires next (ms since epoch). */
  nextTimerRun(name: string): number | undefined;
}

function checkOptions(options: FunctionsHostOptions): void {
  if (typeof options?.appDir !== 'string' || options.appDir === '') {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', 'appDir must be a non-empty string.', {
      detail: { option: 'appDir' },
    });
  }
  for (const option of ['maxRequestBodyBytes', 'drainTimeoutMs'] as const) {
    const value = options[option];
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw new FunctionsError('FUNCTIONS_INVALID_SETTING', `${option} must be a non-negative integer.`, {
        detail: { option },
      });
    }
  }
  checkSettings(options.settings, 'settings');
}

export function createFunctionsHost(options: FunctionsHostOptions): FunctionsHost {
  checkOptions(options);
  const appDir = resolvePath(options.appDir);
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? randomIds;
  const logger = options.logger ?? silentLogger;
  let keys = createFunctionKeys(options.keys);
  const maxBody = options.maxRequestBodyBytes ?? 104_857_600;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;

  let state: 'new' | 'starting' | 'started' | 'closing' | 'closed' = 'new';
  let config: HostConfig = {
    routePrefix: 'api',
    maxConcurrentCalls: 16,
    maxConcurrentSessions: 8,
    maxMessageBatchSize: 1000,
    maxAutoLockRenewalMs: 300_000,
  };
  let entries: FunctionEntry[] = [];
  let routes: HttpRoute[] = [];
  let infos: FunctionInfo[] = [];
  let scope: InvocationScope | undefined;
  let executor: Executor | undefined;
  const timers: TimerRunner[] = [];
  const listeners: BusListener[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const closing = new AbortController();
  const appHookData: Record<string, unknown> = {};
  const appLevelHookData: Record<string, unknown> = {};

  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };

  const connections = createConnections({ hub: options.hub, bus: options.bus, clock });
  let restoreEnvironment = (): void => {};

  async function start(): Promise<void> {
    if (state !== 'new') throw new FunctionsError('FUNCTIONS_CLOSED', `The host cannot start: it is ${state}.`);
    state = 'starting';
    try {
      config = await readHostConfig(appDir);
      const settings = { ...(await readLocalSettings(appDir)), ...checkSettings(options.settings, 'settings') };
      keys = createFunctionKeys(keysFromSettings(settings, options.keys));
      const services: BindingServices = { settings, clock, ids, logger };
      if (options.exposeSettings !== false) restoreEnvironment = exposeSettings(settings);
      const hub = connections.hubFor(settings);
      const bus = connections.busFor(settings);
      const registry = createBindingRegistry([
        httpTriggerBinding,
        httpOutputBinding,
        timerTriggerBinding,
        ...createServiceBusBindings(services, bus),
        ...createSignalRBindings(services, hub),
      ]);
      const app = await loadApp(appDir, (level, category, message) =>
        logger[level === 'error' || level === 'critical' ? 'error' : level === 'warning' ? 'warn' : 'debug'](
          { category },
          message,
        ),
      );
      const disabled = (name: string) => /^(true|1)$/i.test(settings[`AzureWebJobs.${name}.Disabled`]?.trim() ?? '');
      const enabled = app.registry.functions.filter((fn) => {
        if (!disabled(fn.metadata.name)) return true;
        logger.info({ function: fn.metadata.name }, 'Function disabled by its AzureWebJobs.<name>.Disabled setting.');
        return false;
      });
      entries = enabled.map((fn) => {
        const bindings: typeof fn.metadata.bindings = {};
        for (const [name, info] of Object.entries(fn.metadata.bindings)) {
          bindings[name] = resolveBindingSettings(info, settings, { functionName: fn.metadata.name, binding: name });
        }
        return bindFunction({ ...fn, metadata: { ...fn.metadata, bindings } }, registry);
      });
      if (entries.length === 0) logger.warn({ appDir }, 'No functions found: the app registered none.');
      routes = compileHttpRoutes(entries);
      infos = entries.map((e) => {
        const route = routes.find((r) => r.entry === e);
        return {
          name: e.name,
          trigger: String(e.trigger.info.type),
          ...(route === undefined
            ? {}
            : {
                route: [config.routePrefix, route.route.template.replace(/^\/+/, '')].filter(Boolean).join('/'),
                methods: [...route.methods],
                authLevel: route.authLevel,
              }),
        };
      });
      scope = { registry: app.registry, appHookData, logger };
      executor = createExecutor(scope, services);
      await runAppHook(scope, 'appStart', appLevelHookData, { functionAppDirectory: appDir });
      // Resolve every bus up front so a missing one fails start, not the first message.
      const busEntries = entries.filter((e) => String(e.trigger.info.type).toLowerCase() === 'servicebustrigger');
      for (const entry of busEntries) {
        const target = await bus(busSettingOf(entry.trigger.info), {
          functionName: entry.name,
          binding: entry.trigger.name,
        });
        startBusTrigger(entry, target);
      }
      for (const entry of entries) {
        if (String(entry.trigger.info.type).toLowerCase() === 'timertrigger') startTimerTrigger(entry);
      }
      state = 'started';
      logger.info({ appDir, functions: entries.map((e) => e.name) }, 'Functions host started.');
    } catch (err) {
      state = 'started';
      await close().catch(() => undefined);
      throw isFunctionsError(err)
        ? err
        : new FunctionsError(
            'FUNCTIONS_APP_LOAD_FAILED',
            `The app in ${appDir} failed to start: ${(err as Error)?.message ?? err}`,
            {
              cause: err,
              detail: { appDir },
            },
          );
    }
  }

  function startTimerTrigger(entry: FunctionEntry): void {
    timers.push(
      startTimer(entry, clock, (tick) =>
        track(
          executor!
            .execute(entry, {
              invocationId: ids.uuid(),
              triggerData: toTypedData(timerInput(tick, clock.now())),
              triggerMetadata: {},
              data: { invocationId: '', expressions: {} },
              signal: closing.signal,
            })
            .then(
              () => undefined,
              (err: unknown) => logger.error({ err, function: entry.name }, 'Timer function failed.'),
            ),
        ),
      ),
    );
  }

  function startBusTrigger(entry: FunctionEntry, bus: FunctionsBus): void {
    const info = entry.trigger.info;
    const sessions = info.isSessionsEnabled === true;
    const source = sourceOf(info, { functionName: entry.name, binding: entry.trigger.name });
    // Sessions: maxConcurrentSessions pumps, each holding one session and handling its messages in order.
    const pumps = sessions ? config.maxConcurrentSessions : 1;
    const many = info.cardinality === 'many';
    const receive = (signal: AbortSignal): AsyncIterable<readonly BusReceivedMessage[]> =>
      many && bus.receiveBatches !== undefined
        ? bus.receiveBatches(source, { sessions, signal, maxMessages: config.maxMessageBatchSize })
        : singles(bus.receive(source, { sessions, signal }));
    const deps = {
      ids,
      logger,
      locks: new LockRenewer({ clock, maxAutoLockRenewalMs: config.maxAutoLockRenewalMs, logger }),
      executor: executor!,
      track,
      signal: closing.signal,
    };
    for (let i = 0; i < pumps; i++) {
      listeners.push(
        startListener(
          receive,
          { maxConcurrentCalls: sessions ? 1 : config.maxConcurrentCalls, logger, clock, what: JSON.stringify(source) },
          (messages) => handleBusMessages(deps, entry, messages),
        ),
      );
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (state !== 'started' || executor === undefined) {
      throw new FunctionsError('FUNCTIONS_CLOSED', 'The functions host is not running.');
    }
    await serveHttp(
      { routePrefix: config.routePrefix, routes, keys, maxBodyBytes: maxBody, ids, logger, executor, track },
      req,
      res,
    );
  }

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    if (state === 'new') state = 'closed';
    closed ??= state === 'closed' ? Promise.resolve() : shutdown();
    return closed;
  }

  async function shutdown(): Promise<void> {
    state = 'closing';
    closing.abort();
    for (const t of timers.splice(0)) t.stop();
    const drained = Promise.allSettled([...listeners.splice(0).map((l) => l.close()), ...inFlight]).then(() => true);
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = clock.setTimeout(() => resolve(false), drainTimeoutMs);
    });
    if (!(await Promise.race([drained, timedOut]))) {
      logger.warn({ running: inFlight.size, drainTimeoutMs }, 'Closing with invocations still running.');
    }
    timer?.cancel();
    await connections.close();
    restoreEnvironment();
    if (scope !== undefined) {
      await runAppHook(scope, 'appTerminate', appLevelHookData).catch((err: unknown) =>
        logger.error({ err }, 'appTerminate hook failed.'),
      );
    }
    state = 'closed';
  }

  return {
    start,
    close,
    [Symbol.asyncDispose]: close,
    handleHttp(req, res) {
      handle(req, res).catch((err: unknown) => {
        const error =
          isFunctionsError(err) || (isHubbubError(err) && err.status !== undefined && err.status < 500)
            ? err
            : new FunctionsError('FUNCTIONS_INVOCATION_FAILED', 'The request failed.', { cause: err });
        if (error.code === 'FUNCTIONS_OUTPUT_FAILED' || error.code === 'FUNCTIONS_INVOCATION_FAILED') {
          logger.error({ err: error }, 'HTTP invocation failed.');
        }
        writeError(res, error);
      });
    },
    get functions() {
      return infos;
    },
    get keys() {
      return keys;
    },
    get routePrefix() {
      return config.routePrefix;
    },
    nextTimerRun(name) {
      return timers.find((t) => t.entry.name === name)?.nextAt;
    },
  };
}

async function* singles<T>(items: AsyncIterable<T>): AsyncGenerator<readonly T[]> {
  for await (const item of items) yield [item];
}
