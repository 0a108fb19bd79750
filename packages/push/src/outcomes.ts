/**
 * Per-notification outcomes — state, times, deliveries planned and pending, counts per platform:
 * what `getNotificationOutcomeDetails` answers — behind the {@link OutcomeStore} port, so they can
 * outlive the process as the queued jobs do. The {@link OutcomeLedger} above it turns the
 * pipeline's steps into atomic record updates, one per job rather than one per delivery.
 * @module
 */
import type { Notification, NotificationOutcome, NotificationState, OutcomeCounts, Platform } from './model.ts';

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
  /** The queue's id of the first job (what cancelling a scheduled send removes). */
  readonly jobId?: string;
}

/**
 * Outcome records by notification id. `update` is atomic per record (a store-backed one
 * re-reads and retries on a conflicting write); `change` may run more than once and must be pure.
 */
export interface OutcomeStore {
  /** `memory`, `store` … */
  readonly kind: string;
  create(record: OutcomeRecord): Promise<void>;
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

/** Applies a tally (and maybe the end of the fan-out) to a record. */
function applyTally(r: OutcomeRecord, tally: Tally, fannedOut: boolean, now: number): OutcomeRecord {
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
  const next: OutcomeRecord = { ...r, deliveries, pending, counts, fannedOut: r.fannedOut || fannedOut };
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

/** The service's view of the outcome store. */
export class OutcomeLedger {
  readonly #store: OutcomeStore;
  readonly #retentionMs: number;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(store: OutcomeStore, retentionMs: number, now: () => number) {
    this.#store = store;
    this.#retentionMs = retentionMs;
    this.#now = now;
  }

  async create(init: {
    notificationId: string;
    format: Notification['format'];
    target: string;
    scheduledAt?: number;
  }): Promise<void> {
    const now = this.#now();
    if (now - this.#lastSweep >= 60_000) {
      this.#lastSweep = now;
      await this.#store.sweep(now - this.#retentionMs);
    }
    await this.#store.create({
      ...init,
      state: 'Enqueued',
      enqueueTime: now,
      deliveries: 0,
      pending: 0,
      fannedOut: false,
      counts: {},
    });
  }

  async setJobId(notificationId: string, jobId: string): Promise<void> {
    await this.#store.update(notificationId, (r) => ({ ...r, jobId }));
  }

  /** The queue id of a scheduled notification that has not begun, for cancelling it. */
  async cancellable(notificationId: string): Promise<string | undefined> {
    const r = await this.#store.get(notificationId);
    return r?.state === 'Enqueued' && r.scheduledAt !== undefined ? r.jobId : undefined;
  }

  async cancel(notificationId: string): Promise<void> {
    const now = this.#now();
    await this.#store.update(notificationId, (r) =>
      r.state === 'Enqueued' ? { ...r, state: 'Cancelled', endTime: now } : r,
    );
  }

  /** A fan-out given up on: the notification ends `Abandoned` unless it already ended. */
  async abandon(notificationId: string): Promise<void> {
    const now = this.#now();
    await this.#store.update(notificationId, (r) =>
      r.endTime === undefined ? { ...r, state: 'Abandoned', fannedOut: true, endTime: now } : r,
    );
  }

  /** Whether the fan-out should run (not cancelled, not already done); marks the record Processing. */
  async begin(notificationId: string): Promise<boolean> {
    const now = this.#now();
    let run = true;
    const stored = await this.#store.update(notificationId, (r) => {
      run = r.state !== 'Cancelled' && !r.fannedOut;
      return run ? { ...r, state: 'Processing', startTime: r.startTime ?? now } : r;
    });
    return stored === undefined || run;
  }

  /** Applies a job's tally; resolves with the outcome when this made the notification complete. */
  async record(notificationId: string, tally: Tally, fannedOut = false): Promise<NotificationOutcome | undefined> {
    if (tally.empty && !fannedOut) return undefined;
    const now = this.#now();
    let before: NotificationState | undefined;
    const stored = await this.#store.update(notificationId, (r) => {
      before = r.state;
      return applyTally(r, tally, fannedOut, now);
    });
    return stored !== undefined && before === 'Processing' && stored.state !== 'Processing'
      ? toOutcome(stored)
      : undefined;
  }

  /** The outcome, or undefined when unknown or finished over `retentionMs` ago. */
  async get(notificationId: string): Promise<NotificationOutcome | undefined> {
    const r = await this.#store.get(notificationId);
    if (r === undefined || (r.endTime !== undefined && r.endTime < this.#now() - this.#retentionMs)) return undefined;
    return toOutcome(r);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
