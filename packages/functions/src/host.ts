/**
 * The functions host: loads an `@azure/functions` v4 app and runs its functions through the
 * extensions' triggers. It owns the lifecycle and composes three parts, each owning its state:
 * the app ({@link FunctionApp}: settings, keys, bound functions, hooks), the running triggers
 * ({@link TriggerListeners}) and the invocations in flight ({@link InFlight}, drained on close).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import {
  type Clock,
  isHubbubError,
  type Logger,
  type Part,
  randomIds,
  silentLogger,
  systemClock,
  TypedEmitter,
} from '@hubbub/kernel';
import { FunctionsError, isFunctionsError } from './errors.ts';
import type { FunctionsHostEvents } from './events.ts';
import type { Invoke } from './extension.ts';
import { FunctionApp } from './function-app.ts';
import { checkOptions, extensionsOf, type FunctionsHostOptions } from './host-options.ts';
import { InFlight } from './in-flight.ts';
import type { FunctionKeys } from './keys.ts';
import { type FunctionInfo, TriggerListeners } from './trigger-listeners.ts';
import { writeError } from './write-error.ts';

/** A kernel {@link Part}: the factory starts nothing; `start()` loads the app and starts the triggers. */
export interface FunctionsHost
  extends Part<FunctionsHostEvents>,
    Pick<TypedEmitter<FunctionsHostEvents>, 'once' | 'off'> {
  /** Loads the app and starts its triggers; a second call fails with FUNCTIONS_CLOSED. */
  start(): Promise<void>;
  /** Stops the triggers, waits up to `drainTimeoutMs` for running invocations, runs `appTerminate` hooks. */
  close(): Promise<void>;
  /**
   * Serves a request addressed to the HTTP functions (under the route prefix, `/api/…` by default)
   * and returns true, or returns false for any other (and before start). Once the host closes, the
   * requests it took before are answered FUNCTIONS_CLOSED (503).
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** The loaded functions (empty until `start()` resolved). */
  readonly functions: readonly FunctionInfo[];
  /** The keys in force (read settings at `start()`). */
  readonly keys: FunctionKeys;
  /** When a function runs next (timers; ms since epoch). */
  nextTimerRun(name: string): number | undefined;
}

export function createFunctionsHost(options: FunctionsHostOptions): FunctionsHost {
  checkOptions(options);
  return new Host(options);
}

type State = 'new' | 'starting' | 'started' | 'closing' | 'closed';

class Host extends TypedEmitter<FunctionsHostEvents> implements FunctionsHost {
  readonly #options: FunctionsHostOptions;
  readonly #appDir: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #closing = new AbortController();
  readonly #app: FunctionApp;
  readonly #triggers = new TriggerListeners();
  readonly #inFlight = new InFlight();
  #state: State = 'new';
  #functions: readonly FunctionInfo[] = [];
  #closed: Promise<void> | undefined;

  constructor(options: FunctionsHostOptions) {
    super();
    this.#options = options;
    this.#appDir = resolvePath(options.appDir);
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#app = new FunctionApp({
      appDir: this.#appDir,
      settings: options.settings,
      exposeSettings: options.exposeSettings !== false,
      appWorkingDirectory: options.appWorkingDirectory !== false,
      strict: options.strict === true,
      only: options.only,
      keys: options.keys,
      workerThreads: options.workerThreads ?? 0,
      workerHeap: options.workerHeap ?? {},
      extensions: extensionsOf(options),
      clock: this.#clock,
      ids: options.ids ?? randomIds,
      logger: this.#logger,
      events: this,
      signal: this.#closing.signal,
    });
  }

  get functions(): readonly FunctionInfo[] {
    return this.#functions;
  }

  get keys(): FunctionKeys {
    return this.#app.keys;
  }

  nextTimerRun(name: string): number | undefined {
    return this.#triggers.nextRun(name);
  }

  async start(): Promise<void> {
    if (this.#state !== 'new')
      throw new FunctionsError('FUNCTIONS_CLOSED', `The host cannot start: it is ${this.#state}.`);
    this.#state = 'starting';
    try {
      const { entries, triggers, executor } = await this.#app.load();
      const inFlight = this.#inFlight;
      const invoke: Invoke = (entry, request) => inFlight.track(executor.execute(entry, request));
      await this.#triggers.start(triggers, entries, invoke);
      this.#functions = entries.map((entry) => this.#triggers.describe(entry));
      this.#state = 'started';
      this.#logger.info({ appDir: this.#appDir, functions: entries.map((e) => e.name) }, 'Functions host started.');
    } catch (err) {
      this.#state = 'started';
      await this.close().catch(() => undefined);
      throw isFunctionsError(err)
        ? err
        : new FunctionsError(
            'FUNCTIONS_APP_LOAD_FAILED',
            `The app in ${this.#appDir} failed to start: ${(err as Error)?.message ?? err}`,
            { cause: err, detail: { appDir: this.#appDir } },
          );
    }
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#triggers.addresses(req)) return false;
    if ((this.#options.cors?.(req, res) ?? 'continue') !== 'continue') return true;
    const served =
      (this.#state === 'started' ? this.#triggers.handleRequest(req, res) : undefined) ??
      Promise.reject(new FunctionsError('FUNCTIONS_CLOSED', 'The functions host is not running.'));
    served.catch((err: unknown) => this.#requestFailed(req, res, err));
    return true;
  }

  /** Answers a failed request; a failure that is neither coded nor the client's is reported first. */
  #requestFailed(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (isFunctionsError(err) || (isHubbubError(err) && err.status !== undefined && err.status < 500)) {
      writeError(res, err);
      return;
    }
    const error = new FunctionsError('FUNCTIONS_INVOCATION_FAILED', 'The request failed.', { cause: err });
    const info = { method: req.method ?? '', path: (req.url ?? '').slice(0, 256) };
    this.emit('request:failed', error, info);
    this.#logger.error({ err: error, ...info }, 'HTTP request failed.');
    writeError(res, error);
  }

  close(): Promise<void> {
    if (this.#state === 'new') this.#state = 'closed';
    this.#closed ??= this.#state === 'closed' ? Promise.resolve() : this.#shutdown();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closing';
    this.#closing.abort();
    const drainTimeoutMs = this.#options.drainTimeoutMs ?? 30_000;
    if (!(await this.#inFlight.drain(this.#triggers.close(), this.#clock, drainTimeoutMs))) {
      const running = this.#inFlight.size;
      this.emit('drain:timeout', { running, drainTimeoutMs });
      this.#logger.warn({ running, drainTimeoutMs }, 'Closing with invocations still running.');
    }
    await this.#app.unload();
    this.#state = 'closed';
  }
}
