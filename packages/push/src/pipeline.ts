/**
 * What happens to a send after it is queued. A `fanout` job finds the targets (from the tag index
 * where the expression allows), renders templates, counts what cannot be sent, and cuts the rest
 * into `deliver` jobs of `batchSize` (the last batch, for most sends the only one, it delivers
 * itself). A `deliver` job hands each delivery to its provider and sorts
 * the outcomes: final ones are counted, a gone channel is marked on its installation, and
 * `retry` / `throttled` ones go back on the queue as one new job after the back-off (at least the
 * platform's `retryAfterMs`) — or count `expired` when that would pass the notification's expiry.
 * @module
 */
import { type BackoffOptions, backoffDelay, type Clock } from '@hubbub/kernel';
import type {
  BrowserChannel,
  Notification,
  NotificationOutcome,
  Platform,
  SendTarget,
  TestSendOutcome,
  TestSendResult,
} from './model.ts';
import { describeTarget } from './notifications.ts';
import { type OutcomeInit, type OutcomeLedger, Tally } from './outcomes.ts';
import type { DeliveryOutcome, PushProvider } from './providers/provider.ts';
import type { PushQueue } from './queue.ts';
import type { InstallationRepository } from './repository.ts';
import { type Candidate, type DeliveryItem, TargetResolver } from './targets.ts';

export type { DeliveryItem };

export interface FanoutJob {
  readonly type: 'fanout';
  readonly notificationId: string;
  readonly notification: Notification;
  readonly target: SendTarget;
  /** When the send was accepted (absent in jobs queued before it was carried). */
  readonly enqueueTime?: number;
  readonly expiresAt: number;
}

export interface DeliverJob {
  readonly type: 'deliver';
  readonly notificationId: string;
  readonly native?: { readonly body: string; readonly headers?: Readonly<Record<string, string>> };
  readonly expiresAt: number;
  /** 1 for the first try. */
  readonly attempt: number;
  /** The job's duplicate-detection key: `{notificationId}/{batch}/{attempt}`. */
  readonly key: string;
  readonly items: readonly DeliveryItem[];
}

export interface PipelineEvents {
  completed(outcome: NotificationOutcome): void;
  failed(event: {
    notificationId: string;
    platform: Platform;
    installationId?: string;
    template?: string;
    outcome: 'gone' | 'invalid' | 'expired' | 'failed';
    reason: string;
  }): void;
  retry(event: {
    notificationId: string;
    platform: Platform;
    count: number;
    attempt: number;
    delayMs: number;
    reason: string;
  }): void;
  channelRemoved(event: { installationId: string; platform: Platform; reason: string }): void;
}

export interface PipelineOptions {
  readonly providers: ReadonlyMap<Platform, PushProvider>;
  readonly repository: InstallationRepository;
  readonly queue: PushQueue;
  readonly ledger: OutcomeLedger;
  readonly clock: Clock;
  readonly backoff: BackoffOptions;
  readonly batchSize: number;
  readonly deliveryConcurrency: number;
  readonly deliveryTimeoutMs: number;
  readonly events: PipelineEvents;
}

export function handleOf(channel: BrowserChannel | string): string {
  return typeof channel === 'string' ? channel : channel.endpoint;
}

