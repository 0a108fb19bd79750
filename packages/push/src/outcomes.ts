/**
 * Per-notification outcomes — state, times, deliveries planned and pending, counts per platform:
 * what `getNotificationOutcomeDetails` answers — behind the {@link OutcomeStore} port, so they can
 * outlive the process as the queued jobs do. The {@link OutcomeLedger} above it turns the
 * pipeline's steps into atomic record updates, one per job rather than one per delivery.
 * @module
 */
import type { Clock, TimerHandle } from '@hubbub/kernel';
import type { Notification, NotificationOutcome, NotificationState, OutcomeCounts, Platform } from './model.ts';

/** How long an accepted send's record may wait in memory for its fan-out before it is written. */
export const DEFAULT_HOLD_MS = 10_000;

/**
 * How long a finished record waits for others to be written with it (on a store with
 * `createMany`): the job waits for its write, its delivery slot does not (the runner frees it).
 */
export const DEFAULT_WRITE_WINDOW_MS = 20;

/** Records written in one `createMany` at most. */
export const MAX_WRITE_GROUP = 200;

/** A count a delivery ends in (`success` … `failed`), or `throttled` (seen on the way). */
export type CountName = keyof OutcomeCounts;

/** The stored record of one notification: plain JSON. */
export interface OutcomeRecord {
  readonly notificationId: string;
  readonly state: NotificationState;
  readonly format: Notification['format'];
  readonly target: string;
  readonly enqueueTime: number;
  readonly scheduledAt?: number;
  readonly startTime?: number;
  readonly endTime?: number;
  readonly deliveries: number;
  readonly pending: number;
  /** The fan-out has planned every delivery. */
  readonly fannedOut: boolean;
  readonly counts: Readonly<Partial<Record<Platform, OutcomeCounts>>>;
  /** The queue's id of the first job of a scheduled send (what cancelling it removes). */
  readonly jobId?: string;
  /**
   * The keys of the jobs whose tallies are in `counts` (`{id}/fanout`, a delivery job's
   * `{id}/{batch}/{attempt}`): a job run again after a crash between its write and its
   * completion is not counted twice.
   */
  readonly applied?: readonly string[];
}

/**
 * Outcome records by notification id. `update` is atomic per record (a store-backed one
 * re-reads and retries on a conflicting write); `change` may run more than once and must be pure.
 */
export interface OutcomeStore {
  /** `memory`, `store` … */
  readonly kind: string;
  create(record: OutcomeRecord): Promise<void>;
  /**
   * Optional: writes several new records at once (as `create` each: a record that exists is
   * replaced), resolving when all are stored; rejects when any is not (and may have written some:
   * the ledger writes the failed ones again with `create`). The ledger gathers finished records
   * into one call when the store has it.
   */
  createMany?(records: readonly OutcomeRecord[]): Promise<void>;
  get(notificationId: string): Promise<OutcomeRecord | undefined>;
  /** Replaces the record with `change(record)`; resolves with what was stored, or undefined when there is no record. */
  update(notificationId: string, change: (record: OutcomeRecord) => OutcomeRecord): Promise<OutcomeRecord | undefined>;
  /** Deletes records that finished (`endTime`) before `before`; resolves with how many. */
  sweep(before: number): Promise<number>;
  close(): Promise<void>;
}

/** The reference {@link OutcomeStore}, in process memory. */
export class MemoryOutcomeStore implements OutcomeStore {
  readonly kind = 'memory';
  readonly #records = new Map<string, OutcomeRecord>();

  async create(record: OutcomeRecord): Promise<void> {
    this.#records.set(record.notificationId, structuredClone(record));
  }

  async get(notificationId: string): Promise<OutcomeRecord | undefined> {
    const record = this.#records.get(notificationId);
    return record === undefined ? undefined : structuredClone(record);
  }

  async update(notificationId: string, change: (record: OutcomeRecord) => OutcomeRecord) {
    const record = this.#records.get(notificationId);
    if (record === undefined) return undefined;
    const next = structuredClone(change(structuredClone(record)));
    this.#records.set(notificationId, next);
    return structuredClone(next);
  }

