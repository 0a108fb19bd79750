/**
 * What every handle of one store shares: the driver (opened on `start()` or the first
 * operation), the container definitions it has looked up, the operations in flight (so `close()`
 * waits for them), the local wake-ups of change-feed readers, and the TTL sweep.
 * @module
 */
import { type Clock, type IdSource, type Logger, TypedEmitter } from '@hubbub/kernel';
import type { ContainerDefinition, DocumentDriver } from '../driver.ts';
import { closedError, isStoreError, notFound, StoreError } from '../errors.ts';
import type { StoreEvents } from './events.ts';

export interface CoreSettings {
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly logger: Logger;
  readonly maxItemBytes: number;
  readonly systemProperties: 'reject' | 'ignore';
  readonly sweepIntervalMs: number;
  readonly sweepBatchSize: number;
  readonly feedPollIntervalMs: number;
}

type State = 'new' | 'starting' | 'open' | 'closing' | 'closed';

export class StoreCore {
  readonly settings: CoreSettings;
  readonly events = new TypedEmitter<StoreEvents>();
  readonly #load: () => Promise<DocumentDriver>;
  #state: State = 'new';
  #driver: DocumentDriver | undefined;
  #starting: Promise<DocumentDriver> | undefined;
  #closing: Promise<void> | undefined;
  readonly #definitions = new Map<string, Promise<ContainerDefinition>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #changes = new Map<string, number>();
  readonly #closeHooks = new Set<() => Promise<void> | void>();
  #sweepTimer: { cancel(): void } | undefined;
  #sweeping: Promise<void> | undefined;

  constructor(load: () => Promise<DocumentDriver>, settings: CoreSettings) {
    this.#load = load;
    this.settings = settings;
  }

  get state(): State {
    return this.#state;
  }

  get driverKind(): string | undefined {
    return this.#driver?.kind;
  }

