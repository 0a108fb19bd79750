/**
 * The conformance suite every {@link Broker} runs (`@hubbub/bus/broker/conformance`): Service Bus
 * semantics end to end through `createBus({ broker })`, plus restarts when the broker can be
 * reopened. A broker package runs it from a five-line test file:
 *
 * ```ts
 * import { describeBroker } from '@hubbub/bus/broker/conformance';
 * import { createNatsBroker } from '../src/index.ts';
 * describeBroker({ name: 'nats', create: ({ clock, ids }) => createNatsBroker({ url, clock, ids }) });
 * ```
 * @module
 */
import { type BrokerSuiteOptions, describeBusSuite, type SuiteEnv } from '../conformance.ts';
import type { Broker } from './port.ts';

export type { BrokerSuiteOptions, SuiteEnv };

export function describeBroker<B extends Broker>(options: BrokerSuiteOptions<B>): void {
  describeBusSuite(`Broker conformance: ${options.name}`, options);
}