  async sweep(before: number): Promise<number> {
    let n = 0;
    for (const [id, r] of this.#records) {
      if (r.endTime !== undefined && r.endTime < before) {
        this.#records.delete(id);
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {}
}

export function createMemoryOutcomeStore(): MemoryOutcomeStore {
  return new MemoryOutcomeStore();
}

const zero = (): OutcomeCounts => ({ success: 0, gone: 0, invalid: 0, throttled: 0, expired: 0, failed: 0 });
const FINAL: readonly CountName[] = ['success', 'gone', 'invalid', 'expired', 'failed'];

/** Count changes gathered over one job, per platform. */
export class Tally {
  readonly planned = new Map<Platform, number>();
  readonly counts = new Map<Platform, OutcomeCounts>();

  plan(platform: Platform, n = 1): void {
    this.planned.set(platform, (this.planned.get(platform) ?? 0) + n);
  }

  add(platform: Platform, name: CountName, n = 1): void {
    let c = this.counts.get(platform);
    if (c === undefined) {
      c = zero();
      this.counts.set(platform, c);
    }
    c[name] += n;
  }

  get empty(): boolean {
    return this.planned.size === 0 && this.counts.size === 0;
  }
}

/**
 * Applies a job's tally (and maybe the end of the fan-out) to a record, once per job key; the
 * first tally of an `Enqueued` notification makes it `Processing`.
 */
function applyTally(r: OutcomeRecord, tally: Tally, fannedOut: boolean, key: string, now: number): OutcomeRecord {
  if (r.applied?.includes(key) || r.state === 'Cancelled' || (fannedOut && r.fannedOut)) return r;
  const counts: Partial<Record<Platform, OutcomeCounts>> = {};
  for (const [p, c] of Object.entries(r.counts)) counts[p as Platform] = { ...c };
  let { deliveries, pending } = r;
  for (const [platform, n] of tally.planned) {
    deliveries += n;
    pending += n;
    counts[platform] ??= zero();
  }
  for (const [platform, delta] of tally.counts) {
    const c = counts[platform] ?? zero();
    counts[platform] = c;
    for (const name of Object.keys(delta) as CountName[]) c[name] += delta[name];
    for (const name of FINAL) pending -= delta[name];
  }
  const started = r.state === 'Enqueued' ? { state: 'Processing' as const, startTime: r.startTime ?? now } : {};
  const next: OutcomeRecord = {
    ...r,
    ...started,
    deliveries,
    pending,
    counts,
    fannedOut: r.fannedOut || fannedOut,
    applied: [...(r.applied ?? []), key],
  };
  if (next.fannedOut && next.pending <= 0 && next.state === 'Processing') {
    return { ...next, state: next.deliveries === 0 ? 'NoTargetFound' : 'Completed', endTime: now };
  }
  return next;
}

export function toOutcome(r: OutcomeRecord): NotificationOutcome {
  const counts: Partial<Record<Platform, OutcomeCounts>> = {};
  for (const [platform, c] of Object.entries(r.counts)) counts[platform as Platform] = { ...c };
  return {
    notificationId: r.notificationId,
    state: r.state,
    format: r.format,
    target: r.target,
    enqueueTime: r.enqueueTime,
    ...(r.scheduledAt === undefined ? {} : { scheduledAt: r.scheduledAt }),
    ...(r.startTime === undefined ? {} : { startTime: r.startTime }),
    ...(r.endTime === undefined ? {} : { endTime: r.endTime }),
    targetPlatforms: Object.keys(r.counts) as Platform[],
    deliveries: r.deliveries,
    pending: Math.max(0, r.pending),
    counts,
  };
}

/** The record of a notification as it is queued. */
export interface OutcomeInit {
  readonly notificationId: string;
  readonly format: Notification['format'];
  readonly target: string;
  readonly enqueueTime: number;
  readonly scheduledAt?: number;
}

const initial = (init: OutcomeInit): OutcomeRecord => ({
  ...init,
  state: 'Enqueued',
  deliveries: 0,
  pending: 0,
  fannedOut: false,
  counts: {},
});

/** A record accepted but not yet written, and the write taking it to the store. */
interface Held {
  record: OutcomeRecord;
  writing: Promise<unknown> | undefined;
  timer: TimerHandle;
}

/** A finished record waiting for its group's write. */
interface Waiting {
  readonly record: OutcomeRecord;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The service's view of the outcome store: what a notification costs it.
 *
 * An immediate send's record is **held** in memory when the send is accepted (its job, queued
 * durably, carries what the record needs) and written once, with the counts, when its fan-out
 * ends — for most sends the fan-out delivers the only batch, so a notification is one write in
 * all. A record not written within `holdMs` (the fan-out waits behind others) is written as it
 * is, and so is every held record when the ledger closes; a fan-out that finds no record (the
 * process died holding it) writes it from its job. Reads see held records, so an outcome is
 * readable from the moment the send is accepted. A scheduled send is written when accepted
 * (with its job id, for cancelling); a fan-out handed out again, one cut into several jobs, and
 * one that queues a retry mark the record `Processing` first ({@link OutcomeLedger.begin}), so
 * every job that may outlive the process has a stored record to count into.
 *
 * Counts are gathered per job in a {@link Tally} and merged by one atomic update, once per job
 * key; nothing is read before it, and no store operation runs per delivery.
 *
 * On a store with `createMany` the held records that end are written in groups (group commit):
 * a record waits at most `writeWindowMs` (a real-time delay, not the injected clock: it batches
 * I/O) or until {@link MAX_WRITE_GROUP} wait, one group is written at a time, and those that
 * arrive meanwhile go in the next. On PGlite one statement for a group costs about what one
 * insert did. Every caller still resolves only once its record is stored.
 */
export class OutcomeLedger {
  readonly #store: OutcomeStore;
  readonly #retentionMs: number;
  readonly #clock: Clock;
  readonly #holdMs: number;
  readonly #writeWindowMs: number;
  readonly #held = new Map<string, Held>();
  #waiting: Waiting[] = [];
  #writingGroup: Promise<void> | undefined;
  #groupTimer: ReturnType<typeof setTimeout> | undefined;
  #lastSweep = 0;

  constructor(
    store: OutcomeStore,
    options: { retentionMs: number; clock: Clock; holdMs?: number; writeWindowMs?: number },
  ) {
    this.#store = store;
    this.#retentionMs = options.retentionMs;
    this.#clock = options.clock;
    this.#holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
    this.#writeWindowMs = options.writeWindowMs ?? DEFAULT_WRITE_WINDOW_MS;
  }

  /** Stores a new record: at once, or with the next group on a store with `createMany`. */
  #createRecord(record: OutcomeRecord): Promise<void> {
    if (this.#store.createMany === undefined) return this.#store.create(record);
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ record, resolve, reject });
      if (this.#waiting.length >= MAX_WRITE_GROUP) this.#writeGroup();
      else this.#groupTimer ??= setTimeout(() => this.#writeGroup(), this.#writeWindowMs);
    });
  }

