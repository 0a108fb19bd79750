/**
 * The conformance suite every {@link BusEngine} runs (`@hubbub/bus/engine/conformance`): the
 * bus's suite over the in-process broker on the engine, plus restarts when the engine can be
 * reopened and compaction. An engine package runs it from a five-line test file:
 *
 * ```ts
 * import { createMemoryEngine } from '@hubbub/bus/engine';
 * import { describeBusEngine } from '@hubbub/bus/engine/conformance';
 * describeBusEngine({ name: 'memory', create: () => createMemoryEngine(), reopen: (e) => e });
 * ```
 * @module
 */
import { createLocalBroker } from '../broker/local-broker.ts';
import type { Broker } from '../broker/port.ts';
import { describeBusSuite, type SuiteEnv } from '../conformance.ts';
import type { BusEngine } from './port.ts';

export interface BusEngineSuiteOptions<E extends BusEngine> {
  name: string;
  /** A fresh, empty engine per test. */
  create: () => E | Promise<E>;
  /** An engine over the same storage as a closed one (restart). Omit when the engine cannot restart. */
  reopen?: (closed: E) => E | Promise<E>;
  /** Test names to skip, each with its reason. */
  skip?: Record<string, string>;
}

export function describeBusEngine<E extends BusEngine>(options: BusEngineSuiteOptions<E>): void {
  const { reopen } = options;
  const engines = new WeakMap<Broker, E>();
  const open = async (engine: E, env: SuiteEnv): Promise<Broker> => {
    const broker = await createLocalBroker({ engine, ...env });
    engines.set(broker, engine);
    return broker;
  };
  describeBusSuite(`BusEngine conformance: ${options.name}`, {
    name: options.name,
    create: async (env) => open(await options.create(), env),
    ...(reopen === undefined ? {} : { reopen: async (closed, env) => open(await reopen(engines.get(closed)!), env) }),
    compact: (broker) => engines.get(broker)!.compact(),
    ...(options.skip === undefined ? {} : { skip: options.skip }),
  });
}
