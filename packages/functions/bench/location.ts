/**
 * One courier location as the function path's benches feed it: the Service Bus message the
 * trigger receives (its system properties; the body travels separately) and the body
 * `forwardLocation` reads.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { BusReceivedMessage } from '../src/extensions/service-bus/port.ts';

/** A received message's properties, as the bus hands one to the trigger. */
export function locationMessage(): BusReceivedMessage {
  return {
    body: undefined,
    messageId: randomUUID(),
    contentType: 'application/json',
    subject: 'driveby',
    deliveryCount: 0,
    sequenceNumber: 123456n,
    enqueuedTime: new Date(),
    lockedUntil: new Date(Date.now() + 30_000),
    lockToken: randomUUID(),
    applicationProperties: {},
  } as unknown as BusReceivedMessage;
}

/** The location's body: an order, its store and courier, a position and the server's estimate. */
export const locationBody = {
  orderid: 'bench-7',
  storeid: 7,
  courierid: '12345.5',
  lat: 47.6,
  longitude: -122.3,
  timestamp: new Date().toISOString(),
  eta: { meters: 1200, seconds: 180 },
};