  /** Writes the records waiting, unless a group is being written (then they go when it is done). */
  #writeGroup(): void {
    clearTimeout(this.#groupTimer);
    this.#groupTimer = undefined;
    if (this.#writingGroup !== undefined || this.#waiting.length === 0) return;
    const group = this.#waiting.splice(0, MAX_WRITE_GROUP);
    const write = async () => {
      try {
        if (group.length === 1) await this.#store.create(group[0]!.record);
        else await this.#store.createMany!(group.map((w) => w.record));
        for (const w of group) w.resolve();
      } catch (err) {
        for (const w of group) w.reject(err);
      } finally {
        this.#writingGroup = undefined;
        // Those that came while this group was written have waited already.
        if (this.#waiting.length > 0) this.#writeGroup();
      }
    };
    this.#writingGroup = write();
  }

  /** Records a send as accepted: held (an immediate send) or written (a scheduled one). */
  async create(init: OutcomeInit): Promise<void> {
    const now = this.#clock.now();
    if (now - this.#lastSweep >= 60_000) {
      this.#lastSweep = now;
      await this.#store.sweep(now - this.#retentionMs);
    }
    const record = initial(init);
    if (init.scheduledAt !== undefined) {
      await this.#store.create(record);
      return;
    }
    const id = init.notificationId;
    this.#held.set(id, {
      record,
      writing: undefined,
      timer: this.#clock.setTimeout(() => this.#release(id), this.#holdMs),
    });
  }

