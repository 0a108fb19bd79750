/**
 * The durability port of the push service: {@link PushQueue}. Every send is a job on it — the
 * fan-out of a notification, then batches of deliveries, and each retry a new job scheduled after
 * its back-off — so a send survives a restart when the queue does.
 *
 * Where the line sits, and why: the queue only holds JSON jobs, schedules them and hands them out
 * under a peek-lock (complete / abandon), because that is what Hubbub's bus (queue
 * `push-deliveries`) and Service Bus give; retries, expiry and outcome counting read the job
 * itself and live in the service, the same for every queue.
 *
 * On Hubbub's bus (queue `push-deliveries`, duplicate detection on, lock duration of minutes):
 * `enqueue` is `scheduleMessages` with the job as the body, `key` as the message id and the
 * scheduled time (or now), resolving with the sequence number as text; `cancel` is
 * `cancelScheduledMessages` (false on BUS_MESSAGE_NOT_FOUND); `receive` is a peek-lock receiver
 * whose messages' `complete` / `abandon` settle the job (`deliveryCount` from the message).
 * @module
 */

/** A job as it travels on the queue: plain JSON, written and read only by the push service. */
export type PushJobBody = Readonly<Record<string, unknown>>;

export interface EnqueueOptions {
  /** Hand the job out no earlier than this (ms since the epoch). @default now */
  readonly scheduledAt?: number;
  /**
   * Duplicate detection: a job whose key the queue has taken before (within its window) is not
   * added again, and `enqueue` resolves with the first job's id. The service keys the jobs a
   * fan-out or a retry makes, so a fan-out handed out again after a crash queues nothing twice.
   * On the bus: the message id of a queue with duplicate detection on.
   */
  readonly key?: string;
}

/**
 * A job handed out under a lock: settle it exactly once. The lock must hold while the service
 * works on the job — a fan-out to 100,000 installations runs about a second on the memory
 * repository, longer on a database — so a queue with timed locks renews them or locks for minutes.
 */
export interface LockedJob {
  readonly body: PushJobBody;
  /** 1 on the first hand-out; more after an abandon or a lost lock. */
  readonly deliveryCount: number;
  /** Done: the job leaves the queue. */
  complete(): Promise<void>;
  /** Not done: the lock is released and the job is handed out again. */
  abandon(): Promise<void>;
}

/**
 * A queue of push jobs with scheduled enqueue and peek-lock consumption. Failures reject (the
 * service emits them as `error` events and leaves the job to be handed out again).
 */
export interface PushQueue {
  /** `memory`, `bus` … */
  readonly kind: string;
  /** Connects; called once by the service's `start()`. */
  open(): Promise<void>;
  /** Adds a job; resolves with the queue's id for it (what `cancel` takes) once it is stored. */
  enqueue(body: PushJobBody, options?: EnqueueOptions): Promise<string>;
  /** Removes a job not yet handed out (a scheduled one); false when there is none with that id. */
  cancel(id: string): Promise<boolean>;
  /**
   * Hands out jobs, due ones only, as they come, until `signal` aborts (then the iteration ends).
   * The consumer pulls the next job only when it has room, so the iterator is the flow control.
   */
  receive(signal: AbortSignal): AsyncIterable<LockedJob>;
  /** Releases connections. Idempotent. Jobs locked and not settled are handed out again. */
  close(): Promise<void>;
}
