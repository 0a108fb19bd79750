/**
 * The change-feed processor (`container.changeFeedProcessor()`): instances sharing a
 * `processorName` split a container's feed ranges between them through leases (`leases.ts`: an
 * item per range, changed only with `ifMatch`, so two instances never both win one), and take over
 * the ranges of an instance that stops renewing.
 *
 * Expiry is read on the injected clock. Every `leaseAcquireIntervalMs` an instance balances:
 * it takes free and expired leases up to its fair share (ranges / live instances, rounded up) and,
 * while it holds fewer than its share rounded down, steals one lease per round from the instance
 * holding the most. An owner learns it lost a lease when its next renewal or checkpoint fails.
 *
 * Settlement lives on the batch: `for await (const batch of processor) { …; await batch.complete() }`.
 * `complete()` checkpoints the range's continuation into its lease; a batch not completed before
 * the next one is asked for is abandoned, and its range is read again from the last checkpoint.
 * Delivery is at least once: a range that moves between instances may repeat its last batch.
 * @module
 */
import { InvalidOptionError, type Part, type TimerHandle, TypedEmitter } from '@hubbub/kernel';
import type { ContainerDefinition } from '../driver.ts';
import { isStoreError, StoreError } from '../errors.ts';
import type { JsonObject } from '../json.ts';
import { type StoreCore, toStoreError } from './core.ts';
import { type ContainerLike, type Lease, LeaseTable } from './leases.ts';
import { pageSize } from './query-iterator.ts';

export type { ContainerLike } from './leases.ts';

export interface ChangeFeedProcessorOptions {
  /** Instances with the same name share the feed. */
  readonly processorName: string;
  /** Where leases live (this store or another); its partition key path must be `/id`. */
  readonly leaseContainer: ContainerLike;
  /** This instance's name in the leases. @default a random id */
  readonly instanceName?: string;
  /** Where a range without a checkpoint begins. @default 'now' */
  readonly startFrom?: 'beginning' | 'now';
  /** Items per batch. @default 100 */
  readonly maxItemCount?: number;
  /** A lease not renewed for this long may be taken over. @default 60_000 */
  readonly leaseExpirationMs?: number;
  /** @default 17_000 */
  readonly leaseRenewIntervalMs?: number;
  /** How often to balance leases. @default 13_000 */
  readonly leaseAcquireIntervalMs?: number;
  /** How often a waiting processor looks for changes from other processes. @default the store's feedPollIntervalMs */
  readonly pollIntervalMs?: number;
}

export type ChangeFeedProcessorEvents = {
  /** This instance took a range's lease. */
  leaseAcquired: (range: number) => void;
  /** Another instance took a range this one held. */
  leaseLost: (range: number) => void;
  /** This instance gave a lease back (on close). */
  leaseReleased: (range: number) => void;
  /** A background lease operation failed; the processor retries on its next round. */
  error: (error: StoreError, context: { operation: string; range?: number }) => void;
};

interface Owned {
  lease: Lease;
  /** Read position (ahead of the checkpoint while a batch is out). */
  position: string | null;
  /** Lease writes for this range, one after another. */
  chain: Promise<unknown>;
}

/** A batch of changes from one range. */
export class ChangeBatch {
  readonly items: JsonObject[];
  readonly range: number;
  readonly #complete: () => Promise<void>;
  #completing: Promise<void> | undefined;

  constructor(items: JsonObject[], range: number, complete: () => Promise<void>) {
    this.items = items;
    this.range = range;
    this.#complete = complete;
  }

  /** Checkpoints the range past this batch; STORE_LEASE_LOST when another instance took the range. */
  complete(): Promise<void> {
    this.#completing ??= this.#complete();
    return this.#completing;
  }
}

export class ChangeFeedProcessor implements Part<ChangeFeedProcessorEvents>, AsyncIterable<ChangeBatch> {
  readonly instanceName: string;
  readonly #core: StoreCore;
  readonly #container: ContainerLike;
  readonly #leaseContainer: ContainerLike;
  readonly #leases: LeaseTable;
  readonly #startFrom: 'beginning' | 'now';
  readonly #batchSize: number;
  readonly #expirationMs: number;
  readonly #renewMs: number;
  readonly #acquireMs: number;
  readonly #pollMs: number | undefined;
  readonly #events = new TypedEmitter<ChangeFeedProcessorEvents>();
  readonly #owned = new Map<number, Owned>();
  #state: 'new' | 'running' | 'closed' = 'new';
  readonly #timers = new Map<string, TimerHandle>();
  #outstanding: { range: number; done: boolean } | undefined;
  #cursor = 0;
  #wake: (() => void) | undefined;
  #balancing: Promise<void> | undefined;
  #unhook: (() => void) | undefined;