  /** Writes a held record as it is (its fan-out is late, or the ledger closes). */
  #release(id: string): Promise<unknown> {
    const held = this.#held.get(id);
    if (held === undefined) return Promise.resolve();
    if (held.writing !== undefined) return held.writing.catch(() => {});
    held.timer.cancel();
    // Written only when absent: with a queue shared by several processes another may have run
    // the fan-out and written the record from its job meanwhile (this is the slow path: a read).
    const write = async () => {
      if ((await this.#store.get(id)) === undefined) await this.#store.create(held.record);
    };
    held.writing = write().then(
      () => this.#held.delete(id),
      () => {
        // Tried again later; the job's own write creates it meanwhile if need be.
        held.writing = undefined;
        held.timer = this.#clock.setTimeout(() => this.#release(id), this.#holdMs);
      },
    );
    return held.writing;
  }

  /**
   * Applies `change` atomically: to a held record (then written once), else by the store's
   * update; a record that is nowhere is made from `init` when given. Resolves with the state
   * before and the record stored.
   */
  async #change(
    id: string,
    change: (r: OutcomeRecord) => OutcomeRecord,
    init?: OutcomeInit,
  ): Promise<{ before: NotificationState | undefined; stored: OutcomeRecord | undefined }> {
    let held = this.#held.get(id);
    while (held?.writing !== undefined) {
      await held.writing.catch(() => {});
      held = this.#held.get(id);
    }
    if (held !== undefined) {
      held.timer.cancel();
      const stored = change(held.record);
      const writing = this.#createRecord(stored);
      held.writing = writing;
      try {
        await writing;
      } catch (err) {
        held.writing = undefined;
        held.timer = this.#clock.setTimeout(() => this.#release(id), this.#holdMs);
        throw err;
      }
      this.#held.delete(id);
      return { before: held.record.state, stored };
    }
    let before: NotificationState | undefined;
    let stored = await this.#store.update(id, (r) => {
      before = r.state;
      return change(r);
    });
    if (stored === undefined && init !== undefined) {
      const base = initial(init);
      before = base.state;
      stored = change(base);
      await this.#store.create(stored);
    }
    return { before, stored };
  }

  /** The queue id of a scheduled notification that has not begun, for cancelling it. */
  async setJobId(notificationId: string, jobId: string): Promise<void> {
    await this.#store.update(notificationId, (r) => ({ ...r, jobId }));
  }

  async cancellable(notificationId: string): Promise<string | undefined> {
    const r = this.#held.get(notificationId)?.record ?? (await this.#store.get(notificationId));
    return r?.state === 'Enqueued' && r.scheduledAt !== undefined ? r.jobId : undefined;
  }

  async cancel(notificationId: string): Promise<void> {
    const now = this.#clock.now();
    await this.#change(notificationId, (r) =>
      r.state === 'Enqueued' ? { ...r, state: 'Cancelled', endTime: now } : r,
    );
  }

  /** A fan-out given up on: the notification ends `Abandoned` unless it already ended. */
  async abandon(notificationId: string): Promise<void> {
    const now = this.#clock.now();
    await this.#change(notificationId, (r) =>
      r.endTime === undefined ? { ...r, state: 'Abandoned', fannedOut: true, endTime: now } : r,
    );
  }

  /**
   * Whether the fan-out should run (not cancelled, not already done); marks the record
   * Processing, writing it. Called for a fan-out handed out again, before one queues its first
   * batch, and before a fan-out's own batch queues a retry.
   */
  async begin(notificationId: string): Promise<boolean> {
    const now = this.#clock.now();
    let run = true;
    const { stored } = await this.#change(notificationId, (r) => {
      run = r.state !== 'Cancelled' && !r.fannedOut;
      return run ? { ...r, state: r.state === 'Enqueued' ? 'Processing' : r.state, startTime: r.startTime ?? now } : r;
    });
    return stored === undefined || run;
  }

  /**
   * Applies the tally of the job `key` (once: a key already applied changes nothing); resolves
   * with the outcome when this made the notification complete. `init` (a fan-out's) makes the
   * record when there is none.
   */
  async record(
    notificationId: string,
    tally: Tally,
    job: { key: string; fannedOut?: boolean; init?: OutcomeInit },
  ): Promise<NotificationOutcome | undefined> {
    const fannedOut = job.fannedOut ?? false;
    if (tally.empty && !fannedOut) return undefined;
    const now = this.#clock.now();
    const { before, stored } = await this.#change(
      notificationId,
      (r) => applyTally(r, tally, fannedOut, job.key, now),
      job.init,
    );
    const open = (s: NotificationState | undefined) => s === 'Enqueued' || s === 'Processing';
    return stored !== undefined && open(before) && !open(stored.state) ? toOutcome(stored) : undefined;
  }

  /** The outcome, or undefined when unknown or finished over `retentionMs` ago. */
  async get(notificationId: string): Promise<NotificationOutcome | undefined> {
    const r = this.#held.get(notificationId)?.record ?? (await this.#store.get(notificationId));
    if (r === undefined || (r.endTime !== undefined && r.endTime < this.#clock.now() - this.#retentionMs)) {
      return undefined;
    }
    return toOutcome(r);
  }

  /** Writes the records waiting and still held, then closes the store. */
  async close(): Promise<void> {
    while (this.#waiting.length > 0 || this.#writingGroup !== undefined) {
      this.#writeGroup();
      await this.#writingGroup;
    }
    await Promise.all([...this.#held.keys()].map((id) => this.#release(id)));
    await this.#store.close();
  }
}