function sameChannel(a: BrowserChannel | string, b: BrowserChannel | string): boolean {
  return typeof a === 'string' || typeof b === 'string' ? a === b : a.endpoint === b.endpoint;
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class DeliveryPipeline {
  readonly #o: PipelineOptions;
  readonly #targets: TargetResolver;

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#targets = new TargetResolver(options);
  }

  /**
   * Finds the targets and queues their deliveries in batches. A fan-out handed out for the first
   * time touches the outcome store once, at its end (and once more when it queues batches);
   * `redelivered` (handed out before: it may have finished, or been cancelled) checks first.
   */
  async fanout(job: FanoutJob, redelivered = false, delivered?: () => void): Promise<void> {
    const { ledger, queue, clock, events, batchSize } = this.#o;
    const id = job.notificationId;
    if (redelivered && !(await ledger.begin(id))) return;
    const tally = new Tally();
    const expired = clock.now() >= job.expiresAt;
    const native = job.notification.format === 'template' ? undefined : job.notification;
    let batch: DeliveryItem[] = [];
    let batches = 0;
    const jobOf = (items: DeliveryItem[]): DeliverJob => ({
      type: 'deliver',
      notificationId: id,
      ...(native === undefined
        ? {}
        : {
            native:
              native.headers === undefined ? { body: native.body } : { body: native.body, headers: native.headers },
          }),
      expiresAt: job.expiresAt,
      attempt: 1,
      key: `${id}/${++batches}/1`,
      items,
    });
    for await (const c of this.#targets.resolve(job.notification, job.target)) {
      tally.plan(c.item.platform);
      if (!c.ok) this.#final(tally, id, c.item, 'invalid', c.reason);
      else if (expired) this.#final(tally, id, c.item, 'expired', 'the notification expired before it was processed');
      else {
        batch.push(c.item);
        if (batch.length >= batchSize) {
          // A fan-out of several jobs runs a while: its notification reads Processing meanwhile.
          if (batches === 0 && !redelivered && !(await ledger.begin(id))) return;
          const next = jobOf(batch);
          await queue.enqueue(next as unknown as Record<string, unknown>, { key: next.key });
          batch = [];
        }
      }
    }
    // The last (for most sends the only) batch is delivered here, saving a trip through the queue:
    // the fan-out job is completed only after it, so a crash hands the whole job out again.
    // Its counts join the fan-out's, so the notification's record is written once for both.
    if (batch.length > 0) await this.deliver(jobOf(batch), tally);
    delivered?.();
    // The record's only write for most sends (it was held since the send); made from the job when missing.
    const init: OutcomeInit = {
      notificationId: id,
      format: job.notification.format,
      target: describeTarget(job.target),
      enqueueTime: job.enqueueTime ?? clock.now(),
    };
    const done = await ledger.record(id, tally, { key: `${id}/fanout`, fannedOut: true, init });
    if (done !== undefined) events.completed(done);
  }

  /**
   * Delivers a batch once; requeues what is to be retried; counts the rest — in one ledger write,
   * or into `into` (the fan-out's tally, when it delivers its last batch itself). `delivered` is
   * called when nothing but that write is left (the runner frees the job's slot then).
   */
  async deliver(job: DeliverJob, into?: Tally, delivered?: () => void): Promise<void> {
    const { clock, queue, events, backoff, ledger } = this.#o;
    const id = job.notificationId;
    const tally = into ?? new Tally();
    const settle = async () => {
      if (into !== undefined) return;
      delivered?.();
      const done = await ledger.record(id, tally, { key: job.key });
      if (done !== undefined) events.completed(done);
    };
    if (clock.now() >= job.expiresAt) {
      for (const item of job.items) this.#final(tally, id, item, 'expired', 'not handed to the platform before expiry');
      return settle();
    }
    const results: Array<{ item: DeliveryItem; outcome: DeliveryOutcome }> = [];
    await eachLimit(job.items, this.#o.deliveryConcurrency, async (item) => {
      results.push({ item, outcome: await this.#deliverOne(item, job.native) });
    });
    const retry = results.filter((r) => r.outcome.kind === 'retry' || r.outcome.kind === 'throttled');
    const now = clock.now();
    let delayMs = backoffDelay(job.attempt, backoff);
    for (const { outcome } of retry) {
      if ('retryAfterMs' in outcome && outcome.retryAfterMs !== undefined)
        delayMs = Math.max(delayMs, outcome.retryAfterMs);
    }
    const requeue = retry.length > 0 && now + delayMs < job.expiresAt;
    if (requeue) {
      // The retry must find a stored record to count into, should this process die holding it.
      if (into !== undefined) await ledger.begin(id);
      // Queued before anything is counted: if this fails the job is handed out again and counts stay right.
      const key = `${job.key.slice(0, job.key.lastIndexOf('/'))}/${job.attempt + 1}`;
      const next: DeliverJob = { ...job, attempt: job.attempt + 1, key, items: retry.map((r) => r.item) };
      await queue.enqueue(next as unknown as Record<string, unknown>, { scheduledAt: now + delayMs, key });
      const byPlatform = new Map<Platform, DeliveryOutcome[]>();
      for (const r of retry) byPlatform.set(r.item.platform, [...(byPlatform.get(r.item.platform) ?? []), r.outcome]);
      for (const [platform, outcomes] of byPlatform) {
        const first = outcomes[0] as { reason: string };
        events.retry({
          notificationId: id,
          platform,
          count: outcomes.length,
          attempt: job.attempt + 1,
          delayMs,
          reason: first.reason,
        });
      }
    }
    for (const { item, outcome } of results) {
      switch (outcome.kind) {
        case 'delivered':
          tally.add(item.platform, 'success');
          break;
        case 'gone':
          await this.#markGone(item, outcome.reason);
          this.#final(tally, id, item, 'gone', outcome.reason);
          break;
        case 'invalid':
          this.#final(tally, id, item, 'invalid', outcome.reason);
          break;
        case 'auth':
          this.#final(tally, id, item, 'failed', outcome.reason);
          break;
        case 'throttled':
          tally.add(item.platform, 'throttled');
          if (!requeue) this.#final(tally, id, item, 'expired', `throttled until past expiry: ${outcome.reason}`);
          break;
        case 'retry':
          if (!requeue) this.#final(tally, id, item, 'expired', `retries ran past expiry: ${outcome.reason}`);
          break;
      }
    }
    await settle();
  }

  /**
   * A job given up on after too many failed tries: a fan-out leaves its notification `Abandoned`,
   * a delivery job counts its deliveries `failed`.
   */
  async drop(job: FanoutJob | DeliverJob, reason: string): Promise<void> {
    if (job.type === 'fanout') return this.#o.ledger.abandon(job.notificationId);
    const tally = new Tally();
    for (const item of job.items) this.#final(tally, job.notificationId, item, 'failed', reason);
    const done = await this.#o.ledger.record(job.notificationId, tally, { key: job.key });
    if (done !== undefined) this.#o.events.completed(done);
  }

  /** Delivers to at most `limit` targets, each once, and reports every outcome (nothing counted). */
  async testSend(notification: Notification, target: SendTarget, limit: number): Promise<TestSendOutcome> {
    const results: TestSendResult[] = [];
    const native = notification.format === 'template' ? undefined : notification;
    const candidates: Candidate[] = [];
    for await (const c of this.#targets.resolve(notification, target)) {
      candidates.push(c);
      if (candidates.length >= limit) break;
    }
    await eachLimit(candidates, this.#o.deliveryConcurrency, async (c) => {
      const { item } = c;
      const base = {
        platform: item.platform,
        handle: handleOf(item.channel),
        ...(item.installationId === undefined ? {} : { installationId: item.installationId }),
        ...(item.template === undefined ? {} : { template: item.template }),
      };
      if (!c.ok) {
        results.push({ ...base, outcome: c.outcome, reason: c.reason });
        return;
      }
      const outcome = await this.#deliverOne(item, native);
      if (outcome.kind === 'gone') await this.#markGone(item, outcome.reason);
      results.push({ ...base, outcome: outcome.kind, ...('reason' in outcome ? { reason: outcome.reason } : {}) });
    });
    const success = results.filter((r) => r.outcome === 'delivered').length;
    return { success, failure: results.length - success, results };
  }

  #final(
    tally: Tally,
    id: string,
    item: DeliveryItem,
    outcome: 'gone' | 'invalid' | 'expired' | 'failed',
    reason: string,
  ): void {
    this.#o.events.failed({
      notificationId: id,
      platform: item.platform,
      ...(item.installationId === undefined ? {} : { installationId: item.installationId }),
      ...(item.template === undefined ? {} : { template: item.template }),
      outcome,
      reason,
    });
    tally.add(item.platform, outcome);
  }

  async #deliverOne(item: DeliveryItem, native: DeliverJob['native'] | undefined): Promise<DeliveryOutcome> {
    const provider = this.#o.providers.get(item.platform);
    if (provider === undefined) return { kind: 'invalid', reason: `no provider for platform '${item.platform}'` };
    const body = item.body ?? native?.body ?? '';
    const headers = item.headers ?? native?.headers;
    const abort = new AbortController();
    const timer = this.#o.clock.setTimeout(
      () => abort.abort(new Error(`delivery timed out after ${this.#o.deliveryTimeoutMs} ms`)),
      this.#o.deliveryTimeoutMs,
    );
    try {
      return await provider.deliver({
        platform: item.platform,
        channel: item.channel,
        body,
        ...(headers === undefined ? {} : { headers }),
        signal: abort.signal,
      });
    } catch (err) {
      return { kind: 'retry', reason: `the provider failed: ${(err as Error).message}` };
    } finally {
      timer.cancel();
    }
  }

  async #markGone(item: DeliveryItem, reason: string): Promise<void> {
    if (item.installationId === undefined) return;
    const { repository, events } = this.#o;
    const installation = await repository.get(item.installationId);
    if (
      installation === undefined ||
      installation.pushChannelExpired ||
      !sameChannel(installation.pushChannel, item.channel)
    ) {
      return;
    }
    await repository.put({ ...installation, pushChannelExpired: true });
    events.channelRemoved({ installationId: installation.installationId, platform: installation.platform, reason });
  }
}
