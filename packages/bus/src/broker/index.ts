/**
 * `@hubbub/bus/broker` — the operations port the bus runs on ({@link Broker}: send, receive,
 * settle, sessions, admin) and its in-process implementation. Pass a broker to
 * `createBus({ broker })`; implement {@link Broker} (a NATS JetStream broker for stateless nodes
 * competing on one queue, say) and run `describeBroker` (`@hubbub/bus/broker/conformance`) on it.
 * See `port.ts` for where this line sits.
 * @module
 */
export { createLocalBroker, type LocalBrokerOptions, type Visibility } from './local-broker.ts';
export type {
  Broker,
  BrokerSessions,
  BusEvents,
  Delivery,
  EntityInfo,
  PeekRange,
  ReceiveMode,
  ReceiveOptions,
  SessionLock,
  Settlement,
} from './port.ts';
