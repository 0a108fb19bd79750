/**
 * `@hubbub/bus/nats` — the bus's operations ({@link Broker}) on NATS JetStream, for many stateless
 * nodes sharing queues, topics and subscriptions. `createBus({ url: 'nats://…' })` opens it;
 * `createNatsBroker` gives the broker itself (for `createBus({ broker })`, the HTTP API, AMQP).
 * @module
 */
import { NatsBroker, type NatsBrokerOptions } from './broker.ts';

export { NatsBroker, parseServers } from './broker.ts';
export type { NatsBrokerOptions };

/** Connects, loads the entities and serves; BUS_ENGINE_FAILURE when NATS (with JetStream) is not there. */
export function createNatsBroker(options: NatsBrokerOptions = {}): Promise<NatsBroker> {
  return NatsBroker.open(options);
}