  constructor(core: StoreCore, container: ContainerLike, options: ChangeFeedProcessorOptions) {
    const ms = (name: string, value: unknown, fallback: number): number => {
      if (value === undefined) return fallback;
      if (!Number.isSafeInteger(value) || (value as number) < 1)
        throw new InvalidOptionError(name, 'must be a positive integer');
      return value as number;
    };
    if (
      typeof options?.processorName !== 'string' ||
      options.processorName === '' ||
      options.processorName.length > 128
    ) {
      throw new InvalidOptionError('processorName', 'must be a string of 1 to 128 characters');
    }
    if (options.startFrom !== undefined && !['beginning', 'now'].includes(options.startFrom)) {
      throw new InvalidOptionError('startFrom', "must be 'beginning' or 'now'");
    }
    this.#core = core;
    this.#container = container;
    this.#leaseContainer = options.leaseContainer;
    this.#leases = new LeaseTable(options.leaseContainer, options.processorName);
    this.instanceName = options.instanceName ?? core.settings.ids.next();
    this.#startFrom = options.startFrom ?? 'now';
    this.#batchSize = pageSize(options.maxItemCount);
    this.#expirationMs = ms('leaseExpirationMs', options.leaseExpirationMs, 60_000);
    this.#renewMs = ms('leaseRenewIntervalMs', options.leaseRenewIntervalMs, 17_000);
    this.#acquireMs = ms('leaseAcquireIntervalMs', options.leaseAcquireIntervalMs, 13_000);
    this.#pollMs = options.pollIntervalMs === undefined ? undefined : ms('pollIntervalMs', options.pollIntervalMs, 1);
  }

