/**
 * The options of {@link createFunctionsHost}, validated once at construction.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock, IdSource, Logger } from '@hubbub/kernel';
import { FunctionsError } from './errors.ts';
import type { Extension } from './extension.ts';
import { builtInExtensions, type ExtensionOptions } from './extensions/index.ts';
import type { FunctionKeysOptions } from './keys.ts';
import { checkSettings, nonNegativeInteger } from './settings.ts';
import type { WorkerHeap } from './worker-heap.ts';

/**
 * Besides these, the extensions' own options: `bus` (a {@link BusPort} or a resolver per connection
 * setting, for Service Bus triggers and outputs), `signalR` (a {@link SignalRTarget} or a resolver,
 * for the SignalR bindings), `store` (a {@link StorePort} or a resolver, for the Cosmos DB bindings
 * and trigger), `push` (a {@link PushPort} or a resolver, for the `notificationHub` output) and
 * `maxRequestBodyBytes` (HTTP). A binding whose port was not given is
 * FUNCTIONS_BINDING_UNAVAILABLE (at start for triggers, per invocation for inputs and outputs).
 */
export interface FunctionsHostOptions extends ExtensionOptions {
  /** Directory of the function app (its package.json names the entry files in `main`). */
  appDir: string;
  /** App settings; they override local.settings.json `Values` (the CLI passes the environment). @default {} */
  settings?: Readonly<Record<string, string>>;
  /**
   * Expose the app settings to the app's code as environment variables (`process.env.Name`), as
   * Azure and Core Tools do; restored on close(). @default true
   */
  exposeSettings?: boolean;
  /**
   * Run the app with its directory as the process's working directory, as Core Tools and Azure do
   * (a relative `readFile('content/index.html')` works); the previous one is restored on close().
   * One process runs one app this way at a time. @default true
   */
  appWorkingDirectory?: boolean;
  /**
   * Fail the start when a function cannot be loaded (an unknown binding type, a bad binding, a
   * missing setting). Otherwise the function is skipped — `function:skipped` is emitted and
   * logged — and the rest of the app runs, as under Core Tools. @default false
   */
  strict?: boolean;
  /**
   * Load only the functions named here (Core Tools' `func start --functions`), compared
   * case-insensitively; the others are left out as disabled ones are. @default every function
   */
  only?: readonly string[];
  /**
   * Function keys for `authLevel` function/admin; they win over the settings HUBBUB_FUNCTIONS_MASTER_KEY,
   * HUBBUB_FUNCTIONS_HOST_KEYS and HUBBUB_FUNCTIONS_KEY_<function>. @default random master and host keys (see `host.keys`)
   */
  keys?: FunctionKeysOptions;
  /**
   * Runs first on every request the host takes: CORS (`'continue'` to go on; anything else means it
   * answered, e.g. a preflight or a refused origin). Core Tools' `Host.CORS`. @default none
   */
  cors?: (req: IncomingMessage, res: ServerResponse) => 'continue' | 'preflight' | 'denied';
  /**
   * Worker threads that each load the app and run its invocations (the library's invocation model,
   * hooks and the function's code), as Azure's language worker processes do, while triggers,
   * bindings and ports stay on this thread: the app's work then uses another core. Each worker
   * loads the app once (top-level code runs once per worker); an app with HTTP streaming runs on
   * this thread. 0 runs every invocation on this thread. @default 0
   */
  workerThreads?: number;
  /**
   * V8 heap sizes for each of those threads alone (the process's flags otherwise): `initialOldSpaceMb`
   * (`--initial-old-space-size`) and `maxSemiSpaceMb` (`--max-semi-space-size`). The library keeps its
   * objects' private fields in module-level `WeakMap`s, whose entries Node 20's V8 keeps through
   * every scavenge: each invocation's objects are copied, promoted, and freed only by a mark-compact,
   * whose concurrent marking takes a core from the event loops. A larger initial old space makes
   * those mark-compacts rarer (for up to that much garbage per thread between them); a small
   * semi-space makes each scavenge, which copies every invocation since the last, short. @default {}
   */
  workerHeap?: WorkerHeap;
  /** `close()` waits this long (on `clock`) for running invocations before it gives up on them. @default 30_000 */
  drainTimeoutMs?: number;
  /**
   * Extensions besides the built-in ones (http, serviceBus, timer, signalR, made from the options
   * above); one with the name of a built-in one replaces it. @default []
   */
  extensions?: readonly Extension[];
  /** @default systemClock */
  clock?: Clock;
  /** @default randomIds */
  ids?: IdSource;
  /** @default silentLogger */
  logger?: Logger;
}

export function checkOptions(options: FunctionsHostOptions): void {
  if (typeof options?.appDir !== 'string' || options.appDir === '') {
    throw new FunctionsError('FUNCTIONS_INVALID_SETTING', 'appDir must be a non-empty string.', {
      detail: { option: 'appDir' },
    });
  }
  nonNegativeInteger(options.drainTimeoutMs, 'drainTimeoutMs');
  nonNegativeInteger(options.workerThreads, 'workerThreads', 64);
  nonNegativeInteger(options.workerHeap?.initialOldSpaceMb, 'workerHeap.initialOldSpaceMb', 4096);
  nonNegativeInteger(options.workerHeap?.maxSemiSpaceMb, 'workerHeap.maxSemiSpaceMb', 256);
  checkSettings(options.settings, 'settings');
}

/** The built-in extensions, with those given replacing the ones of the same name and the rest added. */
export function extensionsOf(options: FunctionsHostOptions): Extension[] {
  const given = options.extensions ?? [];
  const names = new Set(given.map((e) => e.name));
  return [...builtInExtensions(options).filter((e) => !names.has(e.name)), ...given];
}