  /** Opens the driver and schedules the sweep; resolves with the open driver. */
  start(): Promise<DocumentDriver> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError());
    if (this.#starting !== undefined) return this.#starting;
    this.#state = 'starting';
    this.#starting = (async () => {
      let driver: DocumentDriver | undefined;
      try {
        driver = await this.#load();
        await driver.open();
      } catch (err) {
        await driver?.close().catch(() => {});
        this.#state = 'new';
        this.#starting = undefined;
        throw toStoreError(err);
      }
      if (this.#state !== 'starting') {
        await driver.close();
        throw closedError();
      }
      this.#driver = driver;
      this.#state = 'open';
      this.#scheduleSweep();
      return driver;
    })();
    return this.#starting;
  }

  /**
   * Runs one operation against the open driver (starting the store if needed), counted as in
   * flight until it settles; whatever the driver throws that is not a StoreError becomes
   * STORE_DRIVER_FAILURE.
   */
  run<T>(work: (driver: DocumentDriver) => Promise<T>): Promise<T> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError());
    const driver = this.#driver;
    const task = (driver !== undefined ? work(driver) : this.start().then(work)).catch((err: unknown) => {
      throw toStoreError(err);
    });
    this.#inFlight.add(task);
    const forget = (): void => {
      this.#inFlight.delete(task);
    };
    task.then(forget, forget);
    return task;
  }

  /** The definition of a container, looked up once and cached. */
  definition(database: string, id: string): Promise<ContainerDefinition> {
    return this.run((driver) => this.#definition(driver, database, id));
  }

  #definition(driver: DocumentDriver, database: string, id: string): Promise<ContainerDefinition> {
    const key = `${database}\u0000${id}`;
    let found = this.#definitions.get(key);
    if (found === undefined) {
      found = driver.catalog({ op: 'listContainers', database }).then((all) => {
        const def = all.find((c) => c.id === id);
        if (def === undefined) throw notFound(`The container '${id}'`, { database, container: id });
        return def;
      });
      this.#definitions.set(key, found);
      found.catch(() => this.#definitions.delete(key));
    }
    return found;
  }

  /** Forgets cached definitions (of one database, or one container) after a delete or a NOT_FOUND. */
  forget(database: string, id?: string): void {
    for (const key of this.#definitions.keys()) {
      const [db, c] = key.split('\u0000');
      if (db === database && (id === undefined || c === id)) this.#definitions.delete(key);
    }
  }

  /** Runs an operation on a container; a STORE_NOT_FOUND drops the cached definition. */
  onContainer<T>(
    database: string,
    id: string,
    work: (driver: DocumentDriver, def: ContainerDefinition) => Promise<T>,
  ): Promise<T> {
    return this.run(async (driver) => {
      const def = await this.#definition(driver, database, id);
      try {
        return await work(driver, def);
      } catch (err) {
        if (isStoreError(err, 'STORE_NOT_FOUND') && err.detail?.container !== undefined) this.forget(database, id);
        throw err;
      }
    });
  }

  /** Wakes local change-feed readers of a container after a write committed. */
  changed(handle: string): void {
    this.#changes.set(handle, (this.#changes.get(handle) ?? 0) + 1);
    const set = this.#waiters.get(handle);
    if (set === undefined) return;
    this.#waiters.delete(handle);
    for (const wake of set) wake();
  }

  /** How many local writes a container has seen: read it before a feed read, pass it to {@link waitForChange}. */
  changeCount(handle: string): number {
    return this.#changes.get(handle) ?? 0;
  }

  /**
   * Resolves after a local write to the container (at once if one happened since `seen` was read),
   * after `ms` on the clock, on abort, or on close.
   */
  waitForChange(handle: string, seen: number, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.#state === 'closing' || this.#state === 'closed' || signal?.aborted) return resolve();
      if (this.changeCount(handle) !== seen) return resolve();
      let set = this.#waiters.get(handle);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(handle, set);
      }
      const done = (): void => {
        timer.cancel();
        set.delete(done);
        this.#closeHooks.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.settings.clock.setTimeout(done, ms);
      set.add(done);
      this.#closeHooks.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Registers work to do when the store closes (feed readers, processors). */
  onClose(hook: () => Promise<void> | void): () => void {
    this.#closeHooks.add(hook);
    return () => this.#closeHooks.delete(hook);
  }

  /**
   * Closes: first the hooks (feed readers end, processors give their leases back — they may still
   * write), then no new operation is accepted, those in flight finish, and the driver closes.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = (async () => {
      this.#sweepTimer?.cancel();
      const hooks = [...this.#closeHooks];
      this.#closeHooks.clear();
      await Promise.allSettled(hooks.map((hook) => hook()));
      const wasStarting = this.#starting;
      this.#state = 'closing';
      this.#sweepTimer?.cancel();
      await Promise.allSettled([...this.#inFlight, this.#sweeping]);
      if (wasStarting !== undefined) await wasStarting.catch(() => {});
      await this.#driver?.close();
      this.#state = 'closed';
      this.events.emit('closed');
    })();
    return this.#closing;
  }

  #scheduleSweep(): void {
    if (this.#state !== 'open') return;
    this.#sweepTimer = this.settings.clock.setTimeout(() => {
      this.#sweeping = this.sweep().then(
        () => this.#scheduleSweep(),
        () => this.#scheduleSweep(),
      );
    }, this.settings.sweepIntervalMs);
  }

  /**
   * Deletes expired items: at most `sweepBatchSize` per container per round. Failures are emitted
   * as `error` events, never thrown into a timer.
   */
  async sweep(): Promise<number> {
    let total = 0;
    try {
      const containers = await this.run((driver) => driver.catalog({ op: 'listContainers' }));
      for (const def of containers) {
        if (def.defaultTtl === undefined) continue;
        const removed = await this.run((driver) =>
          driver.sweep(def, this.settings.clock.now(), this.settings.sweepBatchSize),
        );
        total += removed;
        if (removed > 0) this.events.emit('swept', { database: def.database, container: def.id, removed });
      }
    } catch (err) {
      if (!isStoreError(err, 'STORE_CLOSED')) this.events.emit('error', toStoreError(err), { operation: 'sweep' });
    }
    return total;
  }
}

/** Any failure as a StoreError: StoreErrors pass, anything else is STORE_DRIVER_FAILURE. */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError('STORE_DRIVER_FAILURE', `The store driver failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