  /** The ranges this instance holds now. */
  get ranges(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  on<E extends keyof ChangeFeedProcessorEvents>(event: E, listener: ChangeFeedProcessorEvents[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** Checks the lease container, creates missing leases, takes a first share, starts the timers. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new StoreError('STORE_CLOSED', 'A processor starts once.');
    // Read through the lease container itself: it may live in another store (a leaseConnection).
    const { resource: leaseDef } = await this.#leaseContainer.read();
    if (leaseDef.partitionKey.paths[0] !== '/id') {
      throw new StoreError('STORE_INVALID_REQUEST', 'leaseContainer: its partition key path must be /id.', {
        detail: { option: 'leaseContainer' },
      });
    }
    this.#state = 'running';
    this.#unhook = this.#core.onClose(() => this.close());
    await this.balance();
    this.#schedule('balance', () => this.balance(), this.#acquireMs);
    this.#schedule('renew', () => this.renew(), this.#renewMs);
  }

  /** Stops, gives the leases back (checkpoints kept) and ends the `for await`. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    this.#unhook?.();
    for (const t of this.#timers.values()) t.cancel();
    this.#wake?.();
    await this.#balancing?.catch(() => {});
    if (!wasRunning) return;
    await Promise.allSettled(
      [...this.#owned.values()].map((o) =>
        this.#leaseWrite(o, { owner: null, expiresAt: 0 }).then(() =>
          this.#events.emit('leaseReleased', o.lease.range),
        ),
      ),
    );
    this.#owned.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** One balancing round (the timer runs them; tests may call it). */
  balance(): Promise<void> {
    this.#balancing ??= this.#balance()
      .catch((err: unknown) => this.#events.emit('error', toStoreError(err), { operation: 'balance' }))
      .finally(() => {
        this.#balancing = undefined;
      });
    return this.#balancing;
  }

  /** Renews every lease held (the timer runs this; tests may call it). */
  async renew(): Promise<void> {
    const now = this.#core.settings.clock.now();
    await Promise.allSettled(
      [...this.#owned.values()].map((o) =>
        this.#leaseWrite(o, { expiresAt: now + this.#expirationMs }).catch((err: unknown) => {
          if (!isStoreError(err, 'STORE_LEASE_LOST'))
            this.#events.emit('error', toStoreError(err), { operation: 'renew', range: o.lease.range });
        }),
      ),
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeBatch> {
    if (this.#state === 'new') await this.start();
    const def = await this.#core.definition(this.#container.database, this.#container.id);
    while (this.#state === 'running') {
      this.#abandonOutstanding();
      const seen = this.#core.changeCount(def.handle);
      const batch = await this.#nextBatch(def);
      if (batch !== undefined) {
        yield batch;
        continue;
      }
      await this.#waitForWork(def, seen);
    }
  }

  async #nextBatch(def: ContainerDefinition): Promise<ChangeBatch | undefined> {
    const ranges = this.ranges;
    for (let i = 0; i < ranges.length; i++) {
      const range = ranges[(this.#cursor + i) % ranges.length]!;
      const owned = this.#owned.get(range);
      if (owned === undefined) continue;
      const page = await this.#core.run((driver) =>
        driver.changes(def, {
          range,
          after: owned.position ?? (this.#startFrom === 'now' ? 'now' : 'beginning'),
          limit: this.#batchSize,
          now: this.#core.settings.clock.now(),
        }),
      );
      if (this.#owned.get(range) !== owned) continue;
      owned.position = page.position;
      if (page.items.length === 0) continue;
      this.#cursor = (this.#cursor + i + 1) % Math.max(1, ranges.length);
      const outstanding = { range, done: false };
      this.#outstanding = outstanding;
      return new ChangeBatch(page.items, range, async () => {
        if (outstanding !== this.#outstanding || this.#owned.get(range) !== owned) throw leaseLost(range);
        outstanding.done = true;
        await this.#checkpoint(range, owned, page.position);
      });
    }
    return undefined;
  }

  async #checkpoint(range: number, owned: Owned, position: string): Promise<void> {
    const now = this.#core.settings.clock.now();
    await this.#leaseWrite(owned, { continuation: position, expiresAt: now + this.#expirationMs });
    if (this.#owned.get(range) !== owned) throw leaseLost(range);
  }

  /** A batch not completed when the next is asked for is abandoned: its range reads again from the checkpoint. */
  #abandonOutstanding(): void {
    const out = this.#outstanding;
    this.#outstanding = undefined;
    if (out === undefined || out.done) return;
    const owned = this.#owned.get(out.range);
    if (owned !== undefined) owned.position = owned.lease.continuation;
  }

  #waitForWork(def: ContainerDefinition, seen: number): Promise<void> {
    const abort = new AbortController();
    return new Promise<void>((resolve) => {
      if (this.#state !== 'running') return resolve();
      const done = (): void => {
        this.#wake = undefined;
        abort.abort();
        resolve();
      };
      this.#wake = done;
      void this.#core
        .waitForChange(def.handle, seen, this.#pollMs ?? this.#core.settings.feedPollIntervalMs, abort.signal)
        .then(done);
    });
  }

  async #balance(): Promise<void> {
    if (this.#state !== 'running') return;
    const def = await this.#core.definition(this.#container.database, this.#container.id);
    const leases = await this.#leases.all(def, (range) =>
      this.#startFrom === 'now'
        ? this.#core.run(
            async (driver) => (await driver.changes(def, { range, after: 'now', limit: 0, now: 0 })).position,
          )
        : Promise.resolve(null),
    );
    const now = this.#core.settings.clock.now();
    const live = (l: Lease): boolean => l.owner !== null && l.expiresAt > now;
    for (const l of leases) {
      const mine = this.#owned.get(l.range);
      if (mine !== undefined && live(l) && l.owner !== this.instanceName) this.#lose(l.range);
    }
    const counts = new Map<string, number>([[this.instanceName, 0]]);
    for (const l of leases) if (live(l)) counts.set(l.owner!, (counts.get(l.owner!) ?? 0) + 1);
    counts.set(this.instanceName, this.#owned.size);
    const total = def.feedRanges;
    const fair = Math.ceil(total / counts.size);
    const floor = Math.floor(total / counts.size);
    for (const l of leases) {
      if (this.#owned.size >= fair) break;
      if (!live(l) && !this.#owned.has(l.range)) await this.#acquire(l, now);
    }
    if (this.#owned.size < floor) {
      let victim: string | undefined;
      for (const [owner, n] of counts) {
        if (
          owner !== this.instanceName &&
          n > this.#owned.size + 1 &&
          (victim === undefined || n > counts.get(victim)!)
        )
          victim = owner;
      }
      const lease = leases.find((l) => l.owner === victim && live(l));
      if (victim !== undefined && lease !== undefined) await this.#acquire(lease, now);
    }
  }

  async #acquire(lease: Lease, now: number): Promise<void> {
    const taken = await this.#leases.replace(lease, { owner: this.instanceName, expiresAt: now + this.#expirationMs });
    if (taken === undefined) return; // another instance got there first
    this.#owned.set(lease.range, { lease: taken, position: taken.continuation, chain: Promise.resolve() });
    this.#events.emit('leaseAcquired', lease.range);
    this.#wake?.();
  }

  /** Writes a new version of a held lease (after any write already under way); a stale etag loses the lease. */
  #leaseWrite(owned: Owned, changes: Partial<Omit<Lease, '_etag'>>): Promise<void> {
    const range = owned.lease.range;
    const write = owned.chain.then(async () => {
      if (this.#owned.get(range) !== owned) throw leaseLost(range);
      const next = await this.#leases.replace(owned.lease, changes);
      if (next === undefined) {
        this.#lose(range);
        throw leaseLost(range);
      }
      owned.lease = next;
    });
    owned.chain = write.catch(() => {});
    return write;
  }

  #lose(range: number): void {
    if (!this.#owned.delete(range)) return;
    if (this.#state === 'running') this.#events.emit('leaseLost', range);
  }

  #schedule(name: string, task: () => Promise<void>, ms: number): void {
    const tick = (): void => {
      if (this.#state !== 'running') return;
      void task().finally(() => this.#schedule(name, task, ms));
    };
    if (this.#state === 'running') this.#timers.set(name, this.#core.settings.clock.setTimeout(tick, ms));
  }
}

const leaseLost = (range: number): StoreError =>
  new StoreError('STORE_LEASE_LOST', `The lease on feed range ${range} was taken over by another instance.`, {
    detail: { range },
  });
