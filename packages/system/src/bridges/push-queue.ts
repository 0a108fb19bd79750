/**
 * The push service's durability port ({@link PushQueue}) on Hubbub's bus: every push job is a
 * message on the queue `push-deliveries`, so a send accepted before a crash or a restart is still
 * delivered after it (the file engine acknowledges a message only once it is on disk).
 *
 * The mapping (see `@hubbub/push`'s `queue.ts`): `enqueue` is `scheduleMessages` at the job's
 * time (or now) with the job as the JSON body and its key as the message id, on a queue with
 * duplicate detection on — the bus drops a repeated id and answers sequence number 0, and the
 * first job's id comes from the keys this process has seen (a key taken before a restart answers
 * `dup:{key}`, which no cancel matches: keyed jobs are never cancelled). `cancel` is
 * `cancelScheduledMessages`; `receive` is a peek-lock receiver taking up to `receiveBatch`
 * messages a time and handing them out one by one, the lock renewed while the service holds the
 * job (a fan-out to many installations outlives a lock).
 * @module
 */
import { type Bus, isBusError, type Receiver, type Sender, type ServiceBusReceivedMessage } from '@hubbub/bus';
import type { EnqueueOptions, LockedJob, PushJobBody, PushQueue } from '@hubbub/push';

export interface BusPushQueueOptions {
  /** The queue; created when missing. @default 'push-deliveries' */
  queue?: string;
  /** The queue's lock duration when this creates it, in ms (Service Bus allows up to 5 minutes). @default 300_000 */
  lockDurationMs?: number;
  /** Job keys remembered to answer a duplicate with the first job's id. @default 100_000 */
  keyHistory?: number;
  /** Jobs taken from the bus in one receive at most (locked until handed out and settled). @default 16 */
  receiveBatch?: number;
}

export const PUSH_QUEUE = 'push-deliveries';

/**
 * The queue as the service's port. The bus is the caller's (opened and closed by it); `close()`
 * closes only the sender and receivers made here.
 */
export function createBusPushQueue(bus: Bus, options: BusPushQueueOptions = {}): PushQueue {
  const name = options.queue ?? PUSH_QUEUE;
  const lockDurationMs = options.lockDurationMs ?? 300_000;
  const keyHistory = options.keyHistory ?? 100_000;
  const receiveBatch = options.receiveBatch ?? 16;
  const keys = new Map<string, string>();
  const receivers = new Set<Receiver>();
  let sender: Sender | undefined;
  let closed = false;

  const remember = (key: string, id: string) => {
    keys.set(key, id);
    if (keys.size > keyHistory) keys.delete(keys.keys().next().value as string);
  };

  const lockedJob = (message: ServiceBusReceivedMessage): LockedJob => {
    // Renew at a third of the lock, so a slow job keeps its lock; stops when settled.
    const lockedFor = Math.max(1_000, (message.lockedUntil?.getTime() ?? Date.now() + lockDurationMs) - Date.now());
    const renewal = setInterval(
      () => {
        message.renewLock().catch(() => clearInterval(renewal));
      },
      Math.floor(lockedFor / 3),
    );
    renewal.unref();
    const settle = async (how: 'complete' | 'abandon') => {
      clearInterval(renewal);
      await (how === 'complete' ? message.complete() : message.abandon());
    };
    return {
      body: message.body as PushJobBody,
      deliveryCount: message.deliveryCount + 1,
      complete: () => settle('complete'),
      abandon: () => settle('abandon'),
    };
  };

  return {
    kind: 'bus',

    async open() {
      if (!(await bus.admin.queueExists(name))) {
        try {
          await bus.admin.createQueue(name, {
            lockDuration: lockDurationMs,
            // The service drops a job itself after 10 tries; the bus must not dead-letter it first.
            maxDeliveryCount: 1_000,
            requiresDuplicateDetection: true,
            duplicateDetectionHistoryTimeWindow: 600_000,
          });
        } catch (err) {
          if (!(isBusError(err) && err.code === 'BUS_ENTITY_EXISTS')) throw err;
        }
      }
      sender = bus.createSender(name);
    },

    async enqueue(body: PushJobBody, enqueueOptions: EnqueueOptions = {}) {
      sender ??= bus.createSender(name);
      const { key, scheduledAt } = enqueueOptions;
      const at = new Date(scheduledAt ?? Date.now());
      const [seq] = await sender.scheduleMessages(
        { body, contentType: 'application/json', ...(key === undefined ? {} : { messageId: key }) },
        at,
      );
      if (seq === undefined || seq === 0n) {
        // A duplicate: the bus kept the first job.
        return (key === undefined ? undefined : keys.get(key)) ?? `dup:${key ?? ''}`;
      }
      const id = seq.toString();
      if (key !== undefined) remember(key, id);
      return id;
    },

    async cancel(id: string) {
      if (!/^[1-9]\d{0,18}$/.test(id)) return false;
      sender ??= bus.createSender(name);
      try {
        await sender.cancelScheduledMessages(BigInt(id));
        return true;
      } catch (err) {
        if (isBusError(err) && err.code === 'BUS_MESSAGE_NOT_FOUND') return false;
        throw err;
      }
    },

    async *receive(signal: AbortSignal) {
      if (closed || signal.aborted) return;
      const receiver = bus.createReceiver(name, { receiveMode: 'peekLock' });
      receivers.add(receiver);
      // Up to `receiveBatch` jobs come in one receive (what is there, not waiting for more); they
      // are handed out one at a time as the service has room, and abandoned if it stops first.
      let unread: ServiceBusReceivedMessage[] = [];
      try {
        while (!signal.aborted && !closed) {
          try {
            unread = await receiver.receiveMessages(receiveBatch, { maxWaitTimeMs: 60_000, abortSignal: signal });
          } catch (err) {
            if (signal.aborted || closed || (isBusError(err) && err.code === 'BUS_CLOSED')) return;
            throw err;
          }
          while (unread.length > 0 && !signal.aborted && !closed) yield lockedJob(unread.shift()!);
        }
      } finally {
        receivers.delete(receiver);
        await Promise.allSettled(unread.map((m) => m.abandon()));
        await receiver.close();
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...receivers].map((r) => r.close()));
      await sender?.close();
    },
  };
}
