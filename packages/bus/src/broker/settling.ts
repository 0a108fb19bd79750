/**
 * Settling peek-locked messages in the in-process broker: complete, abandon, dead-letter, defer
 * and lock renewal, each by lock token after checking the lock still holds (`locks.ts`), and
 * redelivery — what happens to a message whose lock was given up or lost: delivery count + 1,
 * or the dead-letter queue past the entity's maximum delivery count.
 * @module
 */
import type { BusEngine } from '../engine/port.ts';
import { BusError } from '../errors.ts';
import type { PropertyValue, ServiceBusMessage } from '../message.ts';
import { encodeMessage } from '../message-codec.ts';
import type { Catalog } from './catalog.ts';
import type { BrokerContext } from './context.ts';
import type { Held, MessageLocks } from './locks.ts';
import type { Settlement } from './port.ts';
import type { Entry, QueueState } from './queue-state.ts';
import type { SessionLocks } from './sessions.ts';

export class Settling {
  readonly #ctx: BrokerContext;
  readonly #catalog: Catalog;
  readonly #engine: BusEngine;
  readonly #locks: MessageLocks;
  readonly #sessions: SessionLocks;

  constructor(ctx: BrokerContext, locks: MessageLocks, sessions: SessionLocks) {
    this.#ctx = ctx;
    this.#catalog = ctx.catalog;
    this.#engine = ctx.engine;
    this.#locks = locks;
    this.#sessions = sessions;
  }

  /** The locked entry for `lockToken` in `path`; throws BUS_LOCK_LOST / BUS_SESSION_LOCK_LOST. */
  #locked(path: string, lockToken: string): Held {
    this.#ctx.check();
    return this.#locks.held(this.#catalog.receivable(path), lockToken);
  }

  /** Settles a peek-locked message as `settlement` says. */
  settle(path: string, lockToken: string, settlement: Settlement): Promise<void> {
    switch (settlement?.kind) {
      case 'complete':
        return this.#complete(path, lockToken);
      case 'abandon':
        return this.#abandon(path, lockToken, settlement.propertiesToModify);
      case 'deadLetter':
        return this.#deadLetter(path, lockToken, settlement);
      case 'defer':
        return this.#defer(path, lockToken, settlement.propertiesToModify);
      default:
        return Promise.reject(
          new BusError(
            'BUS_INVALID_OPTION',
            "settlement: kind must be 'complete', 'abandon', 'deadLetter' or 'defer'",
            {
              detail: { option: 'settlement' },
            },
          ),
        );
    }
  }

  async #complete(path: string, lockToken: string): Promise<void> {
    const { queue, entry } = this.#locked(path, lockToken);
    this.#locks.unlock(queue, entry);
    queue.remove(entry.msg.seq);
    await this.#ctx.settleWrite([{ op: 'remove', entity: queue.key, seq: entry.msg.seq }]);
  }

  async #abandon(
    path: string,
    lockToken: string,
    properties?: ServiceBusMessage['applicationProperties'],
  ): Promise<void> {
    const { queue, entry } = this.#locked(path, lockToken);
    this.#locks.unlock(queue, entry);
    await this.redeliver(queue, entry, properties);
  }

  /** Returns a message after abandon or lock loss: delivery count + 1, or the DLQ past the maximum. */
  redeliver(queue: QueueState, entry: Entry, properties?: ServiceBusMessage['applicationProperties']): Promise<void> {
    const deliveryCount = entry.msg.deliveryCount + 1;
    const patch = {
      deliveryCount,
      ...(properties === undefined
        ? {}
        : { applicationProperties: { ...entry.msg.applicationProperties, ...checkProps(properties) } }),
    };
    entry.msg = { ...entry.msg, ...patch };
    if (deliveryCount >= queue.settings.maxDeliveryCount && !queue.isDeadLetter) {
      queue.remove(entry.msg.seq);
      return this.#ctx.deadLetter(
        queue,
        entry.msg,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${queue.settings.maxDeliveryCount} delivery attempts.`,
      );
    }
    if (entry.msg.state === 'active') queue.makeAvailable(entry);
    return this.#engine.write([{ op: 'update', entity: queue.key, seq: entry.msg.seq, patch }]);
  }

  async #deadLetter(
    path: string,
    lockToken: string,
    options: Extract<Settlement, { kind: 'deadLetter' }>,
  ): Promise<void> {
    this.#ctx.check();
    const queue = this.#catalog.receivable(path);
    if (queue.isDeadLetter) {
      throw new BusError('BUS_INVALID_OPERATION', `Cannot dead-letter a message in ${queue.path}.`, {
        detail: { entity: queue.path },
      });
    }
    if (options.reason !== undefined && (typeof options.reason !== 'string' || options.reason.length > 4096)) {
      throw new BusError('BUS_INVALID_OPTION', 'reason: must be a string of at most 4096 characters', {
        detail: { option: 'reason' },
      });
    }
    const held = this.#locked(path, lockToken);
    this.#locks.unlock(held.queue, held.entry);
    held.queue.remove(held.entry.msg.seq);
    const msg =
      options.propertiesToModify === undefined
        ? held.entry.msg
        : {
            ...held.entry.msg,
            applicationProperties: {
              ...held.entry.msg.applicationProperties,
              ...checkProps(options.propertiesToModify),
            },
          };
    await this.#ctx.deadLetter(held.queue, msg, options.reason ?? '', options.errorDescription);
  }

  async #defer(
    path: string,
    lockToken: string,
    properties?: ServiceBusMessage['applicationProperties'],
  ): Promise<void> {
    const { queue, entry } = this.#locked(path, lockToken);
    this.#locks.unlock(queue, entry);
    const patch = {
      state: 'deferred' as const,
      ...(properties === undefined
        ? {}
        : { applicationProperties: { ...entry.msg.applicationProperties, ...checkProps(properties) } }),
    };
    entry.msg = { ...entry.msg, ...patch };
    await this.#engine.write([{ op: 'update', entity: queue.key, seq: entry.msg.seq, patch }]);
  }

  /** Extends a message lock by the entity's lock duration; resolves with the new expiry. */
  async renewLock(path: string, lockToken: string): Promise<Date> {
    const { queue, entry } = this.#locked(path, lockToken);
    if (entry.sessionLock !== undefined) {
      return new Date(await this.#sessions.renew(path, entry.sessionLock));
    }
    return this.#locks.renew(queue, entry, lockToken);
  }
}

function checkProps(props: ServiceBusMessage['applicationProperties']): Record<string, PropertyValue> {
  return encodeMessage({ body: null, applicationProperties: props ?? {} }).applicationProperties ?? {};
}
