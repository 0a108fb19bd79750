/**
 * Per-notification outcome records: state, times, deliveries planned and pending, and counts per
 * platform — what `getNotificationOutcomeDetails` answers. Kept in process memory, swept
 * `retentionMs` after a notification finishes.
 * @module
 */
import type { Notification, NotificationOutcome, NotificationState, OutcomeCounts, Platform } from './model.ts';

/** A final count a delivery ends in, or `throttled` (seen on the way). */
export type CountName = keyof OutcomeCounts;

interface Record_ {
  notificationId: string;
  state: NotificationState;
  format: Notification['format'];
  target: string;
  enqueueTime: number;
  scheduledAt?: number;
  startTime?: number;
  endTime?: number;
  deliveries: number;
  pending: number;
  fannedOut: boolean;
  counts: Partial<Record<Platform, OutcomeCounts>>;
  /** The queue's id for the first job (what a cancel removes). */
  jobId?: string;
}

const FINAL: ReadonlySet<CountName> = new Set(['success', 'gone', 'invalid', 'expired', 'failed']);

const zero = (): OutcomeCounts => ({ success: 0, gone: 0, invalid: 0, throttled: 0, expired: 0, failed: 0 });

export class OutcomeLedger {
  readonly #records = new Map<string, Record_>();
  readonly #retentionMs: number;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(retentionMs: number, now: () => number) {
    this.#retentionMs = retentionMs;
    this.#now = now;
  }

  create(init: { notificationId: string; format: Notification['format']; target: string; scheduledAt?: number }): void {
    this.#sweep();
    this.#records.set(init.notificationId, {
      ...init,
      state: 'Enqueued',
      enqueueTime: this.#now(),
      deliveries: 0,
      pending: 0,
      fannedOut: false,
      counts: {},
    });
  }

  setJobId(notificationId: string, jobId: string): void {
    const r = this.#records.get(notificationId);
    if (r !== undefined) r.jobId = jobId;
  }

  /** The queue id of a notification that has not started, for cancelling it. */
  cancellable(notificationId: string): string | undefined {
    const r = this.#records.get(notificationId);
    return r?.state === 'Enqueued' && r.scheduledAt !== undefined ? r.jobId : undefined;
  }

  cancel(notificationId: string): void {
    const r = this.#records.get(notificationId);
    if (r === undefined) return;
    r.state = 'Cancelled';
    r.endTime = this.#now();
  }

  /** Whether the fan-out of this notification should run (not cancelled, not already fanned out). */
  begin(notificationId: string): boolean {
    const r = this.#records.get(notificationId);
    if (r === undefined) return true;
    if (r.state === 'Cancelled' || r.fannedOut) return false;
    r.state = 'Processing';
    r.startTime ??= this.#now();
    return true;
  }

  /** Deliveries found by the fan-out (each later ends in exactly one final count). */
  plan(notificationId: string, platform: Platform, n: number): void {
    const r = this.#records.get(notificationId);
    if (r === undefined) return;
    r.deliveries += n;
    r.pending += n;
    r.counts[platform] ??= zero();
  }

  /** Adds to a count; final counts settle pending deliveries. Returns the outcome when the notification just completed. */
  count(notificationId: string, platform: Platform, name: CountName, n = 1): NotificationOutcome | undefined {
    const r = this.#records.get(notificationId);
    if (r === undefined || n === 0) return undefined;
    r.counts[platform] ??= zero();
    r.counts[platform][name] += n;
    if (FINAL.has(name)) r.pending -= n;
    return this.#maybeComplete(r);
  }

  /** The fan-out has planned every delivery. Returns the outcome when the notification just completed. */
  fannedOut(notificationId: string): NotificationOutcome | undefined {
    const r = this.#records.get(notificationId);
    if (r === undefined) return undefined;
    r.fannedOut = true;
    return this.#maybeComplete(r);
  }

  get(notificationId: string): NotificationOutcome | undefined {
    this.#sweep();
    const r = this.#records.get(notificationId);
    return r === undefined ? undefined : snapshot(r);
  }

  #maybeComplete(r: Record_): NotificationOutcome | undefined {
    if (!r.fannedOut || r.pending > 0 || r.state !== 'Processing') return undefined;
    r.state = r.deliveries === 0 ? 'NoTargetFound' : 'Completed';
    r.endTime = this.#now();
    return snapshot(r);
  }

  /** Drops records finished over `retentionMs` ago; runs at most once a minute. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    const horizon = now - this.#retentionMs;
    for (const [id, r] of this.#records) if (r.endTime !== undefined && r.endTime < horizon) this.#records.delete(id);
  }
}

function snapshot(r: Record_): NotificationOutcome {
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
    pending: r.pending,
    counts,
  };
}
