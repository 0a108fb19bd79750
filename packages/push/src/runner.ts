/**
 * The consumer side of the push queue: pulls jobs while fewer than `concurrency` are delivering
 * (a job whose deliveries are done and whose outcome is being written no longer counts, up to
 * {@link IN_HAND_PER_SLOT} jobs in hand per slot), hands each to the pipeline, completes it when done, and when it fails reports the error, waits
 * a back-off and abandons it (so the queue hands it out again) — or, after
 * {@link MAX_JOB_DELIVERIES} tries, drops it (its notification `Abandoned`, or its deliveries
 * counted `failed`). A receive that fails is retried after a back-off.
 * @module
 */
import { type BackoffOptions, backoffDelay, type Clock, type Logger } from '@hubbub/kernel';
import type { DeliverJob, DeliveryPipeline, FanoutJob } from './pipeline.ts';
import type { LockedJob, PushQueue } from './queue.ts';

/** A job handed out this often without completing is dropped (and reported). */
export const MAX_JOB_DELIVERIES = 10;

/** Jobs in hand per delivery slot, counting those whose deliveries are done and whose outcome is being written. */
export const IN_HAND_PER_SLOT = 8;

export interface JobRunnerOptions {
  readonly queue: PushQueue;
  readonly pipeline: DeliveryPipeline;
  readonly concurrency: number;
  readonly clock: Clock;
  readonly backoff: BackoffOptions;
  readonly logger: Logger;
  /** Every failure, as it happens (the service's `error` event). */
  readonly onError: (error: Error) => void;
}

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = clock.setTimeout(done, ms);
    function done() {
      timer.cancel();
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** Consumes until `signal` aborts; resolves once the jobs in hand are settled. */
export async function runJobs(o: JobRunnerOptions, signal: AbortSignal): Promise<void> {
  const fail = (err: unknown, message: string) => {
    const error = err instanceof Error ? err : new Error(String(err));
    o.logger.error({ err: error }, message);
    o.onError(error);
  };

  const handle = async (job: LockedJob, delivered: () => void): Promise<void> => {
    const body = job.body as unknown as FanoutJob | DeliverJob;
    try {
      if (body.type === 'fanout') await o.pipeline.fanout(body, job.deliveryCount > 1, delivered);
      else if (body.type === 'deliver') await o.pipeline.deliver(body, undefined, delivered);
      else o.logger.warn({ type: String((body as { type?: unknown }).type) }, 'dropped a push job of unknown type');
      await job.complete();
    } catch (err) {
      fail(err, 'a push job failed; it will be handed out again');
      if (job.deliveryCount >= MAX_JOB_DELIVERIES) {
        const reason = `push job of ${body.notificationId} dropped after ${job.deliveryCount} tries`;
        fail(new Error(reason), 'dropped');
        if (body.type === 'fanout' || body.type === 'deliver') {
          await o.pipeline.drop(body, reason).catch((e: unknown) => fail(e, 'recording a dropped job failed'));
        }
        await job.complete().catch((e: unknown) => fail(e, 'completing a dropped job failed'));
        return;
      }
      await sleep(o.clock, backoffDelay(job.deliveryCount, o.backoff), signal);
      await job.abandon().catch((e: unknown) => fail(e, 'abandoning a push job failed'));
    }
  };

  // A job holds one of `concurrency` slots while it delivers; once only its outcome write and
  // its completion are left it frees the slot, and stays in hand (at most `maxInHand` are).
  const inFlight = new Set<Promise<void>>();
  const maxInHand = o.concurrency * IN_HAND_PER_SLOT;
  let delivering = 0;
  let wake: (() => void) | undefined;
  const changed = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let failures = 0;
  while (!signal.aborted) {
    try {
      for await (const job of o.queue.receive(signal)) {
        failures = 0;
        delivering++;
        let slot = true;
        const free = () => {
          if (!slot) return;
          slot = false;
          delivering--;
          changed();
        };
        const work: Promise<void> = handle(job, free).finally(() => {
          free();
          inFlight.delete(work);
          changed();
        });
        inFlight.add(work);
        while (delivering >= o.concurrency || inFlight.size >= maxInHand) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      }
      if (!signal.aborted) throw new Error('the push queue stopped handing out jobs');
    } catch (err) {
      if (signal.aborted) break;
      fail(err, 'receiving push jobs failed');
      await sleep(o.clock, backoffDelay(++failures, o.backoff), signal);
    }
  }
  await Promise.all(inFlight);
}
