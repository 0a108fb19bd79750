/**
 * Requests and messages a client sends us: transfers on its sender links. Messages go to the
 * broker (a batch atomically) and are settled with its answer; credit is handed back one per
 * settled transfer, so a link never has more than its window of sends in flight. Transfers are
 * bounded before rhea assembles them: a delivery over `maxTransferBytes` or sent without credit
 * poisons the link (its frames are dropped, it is detached with the right condition).
 * @module
 */
import type { Broker } from '@hubbub/bus/broker';
import { decodeTransfer, MessageDecodeError } from './codec.ts';
import { Condition, toAmqpError } from './conditions.ts';
import {
  type AmqpError,
  type AmqpMessage,
  amqpMessage,
  type RheaDelivery,
  type RheaLink,
  type RheaSession,
  type TransferFrame,
} from './rhea.ts';

/** The accepted outcome, one for every disposition (rhea only writes it). */
const ACCEPTED = amqpMessage.accepted().described();
const rejected = (error: AmqpError): unknown => amqpMessage.rejected({ error }).described();

/** Settles an incoming delivery once: rhea writes the disposition unless the client pre-settled it. */
export function settleIncoming(delivery: RheaDelivery, error?: AmqpError): void {
  if (delivery.settled) return;
  delivery.update(true, error === undefined ? ACCEPTED : rejected(error));
}

/** Sends one transfer's messages to an entity, settles it with the broker's answer, then calls `done`. */
export function sendToEntity(
  broker: Broker,
  entity: string,
  delivery: RheaDelivery,
  payload: AmqpMessage | Buffer | undefined,
  format: number | undefined,
  done: () => void,
): void {
  let sending: Promise<unknown>;
  try {
    sending = broker.send(entity, decodeTransfer(payload, format));
  } catch (err) {
    sending = Promise.reject(err);
  }
  sending
    .then(
      () => settleIncoming(delivery),
      (err: unknown) =>
        settleIncoming(
          delivery,
          err instanceof MessageDecodeError ? { condition: err.condition, description: err.message } : toAmqpError(err),
        ),
    )
    .finally(done);
}

export interface TransferGuard {
  /** Largest delivery accepted, in bytes, across its frames. */
  readonly maxTransferBytes: number;
  /** Called once per link that broke a bound; the link is detached with `error`. */
  readonly violated: (link: RheaLink, error: AmqpError) => void;
}

const poisoned = new WeakSet<RheaLink>();
const sizes = new WeakMap<RheaLink, number>();
const lastSize = new WeakMap<RheaLink, number>();

/** The size in bytes of the delivery a link completed last (read in its `message` event). */
export const deliverySize = (link: RheaLink): number => lastSize.get(link) ?? 0;

/** Whether a link broke a transfer bound (its deliveries are ignored). */
export const isPoisoned = (link: RheaLink): boolean => poisoned.has(link);

/**
 * Wraps rhea's transfer handling of one session: counts each delivery's bytes and checks credit
 * before rhea buffers the frame. A violating delivery still runs through rhea (so its delivery
 * ids stay in step) with an empty payload and a non-zero format (so rhea does not decode it).
 */
export function guardTransfers(session: RheaSession, guard: TransferGuard): void {
  const incoming = session.incoming;
  const original = incoming.on_transfer.bind(incoming);
  incoming.on_transfer = (frame: TransferFrame, receiver: RheaLink): void => {
    const first = receiver._incomplete === undefined;
    if (!poisoned.has(receiver) && receiver.is_remote_open()) {
      if (first && receiver.credit <= 0) {
        poisoned.add(receiver);
        guard.violated(receiver, {
          condition: Condition.TransferLimitExceeded,
          description: 'A transfer arrived without link credit.',
        });
      } else {
        const size = (first ? 0 : (sizes.get(receiver) ?? 0)) + (frame.payload?.length ?? 0);
        if (size > guard.maxTransferBytes) {
          poisoned.add(receiver);
          guard.violated(receiver, {
            condition: Condition.MessageSizeExceeded,
            description: `A delivery is larger than ${guard.maxTransferBytes} bytes.`,
          });
        } else {
          sizes.set(receiver, frame.performative.more ? size : 0);
          if (!frame.performative.more) lastSize.set(receiver, size);
        }
      }
    }
    if (poisoned.has(receiver)) {
      if (receiver.credit <= 0) receiver.credit = 1;
      frame.payload = Buffer.alloc(0);
      frame.performative.message_format = 1;
    }
    original(frame, receiver);
  };
}
