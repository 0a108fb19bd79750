/**
 * `@hubbub/bus/nats` — the bus's operations ({@link Broker}) on NATS JetStream, for many stateless
 * nodes sharing queues, topics and subscriptions. `createBus({ url: 'nats://…' })` opens it;
 * `createNatsBroker` gives the broker itself (for `createBus({ broker })`, the HTTP API, AMQP).
 * @module
 */
import { BusError } from '../errors.ts';
import { NatsBroker, type NatsBrokerOptions } from './broker.ts';
import { parseServers } from './url.ts';

export { NatsBroker } from './broker.ts';
export { parseServers } from './url.ts';
export type { NatsBrokerOptions };

/** Connects, loads the entities and serves; BUS_ENGINE_FAILURE when NATS (with JetStream) is not there. */
export function createNatsBroker(options: NatsBrokerOptions = {}): Promise<NatsBroker> {
  return NatsBroker.open(options);
}

/**
 * Broker options from a bus URL: `nats://host:4222[,host2:4222…][?namespace=NAME&replicas=N]`.
 * BUS_INVALID_OPTION for anything else.
 */
export function natsOptionsFromUrl(url: string): NatsBrokerOptions {
  parseServers(url);
  const q = url.indexOf('?');
  const out: NatsBrokerOptions = { url: q < 0 ? url : url.slice(0, q) };
  if (q < 0) return out;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
    if (k === 'namespace') out.namespace = v;
    else if (k === 'replicas') out.replicas = Number(v);
    else {
      throw new BusError(
        'BUS_INVALID_OPTION',
        `url: unknown NATS bus option ${JSON.stringify(k)} (namespace, replicas)`,
        {
          detail: { option: 'url' },
        },
      );
    }
  }
  return out;
}
