/**
 * Where a receiver reads from: a path (`q`, `t/Subscriptions/s`, `q/$DeadLetterQueue`) or the
 * Azure SDK's object form.
 * @module
 */
import { BusError } from './errors.ts';

/** Where a receiver reads from. */
export type EntityAddress =
  | string
  | { queue: string; subQueue?: 'deadLetter' }
  | { topic: string; subscription: string; subQueue?: 'deadLetter' };

/** Resolves an {@link EntityAddress} to a receivable path. */
export function entityPath(address: EntityAddress): string {
  if (typeof address === 'string') return address;
  if (address === null || typeof address !== 'object') {
    throw new BusError(
      'BUS_INVALID_ENTITY_NAME',
      'An entity address must be a path or {queue} / {topic, subscription}.',
    );
  }
  const base = 'queue' in address ? address.queue : `${address.topic}/Subscriptions/${address.subscription}`;
  return address.subQueue === 'deadLetter' ? `${base}/$DeadLetterQueue` : base;
}
